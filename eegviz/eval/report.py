"""`eegviz eval`: decode the test split, generate, and score as NeuroImagen does, with the paper's ablation.

Ablation (same decoder, same generator): saliency only (caption embedding zeroed), label only (text-to-image:
strength 1, the saliency map is drowned in noise), label + saliency (the full model). Plus a shuffled-label
control: the class decoder's accuracy when the test labels are permuted must sit at chance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eegviz.decoders.text import make_text_encoder
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.errors import EegvizError
from eegviz.eval.classifier import load_classifier
from eegviz.eval.metrics import inception_score, nway_topk, pixcorr, ssim_np
from eegviz.generators.embedded import EmbeddedGenerator
from eegviz.stream.preprocess import normalise


def decode_split(ds, dec: TwoBranchDecoder, idx: np.ndarray, batch: int = 64) -> dict[str, np.ndarray]:
    """Run the decoder over trials `idx`: class scores, saliency maps (N,32,32,3) and caption embeddings."""
    x = normalise(ds.eeg[idx], dec.spec)
    parts = {k: [] for k in ("scores", "saliency", "embedding")}
    for s in range(0, len(idx), batch):
        o = dec.forward(x[s : s + batch])
        for k in parts:
            parts[k].append(o[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def generate_all(gen: EmbeddedGenerator, sal: np.ndarray, emb: np.ndarray, batch: int = 64, **settings) -> np.ndarray:
    """Generate for every trial (seed = batch start, so runs are reproducible); `settings` override the
    generator's steps/strength/guidance for this call only."""
    saved = {k: getattr(gen, k) for k in settings}
    for k, v in settings.items():
        setattr(gen, k, v)
    try:
        return np.concatenate([gen.generate(sal[i : i + batch], emb[i : i + batch], seed=i)
                               for i in range(0, len(sal), batch)])
    finally:
        for k, v in saved.items():
            setattr(gen, k, v)


def tune_sampling(ds, dec: TwoBranchDecoder, gen: EmbeddedGenerator, clf, steps=(2, 3, 4, 6, 8),
                  strengths=(0.7, 0.8, 0.9), guidances=(3.0, 5.0, 7.0, 9.0)) -> dict:
    """Pick sampler steps, img2img strength and guidance on the VALIDATION split (never test).

    Eligible settings keep the saliency map doing its job: the reconstructions' SSIM to the stimulus must beat
    text-to-image (strength 1, same steps and guidance), which is NeuroImagen's reason for the pixel branch;
    high strength and guidance can buy class accuracy by drowning the map. Among those: the fewest steps whose
    best classifier top-1 lies within one standard error of the best (steps cost latency; 400 val trials give
    SE ~0.025, so smaller gains are noise), then the best top-1 at that step count, SSIM breaking ties.
    Sets them on `gen` and returns the grid with the choice.
    """
    from eegviz.train.decoder import stimulus_targets

    va = ds.subset("val")
    out = decode_split(ds, dec, va)
    gt = stimulus_targets(ds.image_ids[va], 32, ds.image_paths).transpose(0, 2, 3, 1)
    y = ds.labels[va]
    size, gen.out_size = gen.out_size, 32

    def score(**settings) -> tuple[float, float]:
        imgs = generate_all(gen, out["saliency"], out["embedding"], **settings)
        return (float((clf.logits_uint8(imgs).argmax(1) == y).mean()),
                ssim_np(imgs.astype(np.float32) / 255, gt))

    grid, text_only = [], {}
    bar = tqdm(total=len(steps) * len(guidances) * (len(strengths) + 1), desc="sampler grid (validation)",
               unit="setting", disable=None, leave=False)
    for n in steps:
        for g in guidances:
            text_only[(n, g)] = score(steps=n, strength=1.0, guidance=g)[1]
            bar.update(1)
            for st in strengths:
                acc, ss = score(steps=n, strength=st, guidance=g)
                bar.update(1)
                grid.append({"steps": n, "strength": st, "guidance": g, "val_top1": acc, "val_ssim": ss,
                             "val_ssim_text_only": text_only[(n, g)], "eligible": ss > text_only[(n, g)]})
    bar.close()
    gen.out_size = size
    result = choose_sampling(grid, len(va))
    best = result["chosen"]
    gen.steps, gen.strength, gen.guidance = best["steps"], best["strength"], best["guidance"]
    return result


def choose_sampling(grid: list[dict], n_val: int) -> dict:
    """tune_sampling's rule on a scored grid (see there); pure, so it is tested on its own."""
    pool = [r for r in grid if r["eligible"]] or grid
    top = max(r["val_top1"] for r in pool)
    se = float(np.sqrt(max(top * (1 - top), 1e-12) / max(n_val, 1)))
    fewest = min(r["steps"] for r in pool if r["val_top1"] >= top - se)
    best = max((r for r in pool if r["steps"] == fewest), key=lambda r: (round(r["val_top1"], 3), r["val_ssim"]))
    return {"chosen": best, "rule": "saliency must beat text-only SSIM; then fewest steps within one SE of the "
                                    "best val top-1; then best top-1", "best_val_top1": top, "se": se, "grid": grid}


def evaluate(data: Path, model: Path, out: Path, batch: int = 64, controls: bool = True,
             controls_highpass: float = 1.0, data_opts: dict | None = None, generator=None,
             classifier: str | None = None, log=print) -> dict:
    """Score the model on the test split of any dataset eegviz reads (metrics.json, plots).

    Decoder metrics and the confound controls (eegviz.eval.controls: a linear probe refit per control, about
    a minute on 2 cores) apply to every dataset. Reconstruction metrics need three things: the true stimuli
    (rendered for the synthetic world, or the dataset's images), a generator (`generator`, else the model's
    embedded one) and, for N-way top-k and IS, a classifier (`classifier`: a transformers image classifier,
    else the model's stimulus classifier). What is missing is reported as skipped, with the reason.
    """
    from eegviz.data.loaders import open_dataset
    from eegviz.world.stimuli import renderable

    out.mkdir(parents=True, exist_ok=True)
    ds = open_dataset(data, **(data_opts or {}))
    dec = TwoBranchDecoder.load(model)
    _check_compatible(ds, dec, model)
    te = ds.subset("test")
    if not len(te):
        raise EegvizError(f"{data} has no test split; nothing to evaluate")
    y = ds.labels[te]
    o = decode_split(ds, dec, te, batch)
    scores, sal, emb = o["scores"], o["saliency"], o["embedding"]
    n_classes = len(ds.classes)
    text = make_text_encoder(dec.hparams.get("text_encoder", "hash"), dec.hparams["n_tokens"], dec.hparams["text_dim"])
    true_emb = text.encode([f"an image of a {ds.classes[c]}" for c in y]).reshape(len(y), -1)
    cos = (emb.reshape(len(y), -1) * true_emb).sum(1) / (
        np.linalg.norm(emb.reshape(len(y), -1), axis=1) * np.linalg.norm(true_emb, axis=1) + 1e-9)
    rng = np.random.default_rng(0)
    metrics = {
        "n_test_trials": int(len(te)), "n_classes": n_classes, "chance_top1": 1.0 / n_classes,
        "eeg_class_top1": float((scores.argmax(1) == y).mean()),
        "eeg_class_top1_shuffled_labels": float((scores.argmax(1) == rng.permutation(y)).mean()),
        "embedding_cosine": float(cos.mean()),
    }
    gt = None
    if renderable(ds.image_ids) or ds.image_paths:
        from eegviz.train.decoder import stimulus_targets

        gt = stimulus_targets(ds.image_ids[te], 32, ds.image_paths).transpose(0, 2, 3, 1)
        metrics.update(saliency_ssim=ssim_np(sal, gt), saliency_pixcorr=pixcorr(sal, gt))
    if generator is None and (model / "generator.safetensors").is_file() and dec.hparams.get(
            "text_encoder", "hash") == "hash":
        generator = EmbeddedGenerator(model, out_size=32)  # its native resolution; display upsampling adds nothing
    if gt is None:
        metrics["reconstruction"] = {"skipped": "no stimulus images: the stimuli are not synthetic-world images "
                                                "and the dataset has none (pass --images-dir)"}
    elif generator is None:
        metrics["reconstruction"] = {"skipped": "no generator: the model has no embedded generator for its "
                                                "caption space; pass --generator diffusers --sd-model MODEL"}
    else:
        clf = None
        if classifier:
            from eegviz.eval.classifier import HFImageClassifier

            clf = HFImageClassifier(classifier)
        elif (model / "classifier.safetensors").is_file():
            clf = load_classifier(model / "classifier.safetensors", ds.classes)
        metrics.update(_reconstruction_metrics(ds, out, te, gt, sal, emb, generator, clf, batch))
    if controls:
        from eegviz.eval.controls import plot_controls, run_controls

        metrics["controls"] = run_controls(ds, dec.spec, highpass_hz=controls_highpass,
                                           decoder_top1=metrics["eeg_class_top1"], log=log)
        plot_controls(metrics["controls"], out / "controls.png")
    metrics["headline"] = {"eeg_class_top1": metrics["eeg_class_top1"], "chance": 1.0 / n_classes}
    if "ablation" in metrics:
        best = metrics["ablation"]["label+saliency"]
        metrics["headline"]["reconstruction_ssim"] = best["ssim"]
        if "n_way" in metrics:
            metrics["headline"][f"reconstruction_{metrics['n_way']}way_top1"] = best[f"{metrics['n_way']}way_top1"]
            metrics["headline"]["reconstruction_is"] = best["is"]["mean"]
    if controls:
        metrics["headline"]["controls"] = metrics["controls"]["checks"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def _check_compatible(ds, dec: TwoBranchDecoder, model: Path) -> None:
    """The decoder can only score data laid out as it was trained: same classes, channels, rate and window."""
    spec = dec.spec
    if list(ds.classes) != list(dec.class_names):
        raise EegvizError(f"the model in {model} was trained on {len(dec.class_names)} classes that differ from "
                          f"the dataset's {len(ds.classes)}; evaluate it on data with the same classes")
    if tuple(ds.ch_names) != tuple(spec.ch_names) or ds.sfreq != spec.sfreq or ds.eeg.shape[-1] != spec.n_times:
        raise EegvizError(f"the dataset's epochs ({len(ds.ch_names)} ch, {ds.sfreq:g} Hz, {ds.eeg.shape[-1]} "
                          f"samples) differ from the model's ({len(spec.ch_names)} ch, {spec.sfreq:g} Hz, "
                          f"{spec.n_times} samples)")


def _reconstruction_metrics(ds, out: Path, te, gt, sal, emb, gen, clf, batch: int) -> dict:
    """NeuroImagen's image metrics and ablation on the test trials; also writes reconstructions.png.

    `gt`: the test stimuli as (N, H, W, 3) floats; loaded again only if the generator draws at another size.

    The classifier's target for a trial is the dataset label when the classifier knows the dataset's classes
    (the stimulus classifier), else the class it gives the true stimulus (an ImageNet classifier on ImageNet
    stimuli: the paper's protocol, which needs no mapping between label sets).
    """
    from eegviz.train.decoder import stimulus_targets

    # label_only is text-to-image: strength 1 starts from pure noise, so the saliency map cannot leak in.
    variants = {
        "label+saliency": (sal, emb, {}),
        "label_only": (sal, emb, {"strength": 1.0}),
        "saliency_only": (sal, np.zeros_like(emb), {}),
    }
    images = {name: generate_all(gen, s_in, e_in, batch, **settings)
              for name, (s_in, e_in, settings) in variants.items()}
    size = images["label+saliency"].shape[1]
    if gt.shape[1] != size:
        gt = stimulus_targets(ds.image_ids[te], size, ds.image_paths).transpose(0, 2, 3, 1)
    gt_u8 = (gt * 255 + 0.5).astype(np.uint8)
    y = ds.labels[te]
    result = {"image_size": int(size), "generator": getattr(gen, "name", type(gen).__name__),
              "sampling": {k: getattr(gen, k) for k in ("steps", "strength", "guidance") if hasattr(gen, k)}}
    if clf is not None:
        gt_logits = clf.logits_uint8(gt_u8)
        same = list(clf.classes) == list(ds.classes)
        target = y if same else gt_logits.argmax(1)
        n_way = min(50, len(clf.classes))
        result["classifier"] = {
            "name": clf.name, "n_classes": len(clf.classes),
            "target": "dataset label" if same else "the classifier's top-1 on the true stimulus"}
        if same:
            result["classifier_top1_on_true_stimuli"] = float((gt_logits.argmax(1) == y).mean())
        result["n_way"] = n_way
        result["is_true_stimuli"] = inception_score(gt_logits)
    results = {}
    for name, imgs in images.items():
        f = imgs.astype(np.float32) / 255
        r = {"ssim": ssim_np(f, gt), "pixcorr": pixcorr(f, gt)}
        if clf is not None:
            logits = clf.logits_uint8(imgs)
            # full-set N-way (N = all classes) is plain top-1: one pass is exact, no sampling of distractors
            r[f"{n_way}way_top1"] = nway_topk(logits, target, n_way, 1, trials=1 if n_way == len(clf.classes) else 20)
            for n in (10, 5):
                if n < n_way:
                    r[f"{n}way_top1"] = nway_topk(logits, target, n, 1)
            r["is"] = inception_score(logits)
        results[name] = r
    if clf is None:
        result["classifier"] = {"skipped": "no classifier: N-way top-k and IS need --classifier (a transformers "
                                           "image classifier) or a model with a stimulus classifier"}
    _plot(out, gt, sal, images, y, ds.classes)
    result["ablation"] = results
    return result


def _plot(out: Path, gt, sal, images, y, classes, n: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("stimulus", gt), ("saliency", sal)] + [(k, v) for k, v in images.items()]
    pick = np.linspace(0, len(y) - 1, n).astype(int)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.2, len(rows) * 1.3))
    for r, (name, arr) in enumerate(rows):
        for c, i in enumerate(pick):
            ax = axes[r, c]
            ax.imshow(arr[i])
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=7)
            if r == 0:
                ax.set_title(classes[y[i]], fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "reconstructions.png", dpi=100)
    plt.close(fig)
