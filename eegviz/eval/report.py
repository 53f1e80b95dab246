"""`eegviz eval`: decode the test split, generate, and score as NeuroImagen does, with the paper's ablation.

Ablation (same decoder, same generator): saliency only (caption embedding zeroed), label only (img2img from a
flat grey image instead of the saliency map), label + saliency (the full model). Plus a shuffled-label
control: the class decoder's accuracy when the test labels are permuted must sit at chance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eegviz.data.synthetic import load_dataset
from eegviz.decoders.text import HashTextEncoder
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.eval.classifier import load_classifier
from eegviz.eval.metrics import nway_topk, pixcorr, ssim_np
from eegviz.generators.embedded import EmbeddedGenerator
from eegviz.stream.preprocess import normalise


def evaluate(data: Path, model: Path, out: Path, batch: int = 64) -> dict:
    from eegviz.train.decoder import stimulus_targets

    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(data)
    dec = TwoBranchDecoder.load(model)
    gen = EmbeddedGenerator(model)
    clf = load_classifier(model / "classifier.safetensors", len(ds.classes))
    te = ds.subset("test")
    x = normalise(ds.eeg[te], dec.spec)
    y = ds.labels[te]
    gt = stimulus_targets(ds.image_ids[te], 32).transpose(0, 2, 3, 1)
    parts = {k: [] for k in ("scores", "saliency", "embedding")}
    for s in range(0, len(te), batch):
        o = dec.forward(x[s : s + batch])
        parts["scores"].append(o["scores"])
        parts["saliency"].append(o["saliency"])
        parts["embedding"].append(o["embedding"])
    scores, sal, emb = (np.concatenate(parts[k]) for k in ("scores", "saliency", "embedding"))
    gen.out_size = 32
    variants = {
        "label+saliency": (sal, emb),
        "label_only": (np.full_like(sal, 0.5), emb),
        "saliency_only": (sal, np.zeros_like(emb)),
    }
    n_classes = len(ds.classes)
    results = {}
    images = {}
    for name, (s_in, e_in) in variants.items():
        imgs = np.concatenate([gen.generate(s_in[i : i + batch], e_in[i : i + batch], seed=i)
                               for i in range(0, len(te), batch)])
        images[name] = imgs
        logits = clf.logits_uint8(imgs)
        f = imgs.astype(np.float32) / 255
        results[name] = {
            f"{n_classes}way_top1": nway_topk(logits, y, n_classes, 1, trials=1),
            "50way_top1": nway_topk(logits, y, 50, 1, trials=1),
            "10way_top1": nway_topk(logits, y, 10, 1),
            "ssim": ssim_np(f, gt), "pixcorr": pixcorr(f, gt),
        }
    text = HashTextEncoder()
    true_emb = text.encode([f"an image of a {ds.classes[c]}" for c in y]).reshape(len(y), -1)
    cos = (emb.reshape(len(y), -1) * true_emb).sum(1) / (
        np.linalg.norm(emb.reshape(len(y), -1), axis=1) * np.linalg.norm(true_emb, axis=1) + 1e-9)
    rng = np.random.default_rng(0)
    gt_logits = clf.logits_uint8((gt * 255).astype(np.uint8))
    metrics = {
        "n_test_trials": int(len(te)), "n_classes": n_classes, "chance_top1": 1.0 / n_classes,
        "eeg_class_top1": float((scores.argmax(1) == y).mean()),
        "eeg_class_top1_shuffled_labels": float((scores.argmax(1) == rng.permutation(y)).mean()),
        "saliency_ssim": ssim_np(sal, gt), "saliency_pixcorr": pixcorr(sal, gt),
        "embedding_cosine": float(cos.mean()),
        "classifier_top1_on_true_stimuli": float((gt_logits.argmax(1) == y).mean()),
        "ablation": results,
    }
    metrics["headline"] = {
        "reconstruction_top1": results["label+saliency"][f"{n_classes}way_top1"],
        "chance": 1.0 / n_classes, "eeg_class_top1": metrics["eeg_class_top1"],
        "reconstruction_ssim": results["label+saliency"]["ssim"],
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    _plot(out, gt, sal, images, y, ds.classes)
    return metrics


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


def write_model_card(model_dir: Path, training: dict, metrics: dict) -> None:
    a = metrics["ablation"]
    n = metrics["n_classes"]
    rows = "\n".join(
        f"| {k} | {v[f'{n}way_top1']:.3f} | {v['10way_top1']:.3f} | {v['ssim']:.3f} | {v['pixcorr']:.3f} |"
        for k, v in a.items())
    text = f"""# synthetic-default: eegviz's embedded model

Trained in-house on eegviz's synthetic world (procedural stimuli + MNE-forward-model EEG simulator); it has
never seen real EEG. Use it to run the pipeline offline; train on real data for real use.

## Parts
- decoder: triplet-trained EEG encoder, conditional saliency GAN (hinge + mode seeking + SSIM), EEG -> caption
  embedding regressor (L2) - files encoder/saliency/semantic/prototypes.safetensors, decoder.json
- generator: few-step x0-prediction pixel diffusion (32x32, 2 DDIM steps, img2img strength 0.6) - generator.*
- classifier.safetensors: stimulus classifier used by `eegviz eval` to score reconstructions

## Data
`{training['data']}`: 40 classes x 50 images, split by image 80/10/10; 2 simulated subjects, single trials,
128 channels at 250 Hz, window -0.1..0.6 s.

## Test-split results (single trial, held-out images)
- EEG class decoding ({n}-way top-1): {metrics['eeg_class_top1']:.3f} (shuffled-label control
  {metrics['eeg_class_top1_shuffled_labels']:.3f}, chance {metrics['chance_top1']:.3f})
- saliency SSIM {metrics['saliency_ssim']:.3f}; embedding cosine {metrics['embedding_cosine']:.3f}
- classifier on the true stimuli: {metrics['classifier_top1_on_true_stimuli']:.3f}

| variant | {n}-way top-1 | 10-way top-1 | SSIM | PixCorr |
|---|---|---|---|---|
{rows}

## Retrain
    eegviz simulate --out data/synth --subjects 2 --images 50
    eegviz train --data data/synth --out models/synthetic-default --epochs {training['epochs']} \\
        --gan-steps {training['gan_steps']} --refine-steps {training.get('refine_steps', 3000)} \\
        --gen-steps {training['gen_steps']}

Training took {training['total_train_seconds']:.0f} s on {training['threads']} CPU threads.
"""
    (model_dir / "README.md").write_text(text)
