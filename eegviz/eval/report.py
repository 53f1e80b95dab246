"""`eegviz eval`: decode the test split, generate, and score as NeuroImagen does, with the paper's ablation.

Ablation (same decoder, same generator): saliency only (conditioned on the empty caption, the unconditional
input the generator was trained with), label only (text-to-image:
strength 1, the saliency map is drowned in noise), label + saliency (the full model).

Generation controls, scored with the same metrics: the saliency maps permuted across trials (same embeddings),
the saliency replaced by a flat grey image, the embeddings permuted; and ceilings: text-to-image from the
TRUE caption's embedding, the decoded maps with the true caption, the true stimulus as the map. The
object-region metrics (eegviz.eval.metrics) of decoded maps vs permuted maps come with a paired bootstrap
interval: the pixel branch earns its place only if that difference is positive.

Zero-shot splits (THINGS-EEG2: the test concepts have no training trials, so their class prototypes do not
exist) are scored with that dataset's own protocol instead of class decoding: the test trials of each image
are averaged (per subject) and the decoder's caption embedding retrieves the image's concept among all test
concepts' caption embeddings by cosine similarity (top-1 / top-5, as NICE and ATM report).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from eegviz.data.seen_images import FILE as SEEN_FILE
from eegviz.data.seen_images import check_unseen, new_subjects_line, other_world_line, seen_line
from eegviz.decoders.text import make_text_encoder
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.errors import EegvizError, about
from eegviz.modelio import interrupted_training
from eegviz.eval.classifier import has_classifier, load_classifier
from eegviz.eval.metrics import (flat_ssim_baselines, inception_score, json_safe, nway_topk, object_trials,
                                 paired_bootstrap_diff, pixcorr, ssim_np, summarise_objects, topk_hit)
from eegviz.generators.base import Generator, check_images, to_uint8
from eegviz.pipeline import check_caption_width, check_latent_start, foreign_latents
from eegviz.stream.preprocess import prepare_epochs

log = logging.getLogger(__name__)


def decode_split(ds, dec: TwoBranchDecoder, idx: np.ndarray, batch: int = 64) -> dict[str, np.ndarray]:
    """Run the decoder over trials `idx`: class scores, saliency maps (N,32,32,3) and caption embeddings."""
    return decode_eeg(ds.eeg[idx], dec, batch)


def decode_eeg(eeg: np.ndarray, dec, batch: int = 64) -> dict[str, np.ndarray]:
    """Run the decoder over raw (N, ch, t) epochs in volts: scores, saliency and embedding always; the shape
    feature and attributes where the decoder gives them (the two-branch decoder does: the true-place diagnostic
    redraws its maps from them)."""
    x = prepare_epochs(eeg, dec.spec)
    parts = {k: [] for k in ("scores", "saliency", "embedding")}
    if getattr(dec, "latent", None) is not None:
        parts["latent"] = []
    for s in range(0, len(x), batch):
        o = dec.forward(x[s : s + batch])
        if not s:
            parts.update({k: [] for k in ("feature", "attributes") if k in o})
        for k in parts:
            parts[k].append(o[k])
    return {k: np.concatenate(v) for k, v in parts.items()}


def check_classifier_unseen(model: Path, image_ids) -> None:
    """The model's stimulus classifier learnt from renders of one seed (training.json: generator.classifier.
    render_seed); scoring reconstructions of stimuli of that same seed (a dataset simulated with it) would
    score against pictures it was trained on. `eegviz train` refuses such a seed (check_classifier_seed); an
    eval on another dataset is checked here."""
    from eegviz.world.stimuli import spec_id_seed

    try:
        training = json.loads((Path(model) / "training.json").read_text())
        seed = training["generator"]["classifier"]["render_seed"]
    except (OSError, ValueError, KeyError, TypeError):
        seed = None
    if not isinstance(seed, int):  # an older or hand-made folder: nothing to check against, which is said
        log.warning("%s's stimulus classifier does not record which renders it learnt from (training.json: "
                    "generator.classifier.render_seed), so eval cannot check it never saw these test stimuli; "
                    "its N-way figures hold only if it did not", model)
        return
    if seed in {spec_id_seed(i) for i in dict.fromkeys(map(str, image_ids))}:
        raise EegvizError(f"this model's stimulus classifier was trained on renders of seed {seed}, and this "
                          f"dataset's test stimuli are renders of that seed: it would score pictures it has seen; "
                          "evaluate on data simulated with the model's own --seed (another seed simulates other "
                          "brains, whose EEG this model never learnt to read), or pass --classifier")


def generate_all(gen: Generator, sal: np.ndarray, emb: np.ndarray, batch: int = 64, latents=None,
                 **settings) -> np.ndarray:
    """Generate for every trial (seed = batch start, so runs are reproducible); `settings` override the
    generator's steps/strength/guidance for this call only; `latents` (N, C, h, w): start from these (the
    decoder's latent branch) instead of the saliency maps."""
    saved = {k: getattr(gen, k) for k in settings}
    for k, v in settings.items():
        setattr(gen, k, v)

    def start(i):
        return {} if latents is None else {"latents": latents[i : i + batch]}

    try:
        return np.concatenate([check_images(gen.generate(sal[i : i + batch], emb[i : i + batch], seed=i, **start(i)),
                                            len(sal[i : i + batch]), gen) for i in range(0, len(sal), batch)])
    finally:
        for k, v in saved.items():
            setattr(gen, k, v)


def object_truth(ds, idx: np.ndarray, size: int):
    """(true soft silhouettes (N, size, size), colour names, palette, class labels) of trials `idx` when the
    stimuli are synthetic-world renders; else (None, reason). The tuple is object_trials()'s arguments after
    the images."""
    from eegviz.world.stimuli import COLORS, render, renderable, spec_from_id

    ids = [str(i) for i in ds.image_ids[idx]]
    if ds.image_paths and any(i in ds.image_paths for i in ids):
        return None, "the stimuli are image files: their object silhouettes and colours are not known"
    if not renderable(ids):
        return None, "the stimuli are not synthetic-world images: their object silhouettes and colours are not known"
    cache = {}
    for i in dict.fromkeys(ids):
        spec = spec_from_id(i)
        cache[i] = (render(spec, size)[1], spec.color_name)
    masks = np.stack([cache[i][0] for i in ids])
    return (masks, [cache[i][1] for i in ids], COLORS, np.asarray(ds.labels[idx])), None


# the thresholds of the constant guess's prior (the fraction of training silhouettes covering a pixel)
GUESS_LEVELS = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))


def constant_guess(ds, test_idx: np.ndarray, size: int) -> dict | None:
    """The object-region trials of one image drawn for every test trial with no EEG in it: the pixels that the
    training split's silhouettes cover at least a fraction `level` of the time, with `level` chosen on the
    validation images (GUESS_LEVELS). None where the stimuli are not synthetic or a split is missing.

    Why: a map shuffled across trials is drawn in another trial's place, which scores below simply covering the
    middle (mask IoU 0.24 against about 0.35 for the shipped data): beating the shuffled maps shows that a map
    carries its own trial's place, beating this shows by how much the EEG improves on knowing where objects
    tend to be. One image per distinct training or validation image; the threshold never sees the test split."""
    def truth(split):
        idx = ds.subset(split)
        if not len(idx):
            return None
        _, first = np.unique(np.asarray(ds.image_ids)[idx].astype(str), return_index=True)
        return object_truth(ds, idx[np.sort(first)], size)[0]

    train, val, test = truth("train"), truth("val"), object_truth(ds, test_idx, size)[0]
    if train is None or val is None or test is None:
        return None
    prior = (train[0] > 0.5).mean(0)

    def trials(level, t):
        img = np.full((len(t[0]), size, size, 3), 0.15, np.float32)
        img[:, prior >= level] = 0.9
        return object_trials(img, *t)

    val_iou = [float(trials(lv, val)["iou"].mean()) for lv in GUESS_LEVELS]
    level = GUESS_LEVELS[int(np.argmax(val_iou))]
    return {"trials": trials(level, test), "level": float(level), "val_iou": max(val_iou)}


def _shuffle(n: int, seed: int = 1) -> np.ndarray:
    """A seeded permutation of n >= 2 trials with no trial left in its own place (the controls' pairing of each
    trial with another trial's map, caption or latent).

    Why no fixed point: a trial paired with itself scores as the decoded figure, not as a control. A plain
    permutation leaves about one in place whatever n: 3 of the shipped model's 400 test trials, beside the
    shuffled maps' 14 reconstruction top-1 hits (0.035, chance 0.025); and for 2 or 3 trials seed 1 moved
    none, so every "shuffled" figure equalled the decoded one. The seeded permutation is kept; only the trials it left
    in place move: two or more are passed round among themselves, one swaps with the next trial."""
    perm = np.random.default_rng(seed).permutation(n)
    fixed = np.flatnonzero(perm == np.arange(n))
    if len(fixed) >= 2:
        perm[fixed] = np.roll(fixed, -1)
    elif len(fixed) == 1 and n >= 2:
        i = int(fixed[0])
        j = (i + 1) % n
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def _top1_interval(ds, test_idx: np.ndarray, top1: float, chance: float) -> dict:
    """The decoder's class top-1 beside what could refute it: its 95% Wilson interval and the 95% band a guesser
    at chance reaches, both over the test trials' independent units (eval.controls.effective_units: repeats of
    one image to one subject, or trials of one class in one block, are one unit), as every control figure has them. The headline figure had
    neither, so 0.0375 against chance 0.025 on 80 trials could not be judged from metrics.json."""
    from eegviz.eval.controls import chance_band, effective_units, wilson

    n = effective_units(ds, test_idx)
    return {"eeg_class_top1_ci95": list(wilson(top1 * n, n)), "eeg_class_top1_n_effective": n,
            "eeg_class_top1_chance_band95": list(chance_band(n, chance))}


def zero_shot_split(ds, dec=None) -> bool:
    """True when some test class has no class prototype (THINGS-EEG2's test concepts, never trained on), so
    class decoding cannot score it.

    With the decoder given, its own prototypes decide (a zero or NaN row is none, as prototype_similarities
    reads them): a model trained elsewhere knows classes that the evaluated dataset has no training trials of.
    The dataset's training split alone called `eegviz simulate --images 2` (every image in the test or
    validation split) zero-shot for the shipped model, which has a prototype for every one of its 40 classes,
    and reported retrieval instead of its class top-1. Without a decoder, or one with no usable prototype
    (untrained), the dataset's training split stands in for what the model was trained on."""
    test_idx, train_idx = ds.subset("test"), ds.subset("train")
    if not len(test_idx):
        return False
    test_classes = np.unique(ds.labels[test_idx])
    protos = getattr(dec, "prototypes", None)
    if protos is not None:
        p = np.asarray(protos.detach().cpu() if hasattr(protos, "detach") else protos, dtype=np.float64)
        usable = np.isfinite(p).all(1) & (p != 0).any(1)
        if usable.any():
            return not usable[test_classes].all()
    return not np.isin(test_classes, ds.labels[train_idx]).all()


def zero_shot_retrieval(ds, dec, test_idx: np.ndarray, text, batch: int = 64) -> dict:
    """THINGS-EEG2's protocol: average the test trials of each image (per subject; the release has 80
    repetitions), decode the averages, and retrieve each image's concept among the test concepts by cosine
    similarity of the decoder's caption embedding with each concept's caption embedding (the model's text
    encoder, label captions as in training). Top-1 / top-5, chance 1/K and 5/K for K test concepts."""
    keys = list(zip(np.asarray(ds.subjects)[test_idx].tolist(), map(str, ds.image_ids[test_idx])))
    groups: dict = {}
    for i, k in zip(test_idx, keys):
        groups.setdefault(k, []).append(i)
    order = list(groups)
    eeg = np.stack([ds.eeg[groups[k]].mean(0) for k in order])
    labels = np.array([ds.labels[groups[k][0]] for k in order])
    subjects = np.array([k[0] for k in order])
    emb = decode_eeg(eeg, dec, batch)["embedding"].reshape(len(order), -1)
    concepts = np.unique(ds.labels[test_idx])
    cand = text.encode([f"an image of a {ds.classes[c]}" for c in concepts]).reshape(len(concepts), -1)
    unit = lambda v: v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)
    sims = unit(emb) @ unit(cand).T  # (images, K)
    target = np.searchsorted(concepts, labels)
    true = sims[np.arange(len(sims)), target][:, None]
    greater, ties = (sims > true).sum(1), (sims == true).sum(1) - 1  # ties: random tie-breaks (topk_hit)
    top1, top5 = topk_hit(greater, ties, 1), topk_hit(greater, ties, 5)
    k = len(concepts)
    per = {str(s): float(top1[subjects == s].mean()) for s in np.unique(subjects)}
    # each figure beside what could refute it, as the class top-1 has them (_top1_interval): its 95% Wilson interval
    # and the 95% band a guesser reaches, over the retrievals, one per (subject, image) average; the figures
    # stood beside the chance level alone, so 0.015 against 0.005 could not be told from a guess
    from eegviz.eval.controls import chance_band, wilson

    n = len(order)
    bounds = {}
    for name, hits, chance in (("top1", top1, 1.0 / k), ("top5", top5, min(1.0, 5.0 / k))):
        bounds[f"{name}_ci95"] = list(wilson(float(hits.sum()), n))
        bounds[f"{name}_chance_band95"] = list(chance_band(n, chance))
    return {"protocol": f"{k}-way zero-shot retrieval of test concepts by caption-embedding cosine, test trials "
                        "averaged per image and subject",
            "n_concepts": int(k), "n_images": int(n),
            "trials_averaged": float(np.mean([len(v) for v in groups.values()])),
            f"{k}way_top1": float(top1.mean()), f"{k}way_top5": float(top5.mean()),
            "top1": float(top1.mean()), "top5": float(top5.mean()),
            "chance_top1": 1.0 / k, "chance_top5": min(1.0, 5.0 / k), **bounds,
            "intervals_over": "the retrievals, one per (subject, image) average", "top1_per_subject": per}


def eval_generator(model: Path, name: str | None = None, options=None) -> Generator | None:
    """The generator `eegviz eval` scores: plugin `name` (--generator), else the model's embedded one when the
    model folder is a diffusers pipeline, else None (the reconstruction metrics say why they are skipped).

    Both are built by make_generator from the same GeneratorOptions (eegviz.generators.options), so --steps,
    --strength and --init apply, and are checked, the same way with or without --generator: the default used
    to be built without them, and they were dropped without a word."""
    from eegviz.generators import make_generator

    if name is None and not (Path(model) / "model_index.json").is_file():
        return None
    return make_generator(name or "embedded", Path(model), options)


def evaluate(data: Path, model: Path, out: Path, batch: int = 64, controls: bool = True,
             controls_highpass: float = 1.0, data_opts: dict | None = None, generator=None,
             classifier: str | None = None, reconstructions: bool = True, refuse_seen: bool = True,
             no_reconstructions_why: str = "--no-reconstructions: decoder-only evaluation",
             reject_uv: float | None = None) -> dict:
    """Score the model on the test split of any dataset eegviz reads (metrics.json, plots).

    Decoder metrics and the confound controls (eegviz.eval.controls: a linear probe refit per control, 22 fits,
    2.5 minutes on 2 cores for the shipped model's 4000 trials) apply to every dataset. Reconstruction metrics
    need three things: the true stimuli (rendered for the synthetic world, or the dataset's images), a
    generator (`generator`, else eval_generator's default: the model's embedded one with its own settings) and,
    for N-way top-k and IS, a classifier
    (`classifier`: a transformers image classifier, else the model's stimulus classifier). What is missing is
    reported as skipped, with the reason. refuse_seen: refuse test images the model trained or chose on
    (eegviz.data.seen_images); False only counts them (metrics.json test_images_seen_by_model) and warns.
    no_reconstructions_why: metrics.json's reason where `reconstructions` is False (`eegviz train`'s evaluation
    gives its own, where no generator was trained).
    reject_uv: drop, from every split (the controls' training probes read the train split), the epochs over this
    peak to peak as the model reads them (eegviz.data.artefacts, with the model's own spec: the epochs its
    training dropped with the same threshold); metrics.json's "artefacts" counts them per split.
    """
    from eegviz.data.artefacts import drop_artefacts
    from eegviz.data.loaders import open_dataset
    from eegviz.stream.reject import check_reject_uv
    from eegviz.world.stimuli import renderable

    ds = open_dataset(data, **(data_opts or {}))
    if controls and controls_highpass >= ds.sfreq / 2:  # found after the reconstructions, it left them
        # behind in --out, and the corrected rerun was refused for a non-empty --out
        raise EegvizError(f"--controls-highpass {controls_highpass:g} Hz must lie below the data's Nyquist "
                          f"frequency ({ds.sfreq / 2:g} Hz)")
    with about("--model"):  # "no model at X": a config file's `model` is named before it (eegviz.cli)
        dec = TwoBranchDecoder.load(model)
    _check_compatible(ds, dec, model)
    ds, artefacts = drop_artefacts(ds, dec.spec, check_reject_uv(reject_uv), data)
    _say_other_threshold(model, reject_uv)
    stopped = interrupted_training(model)
    if stopped:  # the decoder is saved an hour before the generator: scored as if finished, without a word
        log.warning("%s: %s; this report scores the decoder it had saved so far", model, stopped)
    # as a session refuses it: a "label+latent" row silently missing would read as scored
    check_latent_start(generator, dec)
    if reconstructions:  # (a decoder-only run draws nothing: the generator's width does not matter)
        check_caption_width(generator, dec)
    test_idx = ds.subset("test")
    if not len(test_idx):
        raise EegvizError(f"{data} has no test split; nothing to evaluate")
    if len(test_idx) < 2:  # every "shuffled" control would be the trial itself (_shuffle), equal to the figure
        raise EegvizError(f"{data}'s test split holds one trial: the controls pair each test trial with another "
                          "trial's map and caption, which one trial cannot, and a figure over one trial says "
                          "nothing of the decoder; evaluate on a test split of two trials or more")
    seen = check_unseen(model, ds.image_ids[test_idx], refuse=refuse_seen)  # refused where the model saw them
    if seen is None:  # an older or hand-made folder: nothing to check against, which is said
        log.warning("%s does not record the images it was trained on (%s), so eval cannot check that this "
                    "dataset's test images are new to it; its figures are a test only if they are", model, SEEN_FILE)
    elif seen["train"] or seen["val"]:
        log.warning("%s: these figures are not a clean test", seen_line(model, seen))
    # (THINGS-EEG2: every subject saw the one test set, so the image check above passes another subject's trials)
    new_subjects = new_subjects_line(model, ds.subjects[test_idx], data)
    if new_subjects is not None:
        log.warning("%s", new_subjects[1])
    other_world = other_world_line(model, ds.image_ids[test_idx])
    if other_world is not None:
        log.warning("%s", other_world[1])
    y = ds.labels[test_idx]
    o = decode_split(ds, dec, test_idx, batch)
    scores, sal, emb = o["scores"], o["saliency"], o["embedding"]
    n_classes = len(ds.classes)
    text = make_text_encoder(dec.hparams.get("text_encoder", "hash"), dec.hparams["n_tokens"], dec.hparams["text_dim"])
    from eegviz.data.targets import captions_for

    # the captions the semantic branch was trained to regress (label or rich: dec.hparams' caption), for the cosine
    # and the true-caption ceilings: the cosine was taken against the label caption whatever the model regressed,
    # so a --caption rich model decoding its rich captions exactly scored well below 1
    ceiling_emb = text.encode(captions_for(ds, test_idx, dec.hparams.get("caption", "label"))).reshape(emb.shape)
    true_emb = ceiling_emb.reshape(len(y), -1)
    flat_emb = emb.reshape(len(y), -1)

    def cosine(targets):
        return float(((flat_emb * targets).sum(1) / (np.linalg.norm(flat_emb, axis=1)
                                                     * np.linalg.norm(targets, axis=1) + 1e-9)).mean())

    zero_shot = zero_shot_split(ds, dec)
    # beside its control: another trial's caption (captions of one space share most of their states, so the
    # cosine of unrelated captions is far from 0: 0.67 for the shipped model's MiniLM label captions)
    metrics = {"n_test_trials": int(len(test_idx)), "n_classes": n_classes, "embedding_cosine": cosine(true_emb),
               "embedding_cosine_shuffled": cosine(true_emb[_shuffle(len(y))]),
               "test_images_seen_by_model": seen if seen is not None else {"skipped": f"no {SEEN_FILE}"}}
    if artefacts is not None:
        metrics["artefacts"] = artefacts
    if new_subjects is not None:
        metrics["test_subjects_not_trained_on"] = new_subjects[0]
    if other_world is not None:
        metrics["test_world_seeds_not_trained_on"] = other_world[0]
    if zero_shot:
        # the test concepts were never trained on: their prototypes do not exist, class decoding is undefined
        metrics["zero_shot"] = zero_shot_retrieval(ds, dec, test_idx, text, batch)
        log.info(f"zero-shot split: {metrics['zero_shot']['protocol']}: top-1 {metrics['zero_shot']['top1']:.3f}, "
                 f"top-5 {metrics['zero_shot']['top5']:.3f}")
    else:
        metrics.update(chance_top1=1.0 / n_classes, eeg_class_top1=float((scores.argmax(1) == y).mean()))
        metrics.update(_top1_interval(ds, test_idx, metrics["eeg_class_top1"], 1.0 / n_classes))
        from eegviz.eval.curves import add_repetition_curve

        add_repetition_curve(metrics, ds, test_idx, lambda x: decode_eeg(x, dec, batch)["scores"].argmax(1))
    stimuli = None
    if renderable(ds.image_ids) or ds.image_paths:
        from eegviz.data.targets import stimulus_targets

        stimuli = stimulus_targets(ds.image_ids[test_idx], sal.shape[1], ds.image_paths)[0].transpose(0, 2, 3, 1)
        metrics.update(saliency_ssim=ssim_np(sal, stimuli), saliency_pixcorr=pixcorr(sal, stimuli))
        metrics["saliency"] = {"ssim": metrics["saliency_ssim"], "pixcorr": metrics["saliency_pixcorr"],
                               "ssim_flat_baselines": flat_ssim_baselines(stimuli),
                               **_saliency_objects(ds, test_idx, sal)}
        if renderable(ds.image_ids) and "iou" in metrics["saliency"] and "attributes" in o:
            metrics["saliency"].update(_maps_at_true_attributes(ds, dec, test_idx, stimuli, o["feature"],
                                                                o["attributes"]))
    if generator is None and reconstructions:  # --no-reconstructions: no image is made, so none is built (it loaded
        # and warmed the model's pipeline for nothing)
        generator = eval_generator(model)
    latents = o.get("latent")
    why = foreign_latents(generator, dec.latent) if latents is not None and generator is not None else None
    if why is not None and reconstructions:
        # --sd-model with another VAE (--init saliency, so nothing refused it): the "label+latent" row was drawn
        # from latents in a space not theirs and scored beside the others without a word (found by review)
        log.warning("the latent branch is not scored: %s", why)
        metrics["latent_branch"] = {"skipped": why}
        latents = None
    clf = None
    if reconstructions and stimuli is not None and generator is not None:
        if classifier:
            from eegviz.eval.classifier import HFImageClassifier

            clf = HFImageClassifier(classifier)
        elif has_classifier(model):
            check_classifier_unseen(model, ds.image_ids[test_idx])
            clf = load_classifier(model)
    # made once everything that can refuse the run is read, the classifier last: a refused run leaves no folder;
    # made exclusively when new, so another run given the same new --out at once is refused, not overwritten
    if not out.exists():  # (an existing one is empty: checked before anything was read)
        from eegviz.paths import make_new_folder

        make_new_folder(out, "--out")
    if not reconstructions:
        metrics["reconstruction"] = {"skipped": no_reconstructions_why}
    elif stimuli is None:
        metrics["reconstruction"] = {"skipped": "no stimulus images: the stimuli are not synthetic-world images "
                                                "and the dataset has none (pass --images-dir)"}
    elif generator is None:
        metrics["reconstruction"] = {"skipped": "no generator: the model has no embedded generator for its "
                                                "caption space; pass --generator diffusers --sd-model MODEL"}
    else:
        metrics.update(_reconstruction_metrics(ds, out, test_idx, stimuli, sal, emb, generator, clf, batch,
                                               true_emb=ceiling_emb, empty_emb=text.encode([""]),
                                               latents=latents))
    if controls and zero_shot:
        metrics["controls"] = {"skipped": "zero-shot split: the refit probes classify the training classes, "
                                          "and the test concepts are none of them"}
        controls = False
    elif controls:
        from eegviz.eval.controls import plot_controls, run_controls

        metrics["controls"] = run_controls(ds, dec.spec, highpass_hz=controls_highpass,
                                           decoder_top1=metrics["eeg_class_top1"])
        if "skipped" in metrics["controls"]:  # e.g. training trials of one class: no probe to fit
            controls = False
        else:
            plot_controls(metrics["controls"], out / "controls.png")
    if "skipped" in metrics.get("controls", {}):  # asked for, not run: said where the headline is read, since
        # the headline then has no checks and controls.png is missing without a word
        log.warning("confound controls skipped: %s", metrics["controls"]["skipped"])
    if zero_shot:
        z = metrics["zero_shot"]
        metrics["headline"] = {"zero_shot_top1": z["top1"], "zero_shot_top5": z["top5"],
                               "chance_top1": z["chance_top1"], "n_concepts": z["n_concepts"],
                               "ci95": z["top1_ci95"], "chance_band95": z["top1_chance_band95"]}
    else:
        metrics["headline"] = {"eeg_class_top1": metrics["eeg_class_top1"], "chance": 1.0 / n_classes,
                               "ci95": metrics["eeg_class_top1_ci95"],
                               "chance_band95": metrics["eeg_class_top1_chance_band95"]}
    _headline_figures(metrics)
    if controls:
        metrics["headline"]["controls"] = metrics["controls"]["checks"]
    metrics["run"] = _run_record(data, model, data_opts, generator, classifier, controls, controls_highpass,
                                 reconstructions, reject_uv)
    metrics = json_safe(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def _run_record(data: Path, model: Path, data_opts: dict | None, generator, classifier: str | None,
                controls: bool, controls_highpass: float, reconstructions: bool,
                reject_uv: float | None = None) -> dict:
    """How this report was made, for metrics.json's "run": eegviz's version and commit, the command line and
    working directory, the data as given and the options it was read with, the model folder with its digest (as
    session.json names it), the generator and classifier asked for, and the controls. A report folder copied
    into a paper's supplement, or two folders side by side, said what scored but not on which data or model
    (found by review)."""
    from eegviz.record.session_folder import drawn_with, model_identity
    from eegviz.sysinfo import run_provenance

    gen = None if generator is None else {"name": getattr(generator, "name", type(generator).__name__),
                                          **drawn_with(generator, ("steps", "strength", "guidance", "size", "init"))}
    return {**run_provenance("finished_utc"),
            "data": {"given": str(data), "folder": str(Path(data).resolve()), "options": dict(data_opts or {})},
            "model": model_identity(Path(model)), "generator": gen, "classifier": classifier,
            "controls": bool(controls), "controls_highpass": float(controls_highpass),
            "reconstructions": bool(reconstructions), "reject_uv": reject_uv}


def _say_other_threshold(model: Path, reject_uv: float | None) -> None:
    """A warning where the model was trained with another --reject-uv than this evaluation's (none included): its
    figures are then taken on other epochs than the ones the model's own evaluation kept."""
    from eegviz.data.artefacts import trained_reject_uv

    trained = trained_reject_uv(model)
    if (Path(model) / "training.json").is_file() and trained != reject_uv:
        # both sides in the same words ("off", "150 uV"): the line said "--reject-uv 150 and this evaluation's is
        # none", a threshold without its unit beside a word the option never takes
        def said(uv):
            return "off" if uv is None else f"{uv:g} uV"
        log.warning("%s was trained with --reject-uv %s and this evaluation's is %s: its figures are not on the "
                    "epochs its own evaluation kept", model, said(trained), said(reject_uv))


def _headline_figures(metrics: dict) -> None:
    """The headline's image figures, each beside what could refute it: the maps' IoU beside the same maps shuffled
    across trials and the constant guess that needs no EEG; SSIM beside a flat background; top-1 beside the maps
    shuffled; the Inception Score beside the maps shuffled (22.2 against 22.9 on the shipped model: it sees
    classes, not which trial) and the true stimuli's (its ceiling). A figure alone, as the IS stood here, reads
    as an achievement it may not be."""
    head, sal = metrics["headline"], metrics.get("saliency", {})
    if "iou" in sal:
        head["saliency_iou"] = sal["iou"]
        head["saliency_iou_shuffled"] = sal["shuffled_control"]["iou"]
        if "constant_guess" in sal:
            head["saliency_iou_constant_guess"] = sal["constant_guess"]["iou"]
    if "ablation" not in metrics:
        return
    best, shuffled = metrics["ablation"]["label+saliency"], metrics["generation_controls"]["saliency_shuffled"]
    head["reconstruction_ssim"] = best["ssim"]
    head["ssim_flat_background"] = metrics["ssim_flat_baselines"]["background"]
    if "iou" in best:
        head["reconstruction_iou"] = best["iou"]
        head["reconstruction_iou_saliency_shuffled"] = shuffled["iou"]
        if "constant_guess" in metrics["generation_controls"]:
            head["reconstruction_iou_constant_guess"] = metrics["generation_controls"]["constant_guess"]["iou"]
    if "n_way" in metrics:
        key = f"{metrics['n_way']}way_top1"
        head[f"reconstruction_{key}"] = best[key]
        head[f"reconstruction_{key}_saliency_shuffled"] = shuffled[key]
        # its own chance: the headline's "chance" is the dataset's class count, and an outside classifier's N-way
        # is another (a 3-class dataset scored 7-way stood beside chance 0.333, not 1/7)
        head[f"reconstruction_{key}_chance"] = 1.0 / metrics["n_way"]
        head["reconstruction_is"] = best["is"]["mean"]
        head["reconstruction_is_saliency_shuffled"] = shuffled["is"]["mean"]
        head["is_true_stimuli"] = metrics["is_true_stimuli"]["mean"]


def _saliency_objects(ds, test_idx: np.ndarray, sal: np.ndarray) -> dict:
    """Object-region metrics of the saliency maps, and of the same maps permuted across trials (the control
    they must beat); skipped with the reason when the stimuli are not synthetic."""
    truth, why = object_truth(ds, test_idx, sal.shape[1])
    if truth is None:
        return {"object_region": {"skipped": why}}
    from eegviz.eval.controls import subject_image_units

    a = object_trials(sal, *truth)
    b = object_trials(sal[_shuffle(len(sal))], *truth)
    units = subject_image_units(ds, test_idx)
    out = {**summarise_objects(a), "shuffled_control": summarise_objects(b),
           "vs_shuffled": paired_bootstrap_diff(a, b, groups=units)}
    guess = constant_guess(ds, test_idx, sal.shape[1])
    if guess is not None:
        out.update(_vs_guess(a, guess, units))
    return out


def _vs_guess(a: dict, guess: dict, units) -> dict:
    """The constant guess's IoU (eegviz.eval.report.constant_guess) and the paired difference of `a`'s."""
    return {"constant_guess": {"iou": float(guess["trials"]["iou"].mean()), "level": guess["level"],
                               "chosen_on": "validation images"},
            "vs_constant_guess": {"iou": paired_bootstrap_diff(a, guess["trials"], groups=units)["iou"]}}


# which decoded attributes the true-attribute diagnostic replaces, by the metrics.json key it reports under (the
# map is placed by cx, cy and size; SaliencyGenerator.forward)
TRUE_ATTRIBUTE_SETS = {"at_true_place": ("cx", "cy", "size"), "at_true_centroid": ("cx", "cy"),
                       "at_true_size": ("size",)}


def _maps_at_true_attributes(ds, dec: TwoBranchDecoder, idx: np.ndarray, stimuli: np.ndarray, feat: np.ndarray,
                             attrs: np.ndarray) -> dict:
    """Object-region scores of the maps redrawn with some of the stimulus's own attributes in place of the decoded
    ones (TRUE_ATTRIBUTE_SETS: centroid and size together, the centroid alone, the size alone; the decoded shape
    feature `feat` and colours always kept; `attrs` the decoded attributes): a diagnostic, not a ceiling a model
    can reach. The gap from the maps as decoded to "at_true_place" is what where-decoding costs, split between
    the centroid and the size by the other two; the gap from "at_true_place" to 1 is what the drawing itself
    costs (one turn per shape, the shape's detail at 32 px)."""
    import torch

    from eegviz.decoders.attributes import ATTRIBUTE_NAMES, object_attributes

    truth, _ = object_truth(ds, idx, stimuli.shape[1])
    true = object_attributes(stimuli, truth[0])
    out = {}
    for key, names in TRUE_ATTRIBUTE_SETS.items():
        cols = [ATTRIBUTE_NAMES.index(n) for n in names]
        where = np.array(attrs, copy=True)
        where[:, cols] = true[:, cols]
        maps = dec.draw(torch.from_numpy(feat), torch.from_numpy(where)).numpy()
        out[key] = summarise_objects(object_trials(maps, *truth))
    out["unturned_reference"] = summarise_objects(object_trials(_unturned(ds, idx, stimuli.shape[1]), *truth))
    return out


def _unturned(ds, idx: np.ndarray, size: int) -> np.ndarray:
    """The true stimuli (N, size, size, 3) drawn unturned: right shape, place, size and colour, rotation 0.

    A reference for "at_true_place", not a bound: the simulated EEG carries nothing of the turn (the world turns
    stimuli up to +-0.4 rad; eegviz.world.eeg_sim has no term for it), so a map drawn at the true centroid and size
    can at best guess the turn, and the unturned true silhouette is the natural guess. Where "at_true_place" comes
    close to it, the drawing has little left to gain and the IoU lost is where-decoding's."""
    import dataclasses

    from eegviz.world.stimuli import render, spec_from_id

    cache = {}
    for i in dict.fromkeys(str(i) for i in ds.image_ids[idx]):
        cache[i] = render(dataclasses.replace(spec_from_id(i), rotation=0.0), size)[0]
    return np.stack([cache[str(i)] for i in ds.image_ids[idx]])


def _check_compatible(ds, dec: TwoBranchDecoder, model: Path) -> None:
    """The decoder can only score data laid out as it was trained: same classes, channels, rate and window."""
    if list(ds.classes) != list(dec.class_names):
        # which one: THINGS-EEG2 read without its image_metadata.npy (not beside the EEG, and no --images-dir to
        # find it by) names its 1854 concepts "concept 0000" ..., and "1854 classes that differ from the
        # dataset's 1854" said nothing of why
        first = next((k for k, (a, b) in enumerate(zip(map(str, ds.classes), map(str, dec.class_names))) if a != b),
                     None)
        which = ("" if first is None else f" (class {first + 1} is {str(ds.classes[first])!r} where the model has "
                                          f"{str(dec.class_names[first])!r})")
        raise EegvizError(f"the model in {model} was trained on {len(dec.class_names)} classes that differ from "
                          f"the dataset's {len(ds.classes)}{which}; evaluate it on data with the same classes")
    check_epochs_fit(ds, dec.spec)


def check_epochs_fit(ds, spec) -> None:
    """The dataset's epochs laid out as the decoder reads them (channels in its order, its rate, sample count and
    window), else one line saying what differs. Shared with the latent branch's fit
    (eegviz.train.latent_branch), whose ridge map reads the same prepared epochs."""
    n = ds.eeg.shape[-1]
    # the window too: the same samples from -0.3 s instead of -0.1 s put every feature the decoder learnt 50
    # samples off, and it scored chance without a word. At one rate and sample count, the start to the nearest
    # sample fixes the whole window.
    if (tuple(ds.ch_names) != tuple(spec.ch_names) or ds.sfreq != spec.sfreq or n != spec.n_times
            or not abs(ds.tmin - spec.tmin) < 0.5 / spec.sfreq):
        raise EegvizError(f"the dataset's epochs ({len(ds.ch_names)} ch, {ds.sfreq:g} Hz, {n} samples from "
                          f"{ds.tmin:g} s) differ from the model's ({len(spec.ch_names)} ch, {spec.sfreq:g} Hz, "
                          f"{spec.n_times} samples from {spec.tmin:g} s){_channels_differ(ds.ch_names, spec.ch_names)}")


def _channels_differ(data_names, model_names) -> str:
    """Where two channel lists of one length differ, the first channel that does, for _check_compatible's line;
    "" otherwise (a count that differs is in the line already). Same count, rate and window, other names or
    order: the line read "(128 ch, 250 Hz, ...) differ from the model's (128 ch, 250 Hz, ...)", two equal
    descriptions and no word of what differs."""
    data_names, model_names = list(map(str, data_names)), list(map(str, model_names))
    if len(data_names) != len(model_names) or data_names == model_names:
        return ""
    i = next(k for k, (a, b) in enumerate(zip(data_names, model_names)) if a != b)
    how = ("the same channels in another order" if sorted(data_names) == sorted(model_names)
           else "other channel names")
    return f": {how} (channel {i + 1} is {data_names[i]!r} where the model has {model_names[i]!r})"


def _reconstruction_metrics(ds, out: Path, test_idx, stimuli, sal, emb, gen, clf, batch: int, true_emb=None,
                            empty_emb=None, latents=None) -> dict:
    """NeuroImagen's image metrics, ablation and generation controls on the test trials; also writes
    reconstructions.png.

    `stimuli`: the test stimuli as (N, H, W, 3) floats; loaded again only if the generator draws at another size.
    `true_emb`: the true captions' embeddings (shaped like `emb`) for the ceilings (text only from the true caption;
    the decoded maps with the true caption; img2img from the true stimulus at the map's size with the true
    caption); skipped if None.
    `empty_emb`: (1, tokens, dim), the text space's encoding of "" for "saliency_only": what the teacher was
    trained to see as "no caption" (caption dropout; MiniLM's is not zeros). The distilled student the pipeline
    ships never saw it (distilled always conditioned), so "saliency_only" runs it off its training inputs, as
    zeros would too. None: zeros.

    The classifier's target for a trial is the dataset label when the classifier knows the dataset's classes
    (the stimulus classifier), else the class it gives the true stimulus (an ImageNet classifier on ImageNet
    stimuli: the paper's protocol, which needs no mapping between label sets).

    `latents`: the decoder's latent branch (eegviz.decoders.latent), when the model has one: the variant
    "label+latent" starts img2img from it instead of the saliency map, beside its own control (latents shuffled
    across trials), on the same metrics.
    """
    from eegviz.data.targets import stimulus_targets

    perm = _shuffle(len(sal))
    # label_only is text-to-image: strength 1 starts from pure noise, so the saliency map cannot leak in.
    variants = {
        "label+saliency": (sal, emb, {}),
        "label_only": (sal, emb, {"strength": 1.0}),
        "saliency_only": (sal, _no_caption(emb, empty_emb), {}),
    }
    controls = {
        "saliency_shuffled": (sal[perm], emb, {}),  # another trial's map, this trial's embedding
        "saliency_flat": (np.full_like(sal, float(sal.mean())), emb, {}),  # no layout at all
        "embedding_shuffled": (sal, emb[perm], {}),  # this trial's map, another trial's embedding
    }
    if latents is not None and getattr(gen, "accepts_latents", False):
        variants["label+latent"] = (sal, emb, {"latents": latents})
        controls["latent_shuffled"] = (sal, emb, {"latents": latents[perm]})
    ceilings = ("true_caption_ceiling", "true_caption_decoded_maps", "true_map_ceiling")
    if true_emb is not None:
        true_e = np.asarray(true_emb, emb.dtype).reshape(emb.shape)
        controls["true_caption_ceiling"] = (sal, true_e, {"strength": 1.0})
        # the sample-level branch made perfect, the pixel-level one as decoded: how much the predicted caption
        # embedding costs the reconstructions (the pipeline's own sampler and strength)
        controls["true_caption_decoded_maps"] = (sal, true_e, {})
        # what a perfect decoder would hand the generator: the stimulus itself at the map's size (it is a
        # silhouette in its colours) and the true caption, at the sampler's own strength
        true_map = stimulus_targets(ds.image_ids[test_idx], sal.shape[1], ds.image_paths)[0].transpose(0, 2, 3, 1)
        controls["true_map_ceiling"] = (true_map.astype(sal.dtype), true_e, {})
    images = {name: generate_all(gen, s_in, e_in, batch, **settings)
              for name, (s_in, e_in, settings) in {**variants, **controls}.items()}
    size = images["label+saliency"].shape[1]
    # the decoded maps themselves, no generation, at the generator's size: what img2img starts from
    images["saliency_map_itself"] = to_uint8(_resized(sal, size))
    if stimuli.shape[1] != size:
        stimuli = stimulus_targets(ds.image_ids[test_idx], size, ds.image_paths)[0].transpose(0, 2, 3, 1)
    stimuli_u8 = to_uint8(stimuli)
    y = ds.labels[test_idx]
    truth, why = object_truth(ds, test_idx, size)
    result = {"image_size": int(size), "generator": getattr(gen, "name", type(gen).__name__),
              "sampling": {k: getattr(gen, k) for k in ("steps", "strength", "guidance") if hasattr(gen, k)},
              "ssim_flat_baselines": flat_ssim_baselines(stimuli)}
    if clf is not None:
        stimulus_logits = clf.logits_uint8(stimuli_u8)
        same = list(clf.classes) == list(ds.classes)
        target = y if same else stimulus_logits.argmax(1)
        n_way = min(50, len(clf.classes))
        result["classifier"] = {
            "name": clf.name, "n_classes": len(clf.classes),
            "target": "dataset label" if same else "the classifier's top-1 on the true stimulus"}
        if same:
            result["classifier_top1_on_true_stimuli"] = float((stimulus_logits.argmax(1) == y).mean())
        result["n_way"] = n_way
        result["n_way_chance"] = 1.0 / n_way
        result["is_true_stimuli"] = inception_score(stimulus_logits)
    results, trials = {}, {}
    for name, imgs in images.items():
        f = imgs.astype(np.float32) / 255
        r = {"ssim": ssim_np(f, stimuli), "pixcorr": pixcorr(f, stimuli)}
        if clf is not None:
            logits = clf.logits_uint8(imgs)
            # full-set N-way (N = all classes) is plain top-1: one pass is exact, no sampling of distractors
            r[f"{n_way}way_top1"] = nway_topk(logits, target, n_way, 1, trials=1 if n_way == len(clf.classes) else 20)
            for n in (10, 5):
                if n < n_way:
                    r[f"{n}way_top1"] = nway_topk(logits, target, n, 1)
            r["is"] = inception_score(logits)
        if truth is not None:
            trials[name] = object_trials(f, *truth)
            r.update(summarise_objects(trials[name]))
        results[name] = r
    if clf is None:
        result["classifier"] = {"skipped": "no classifier: N-way top-k and IS need --classifier (a transformers "
                                           "image classifier) or a model with a stimulus classifier"}
    _plot(out, stimuli, sal, {k: v for k, v in images.items() if k != "saliency_map_itself"}, y, ds.classes)
    result["saliency_map_itself"] = results["saliency_map_itself"]
    result["ablation"] = {k: results[k] for k in variants}
    result["generation_controls"] = {k: results[k] for k in controls if k not in ceilings}
    if truth is not None:
        from eegviz.eval.controls import subject_image_units

        units = subject_image_units(ds, test_idx)
        result["generation_controls"]["saliency_vs_shuffled"] = paired_bootstrap_diff(
            trials["label+saliency"], trials["saliency_shuffled"], groups=units)
        if "label+latent" in trials:
            result["generation_controls"]["latent_vs_shuffled"] = paired_bootstrap_diff(
                trials["label+latent"], trials["latent_shuffled"], groups=units)
        guess = constant_guess(ds, test_idx, size)
        if guess is not None:  # the IoU that needs no EEG, beside the one the reconstructions reach
            for name in ("label+saliency", "label+latent"):
                if name in trials:
                    found = _vs_guess(trials[name], guess, units)
                    result["generation_controls"]["constant_guess"] = found["constant_guess"]
                    result["generation_controls"][f"{name.split('+')[1]}_vs_constant_guess"] = \
                        found["vs_constant_guess"]
    else:
        result["generation_controls"]["saliency_vs_shuffled"] = {"skipped": why}
        result["object_region"] = {"skipped": why}
    for name in ceilings:
        result[name] = results[name] if true_emb is not None else {"skipped": "no true-caption embeddings given"}
    return result


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, 3) [0, 1] -> (N, size, size, 3), as the diffusers generator resizes a saliency map."""
    import torch

    from eegviz.generators.diffusers_sd import resize_maps

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    return resize_maps(x, size).permute(0, 2, 3, 1).numpy()


def _no_caption(emb: np.ndarray, empty_emb) -> np.ndarray:
    """`emb`'s shape filled with the empty caption's encoding (zeros when none is given)."""
    if empty_emb is None:
        return np.zeros_like(emb)
    return np.broadcast_to(np.asarray(empty_emb, emb.dtype).reshape(1, *emb.shape[1:]), emb.shape).copy()


def _plot(out: Path, stimuli, sal, images, y, classes, n: int = 10) -> None:
    """reconstructions.png: up to `n` test trials, evenly spaced, one column each, one row per input or variant.

    Fewer test trials than `n` get a column each: picking n spaced indices from them repeated trials side by side
    (a test split of 3 showed each three or four times), which reads as several trials that happen to agree.
    Drawn as one image with white gaps, the rows' names and the columns' classes as tick labels: a grid of 120
    axes took seconds to lay out and render, for every evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("stimulus", stimuli), ("saliency", sal)] + [(k, v) for k, v in images.items()]
    n = min(n, len(y))
    pick = np.linspace(0, len(y) - 1, n).astype(int)
    size = max(arr.shape[1] for _, arr in rows)
    gap = max(1, size // 16)
    step = size + gap
    mosaic = np.ones((len(rows) * step - gap, n * step - gap, 3))
    for r, (_, arr) in enumerate(rows):
        for c, i in enumerate(pick):
            mosaic[r * step:r * step + size, c * step:c * step + size] = _cell(arr[i], size)
    # inches: the rows' names get what their longest needs on the left (~0.06 a character at 7 pt), the classes
    # 0.3 on top; the mosaic's aspect sets the height
    width, top, edge = n * 1.2, 0.3, 0.05
    left = 0.15 + 0.06 * max(len(name) for name, _ in rows)
    height = max(width - left - edge, 0.3) * mosaic.shape[0] / mosaic.shape[1] + top + edge
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=min(left / width, 0.8), right=1 - edge / width, top=1 - top / height,
                        bottom=edge / height)
    ax.imshow(mosaic, interpolation="nearest")
    centres = np.arange(max(len(rows), n)) * step + (size - 1) / 2
    ax.set_yticks(centres[:len(rows)], [name for name, _ in rows], fontsize=7)
    ax.set_xticks(centres[:n], [classes[y[i]] for i in pick], fontsize=7)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.savefig(out / "reconstructions.png", dpi=100)
    plt.close(fig)


def _cell(img: np.ndarray, size: int) -> np.ndarray:
    """One image of the reconstructions figure: RGB floats in [0, 1] at size x size (nearest neighbour, as the
    figure showed each image's own pixels); uint8 scaled, grey repeated to three channels."""
    img = np.asarray(img)
    img = img.astype(np.float64) / 255 if img.dtype == np.uint8 else np.clip(img.astype(np.float64), 0.0, 1.0)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=-1)
    rows = np.arange(size) * img.shape[0] // size
    cols = np.arange(size) * img.shape[1] // size
    return img[rows][:, cols, :3]
