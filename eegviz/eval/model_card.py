"""A model folder's README.md, written from what was trained - not from what the default model happens to be.

Hugging Face reads the YAML block at the top (library, tags, datasets, metrics with their values), people read
the rest: which data (described from the dataset itself: classes, images, subjects, channels, rate, window,
split sizes), which parts, the test-split figures beside their controls, and the exact `eegviz train` command
that made the folder (recorded by train_all from its own arguments), so any model can be retrained, not just
the shipped one.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from eegviz.atomic import replacing


def describe_dataset(ds, path) -> dict:
    """What a model card (and training.json) says about the data a model was trained on."""
    import numpy as np

    split = np.asarray(ds.split)
    return {"path": str(path), "trials": int(len(ds.labels)), "classes": len(ds.classes),
            "images": int(len(set(map(str, ds.image_ids)))), "subjects": int(len(np.unique(ds.subjects))),
            "channels": len(ds.ch_names), "sfreq": float(ds.sfreq),
            "window_s": [float(ds.tmin), float(ds.tmin + ds.eeg.shape[-1] / ds.sfreq)],
            "split_trials": {k: int((split == k).sum()) for k in ("train", "val", "test")},
            "split_by": split_unit(split, ds.labels, ds.image_ids),
            "blocks": None if ds.blocks is None else int(len(np.unique(ds.blocks))), **_simulator(path)}


def split_unit(split, labels, image_ids) -> str:
    """What the split holds out whole: "class" where no class has trials in two splits (THINGS-EEG2's concepts:
    its validation and test concepts are never trained on), else "image" where no image does (the synthetic
    world, EEG-ImageNet), else "trial". The card said "split by image" for every dataset, THINGS's too, and a
    reader takes a class held out for an image held out: zero-shot figures read as if the classes were known."""
    import numpy as np

    split = np.asarray(split).astype(str)

    def whole(groups) -> bool:
        groups = np.asarray(groups).astype(str)
        pairs = np.unique(np.stack([groups, split], 1), axis=0) if len(groups) else np.empty((0, 2))
        return len(np.unique(pairs[:, 0])) == len(pairs)  # each group in one split only

    return "class" if whole(labels) else "image" if whole(image_ids) else "trial"


def _simulator(path) -> dict:
    """A simulated dataset's knobs and measured class SNR (its dataset.json), so a card says which world."""
    meta = Path(path) / "dataset.json"
    try:
        d = json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(d, dict) or not isinstance(d.get("sim"), dict):
        return {}
    return {"simulator": {"knobs": d["sim"], "class_snr_db_measured": d.get("class_snr_db")}}


def train_command(data, out, options: dict) -> str:
    """The `eegviz train` command line that reproduces a run, from train_all's own arguments. The dataset and model
    folders are quoted as the options are: a lab's folder named with a space ("EEG data/sub-01") split the pasted
    command into two arguments."""
    parts = ["eegviz train", f"--data {shlex.quote(str(data))}", f"--out {shlex.quote(str(out))}"]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        # quoted where a shell needs it: an amplifier's marker stream is often named with spaces
        # ("BrainVision RDA Markers", --markers)
        parts.append(flag if value is True else f"{flag} {shlex.quote(str(value))}")
    return " \\\n    ".join(parts)


def _yaml(model_name: str, training: dict, metrics: dict | None) -> str:
    lines = ["---", "library_name: eegviz", "license: mit", "tags:"]
    tags = ["eeg", "brain-computer-interface", "image-reconstruction", "neuroimagen"]
    if training.get("synthetic"):
        tags.append("synthetic-data")
    lines += [f"- {t}" for t in tags]
    lines += ["datasets:", f"- {json.dumps(training['dataset']['path'])}"]
    figures = _index_figures(metrics or {})
    # only with a figure to list: a zero-shot split (THINGS-EEG2) has no class top-1, and its model-index was
    # written with an empty `metrics:`, which Hugging Face's own card parser refuses ("Invalid model_index")
    if figures:
        lines += ["model-index:", f"- name: {model_name}", "  results:", "  - task:",
                  "      type: image-reconstruction-from-eeg", "    dataset:",
                  f"      name: {json.dumps(training['dataset']['path'])}", "      type: eeg", "    metrics:"]
        for kind, name, value in figures:
            lines += [f"    - type: {kind}", f"      name: {json.dumps(name)}", f"      value: {value:.4f}"]
    lines.append("---")
    return "\n".join(lines)


def _index_figures(metrics: dict) -> list[tuple[str, str, float]]:
    """(type, name, value) of the test-split figures the card's model-index lists, those the metrics hold: the
    class top-1, or on a zero-shot split the retrieval top-1 that stands in its place, and the reconstructions'
    N-way top-1."""
    n, z = metrics.get("n_way"), metrics.get("zero_shot")
    k = z.get("n_concepts") if isinstance(z, dict) else None
    figures = [("eeg_class_top1", "eeg_class_top1", "EEG class decoding top-1 (test)"),
               ("zero_shot.top1", "zero_shot_top1", f"zero-shot {k}-way retrieval top-1 (test concepts never "
                                                    "trained on, repetitions averaged)")]
    if n and "ablation" in metrics:
        figures.append((f"ablation.label+saliency.{n}way_top1", f"{n}way_top1",
                        f"reconstruction {n}-way top-1 (test)"))
    out = []
    for key, kind, name in figures:
        value = metrics
        for part in key.split("."):
            value = value.get(part, {}) if isinstance(value, dict) else {}
        if _num(value):
            out.append((kind, name, float(value)))
    return out


def _resumed(training: dict) -> str:
    """For the card's training time: a run resumed after an interruption (training.json's `resumed`) timed only
    its own process, the stages it loaded counting as nothing, and "Training took 3 min" read as the run's time."""
    if not training.get("resumed"):
        return ""
    stages = (training.get("generator") or {}).get("resumed_stages") or []
    loaded = f"; the generator's stages {', '.join(stages)} were loaded" if stages else ""
    decoder = (training.get("decoder") or {}).get("resumed_stages") or {}
    if isinstance(decoder, dict) and decoder:
        loaded += "; the decoder's stages " + ", ".join(f"{k} {v}" for k, v in decoder.items())
    return (f" (the resumed part only: this run was interrupted and continued with `--resume`{loaded}; the time it "
            "trained before the interruption is not counted)")


def _f(value, digits: int = 3) -> str:
    """A figure, or '-' where the metric is undefined (a constant prediction has no correlation)."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


def _num(x) -> bool:
    """A finite number (metrics.py stores None where a statistic is undefined, e.g. a constant prediction's
    correlation; a NaN may come through from older metrics files)."""
    import math

    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _defined_diff(d) -> bool:
    """A paired_bootstrap_diff entry with a number for its difference and for both interval ends."""
    ci = d.get("ci95") if isinstance(d, dict) else None
    return (isinstance(d, dict) and _num(d.get("diff")) and isinstance(ci, (list, tuple)) and len(ci) == 2
            and all(_num(x) for x in ci))


def _signed(x) -> str:
    """A difference as +0.123, or 'undefined'."""
    return f"{x:+.3f}" if _num(x) else "undefined"


def _row(name: str, v: dict, n) -> str:
    cells = [f"{v[f'{n}way_top1']:.3f}" if n and f"{n}way_top1" in v else "-", f"{v.get('ssim', float('nan')):.3f}"]
    cells += [_f(v.get(k)) for k in ("iou", "centroid_r_x", "centroid_r_y", "colour_acc")]
    cells.append(f"{v['is']['mean']:.1f}" if isinstance(v.get("is"), dict) else "-")
    return f"| {name} | " + " | ".join(cells) + " |"


def _results_heading(metrics: dict) -> list[str]:
    """The results section's heading, saying what the figures were scored on, and a line where they are no test.

    "Held-out images" only where the evaluation counted the test trials against the model's seen_images.json
    (metrics.json test_images_seen_by_model) and found none: the evaluation after `eegviz train` counts and warns,
    it does not refuse (an EEG-ImageNet split file that is not image-wise shares images between train and test),
    and the heading claimed held-out images whatever the count. "Single trials" except on a zero-shot split, whose
    retrieval averages each image's test trials per subject."""
    # THINGS-EEG2's zero-shot figure averages each test image's repetitions (its protocol, as NICE and ATM score
    # it): under a heading of "single trials" it read as a single-trial figure
    trials = ("the zero-shot retrieval from repetitions averaged per image and subject, the rest single trials"
              if "zero_shot" in metrics else "single trials")
    seen = metrics.get("test_images_seen_by_model")
    counts = ({r: seen.get(r) for r in ("train", "val", "trials")} if isinstance(seen, dict) else {})
    if not counts or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        return [f"## Test-split results ({trials})"]  # not counted (no seen_images.json, an older metrics.json)
    if not counts["train"] and not counts["val"]:
        return [f"## Test-split results (held-out images, {trials})"]
    parts = [f"{counts[r]} show images it {what}" for r, what in
             (("train", "trained on"), ("val", "made its choices on (validation)")) if counts[r]]
    return [f"## Test-split results (NOT held-out images, {trials})",
            f"- not a clean test: of the {counts['trials']} test trials, {' and '.join(parts)} (seen_images.json, "
            "matched by image id); these figures score, in part, pictures the model has seen"]


def _zero_shot_line(z: dict) -> str:
    """The zero-shot retrieval figures (THINGS-EEG2's headline) in words, as the class top-1's line has them: each
    beside its 95% Wilson interval, chance and a guesser's band, over the (subject, image) averages it retrieved.
    The card printed metrics.json's whole zero_shot record as one line of JSON, so the figure a lab publishes
    read as a dump of keys. Figures an older metrics.json lacks are left out."""
    k, n = z.get("n_concepts"), z.get("n_images")
    trials = z.get("trials_averaged")
    what = ", ".join(part for part in (
        f"{k}-way" if isinstance(k, int) else "",
        "test concepts never trained on",
        f"{trials:g} test trials averaged per image and subject" if _num(trials)
        else "test trials averaged per image and subject",
        f"{n} retrievals, one per (subject, image) average" if isinstance(n, int) else "") if part)
    figures = []
    for name, label in (("top1", "top-1"), ("top5", "top-5")):
        if not _num(z.get(name)):
            continue
        ci, band, chance = z.get(f"{name}_ci95"), z.get(f"{name}_chance_band95"), z.get(f"chance_{name}")
        notes = []
        if ci:
            notes.append(f"95% Wilson interval {_f(ci[0])}-{_f(ci[1])}")
        if _num(chance):
            notes.append(f"chance {_f(chance)}" + (f", a guesser's 95% band {_f(band[0])}-{_f(band[1])}"
                                                   if band else ""))
        figures.append(f"{label} {_f(z[name])}" + (f" ({'; '.join(notes)})" if notes else ""))
    per = z.get("top1_per_subject")
    if isinstance(per, dict) and len(per) > 1:
        figures.append("top-1 per subject: " + ", ".join(f"subject {s} {_f(v)}" for s, v in per.items()))
    return f"- zero-shot retrieval ({what}): " + "; ".join(figures)


def _results(metrics: dict | None, training: dict) -> str:
    if not metrics:
        dec = training.get("decoder", {})
        rows = "\n".join(f"- {k.replace('_', ' ')}: {v:.3f}" for k, v in dec.items()
                         if isinstance(v, (int, float)) and k.startswith("val_"))
        # `eegviz train` evaluates every run whose test split eval can score (two trials or more); the runs of an
        # older eegviz skipped it where no generator was trained
        n_test = ((training.get("dataset") or {}).get("split_trials") or {}).get("test")
        why = (f"its test split holds {n_test} trial(s), fewer than the two `eegviz eval` scores"
               if isinstance(n_test, int) and n_test < 2 else "no generator for these stimuli")
        return (f"## Results\nNo test-split evaluation was run with this training ({why});\n"
                "run `eegviz eval`. Validation figures from training:\n" + rows + "\n")
    n = metrics.get("n_way")
    out = _results_heading(metrics)
    if "zero_shot" in metrics:
        out.append(_zero_shot_line(metrics["zero_shot"]))
    if "eeg_class_top1" in metrics:
        ci, band = metrics.get("eeg_class_top1_ci95"), metrics.get("eeg_class_top1_chance_band95")
        if ci and band:  # metrics.json files written before 2026-12-07 have neither
            out.append(f"- EEG class decoding (top-1): {metrics['eeg_class_top1']:.3f} (95% Wilson interval "
                       f"{ci[0]:.3f}-{ci[1]:.3f} over {metrics['eeg_class_top1_n_effective']} independent "
                       f"units, as the controls count them; chance {metrics['chance_top1']:.3f}, a guesser's 95% band "
                       f"{band[0]:.3f}-{band[1]:.3f})")
        else:
            out.append(f"- EEG class decoding (top-1): {metrics['eeg_class_top1']:.3f} "
                       f"(chance {metrics['chance_top1']:.3f})")
    if "embedding_cosine" in metrics:
        shuffled = metrics.get("embedding_cosine_shuffled")
        out.append(f"- caption embedding cosine to the true caption's: {metrics['embedding_cosine']:.3f}"
                   + (f" (to another trial's caption: {shuffled:.3f})" if _num(shuffled) else ""))
    sal = metrics.get("saliency")
    if isinstance(sal, dict) and "iou" in sal:
        flat = sal.get("ssim_flat_baselines", {})
        out.append(f"- saliency maps: SSIM {_f(sal.get('ssim'))} (a flat background-colour image scores "
                   f"{_f(flat.get('background'))}), mask IoU {_f(sal.get('iou'))} (maps shuffled across trials "
                   f"{_f(sal.get('shuffled_control', {}).get('iou'))}"
                   + (f"; one image for every trial with no EEG in it, where training objects tend to lie, "
                      f"{_f(sal['constant_guess'].get('iou'))}" if "constant_guess" in sal else "")
                   + f"), centroid r x/y {_f(sal.get('centroid_r_x'), 2)}"
                   f" / {_f(sal.get('centroid_r_y'), 2)}, colour accuracy {_f(sal.get('colour_acc'))} (chance "
                   f"{_f(sal.get('colour_chance'))})")
        where = sal.get("at_true_place")
        if where:
            parts = [f"the true {label} alone: {_f(sal[key].get('iou'))}" for key, label in
                     (("at_true_centroid", "centroid"), ("at_true_size", "size")) if key in sal]
            out.append(f"- the same maps redrawn at the stimulus's own centroid and size (a diagnostic: what "
                       f"where-decoding costs): mask IoU {_f(where.get('iou'))}"
                       + (f" ({'; '.join(parts)})" if parts else "")
                       + (f"; for reference, the true silhouettes drawn unturned (the simulated EEG carries no "
                          f"turn): {_f(sal['unturned_reference'].get('iou'))}" if "unturned_reference" in sal else ""))
    if "classifier_top1_on_true_stimuli" in metrics:
        out.append(f"- classifier on the true stimuli (its ceiling): {metrics['classifier_top1_on_true_stimuli']:.3f}")
    a = metrics.get("ablation")
    if a:
        head = f"{n}-way top-1" if n else "top-1"
        out += ["", f"| reconstructions | {head} | SSIM | mask IoU | centroid r x | centroid r y | colour | IS* |",
                "|---|---|---|---|---|---|---|---|"]
        out += [_row(k, v, n) for k, v in a.items()]
        controls = {k: v for k, v in metrics.get("generation_controls", {}).items() if "ssim" in v}
        out += [_row(f"control: {k.replace('_', ' ')}", v, n) for k, v in controls.items()]
        if "true_caption_ceiling" in metrics:
            out.append(_row("ceiling: true caption, text only", metrics["true_caption_ceiling"], n))
        if "ssim" in metrics.get("true_caption_decoded_maps", {}):
            out.append(_row("ceiling: true caption with the decoded maps", metrics["true_caption_decoded_maps"], n))
        if "ssim" in metrics.get("saliency_map_itself", {}):
            out.append(_row("the decoded map itself, no generation", metrics["saliency_map_itself"], n))
        if "ssim" in metrics.get("true_map_ceiling", {}):
            out.append(_row("ceiling: true stimulus as the map, true caption", metrics["true_map_ceiling"], n))
        full = a.get("label+saliency", {})
        if "centre_err" in full:
            drawn = 1 - full.get("empty_fraction", 0)
            within = [_f(full.get(f"centroid_r_{axis}_within_class"), 2) for axis in ("x", "y")]
            out += ["", f"Where, beyond the table (label + saliency): centroid error {_f(full.get('centroid_err'))} "
                        f"over the reconstructions with an object ({drawn:.0%} of them), against "
                        f"{_f(full['centre_err'])} for always guessing the image centre; centroid r within class "
                        f"(class means removed, so the class alone scores 0) x / y {within[0]} / {within[1]}."]
        flat = metrics.get("ssim_flat_baselines", {})
        if flat:
            out += ["", f"SSIM (Gaussian window) baselines: a flat image of each stimulus's background colour "
                        f"scores {flat['background']:.3f}, a flat mean grey {flat['mean_grey']:.3f}."]
        for branch in ("saliency", "latent"):
            vs = metrics.get("generation_controls", {}).get(f"{branch}_vs_shuffled")
            if not vs or "skipped" in vs:
                continue
            what = "saliency maps" if branch == "saliency" else "latents (the latent branch)"
            units = f" over {vs['units']} resampled units (subject, image)" if _num(vs.get("units")) else ""
            vs = {k: d for k, d in vs.items() if isinstance(d, dict)}
            defined = {k: d for k, d in vs.items() if _defined_diff(d)}
            out.append(f"Decoded minus shuffled {what}, reconstructions (95% bootstrap interval{units}): " + "; ".join(
                f"{k.replace('_', ' ')} {d['diff']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]" if k in defined
                else f"{k.replace('_', ' ')} {_signed(d.get('diff'))} (interval undefined)"
                if isinstance(d, dict) and _num(d.get("diff")) else f"{k.replace('_', ' ')} undefined"
                for k, d in vs.items()))
            better = [k for k, d in defined.items()
                      if (d["ci95"][1] < 0 if k == "centroid_err" else d["ci95"][0] > 0)]
            undefined = [k for k in vs if k not in defined]
            out += ["", f"Reading: the decoded {what} beat ones shuffled across trials on {len(better)} of "
                        f"{len(defined)} object-region metrics of the reconstructions"
                        + (f" ({', '.join(better)})" if better else "")
                        + (f", {', '.join(undefined)} undefined (a constant prediction has no correlation) and "
                           "left out" if undefined else "")
                        + "; a claim that this branch steers where, how big or what colour stands only where "
                          "this interval excludes zero.", ""]
            gc = metrics.get("generation_controls", {})
            guess, d = gc.get("constant_guess"), gc.get(f"{branch}_vs_constant_guess", {}).get("iou")
            if guess and _defined_diff(d or {}):
                out += [f"Mask IoU against one image drawn for every trial with no EEG in it (where training objects "
                        f"tend to lie; {_f(guess.get('iou'))}): decoded {what} {d['diff']:+.3f} "
                        f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]; shuffled ones score below it, since they "
                        "sit in another trial's place.", ""]
        if "is_true_stimuli" in metrics:
            out += ["", f"*IS under the evaluation classifier over shuffled splits; the true stimuli score "
                        f"{metrics['is_true_stimuli']['mean']:.1f} on it."]
    return "\n".join(out) + "\n"


_GEN_ROWS = {
    "text_only_label": "text only, label caption (the caption's ceiling)",
    "text_only_rich": "text only, rich caption",
    "blob_label": "true-silhouette blob (a blurred silhouette: some shape) + label caption",
    "blob_rich": "true-silhouette blob + rich caption",
    "ellipse_label": "moment-matched ellipse (place, size, colour; no shape) + label caption",
    "control_blob_shuffled_label": "control: blob shuffled across images",
    "control_flat_label": "control: flat grey start",
    "init_blob_itself": "control: the true blob itself, not generated from",
    "init_ellipse_itself": "control: the ellipse itself, not generated from",
}


def _gan_retrain(training: dict) -> str:
    """The saliency GAN retrained alone after `eegviz train` (eegviz.train.saliency_stage): its own command, time
    and data, so the Retrain section reproduces the shipped GAN and not the first run's."""
    r = (training.get("decoder") or {}).get("saliency_stage_retrained")
    if not r:
        return ""
    data = f" on `{r['data']}`" if r.get("data") else ""
    return (f"\nThen the saliency GAN was retrained alone on the decoder's encoders ({r.get('gan_steps', '?')} steps"
            f"{data}, {r.get('seconds', 0) / 60:.0f} min more); this, not the first command's GAN, is what ships:\n\n"
            f"    {r.get('command', 'python -m eegviz.train.saliency_stage --model MODEL_DIR --data DATA')}\n\n")


def _generator(training: dict) -> str:
    """The generator judged alone on held-out renders (no EEG): what it can draw when its inputs are right, each
    figure beside the classifier's own ceiling and the controls that take the blob or the caption away."""
    g = training.get("generator") or {}
    test = g.get("test")
    if not isinstance(test, dict):
        return ""
    out = ["", "## The generator alone, on held-out renders (no EEG)",
           f"{test.get('n', '?')} renders of a seed no training stage drew; {test.get('steps')} UNet pass(es) at "
           f"strength {test.get('strength')}. The classifier recognises {_f(test.get('classifier_on_renders'))} of "
           "the true renders (the ceiling of every top-1 below).", "",
           "| input | top-1 | mask IoU | centroid r x | centroid r y | colour |", "|---|---|---|---|---|---|"]
    for key, name in _GEN_ROWS.items():
        v = test.get(key)
        if isinstance(v, dict):
            out.append(f"| {name} | {_f(v.get('top1'))} | {_f(v.get('iou'))} | {_f(v.get('centroid_r_x'), 2)} | "
                       f"{_f(v.get('centroid_r_y'), 2)} | {_f(v.get('colour_acc'))} |")
    ae = (g.get("autoencoder") or {}).get("acceptance")
    if isinstance(ae, dict):
        line = g["autoencoder"].get("accept_line", 0.97)
        verdict = (f"below the {line:g} acceptance line" if not g["autoencoder"].get("accepted") else
                   "accepted" if line >= 0.97 else f"the acceptance line waived to {line:g}: a test-sized run")
        out += ["", f"Autoencoder: the classifier recognises {_f(ae.get('classifier_on_reconstructions'))} of its "
                    f"reconstructions of held-out renders, against {_f(ae.get('classifier_on_renders'))} of the "
                    f"renders themselves ({verdict})."]
    return "\n".join(out) + "\n"


def _curves(metrics: dict | None) -> str:
    """The repetition curve: class top-1 on test trials averaged over k repetitions of the same image."""
    rows = ((metrics or {}).get("curves") or {}).get("repetitions") or []
    if not rows:
        return ""
    out = ["", "## Averaged repetitions (test images shown several times)",
           "Class top-1 on test trials averaged over k repetitions of the same image (95% Wilson interval over "
           "the (subject, image) units, not the averages: the repetitions of one image share its stimulus; "
           "eegviz/eval/curves.py):", "",
           "| repetitions averaged | top-1 | n | images |", "|---|---|---|---|"]
    out += [f"| {r['repeats']} | {r['top1']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {r['n']} | "
            f"{r.get('n_images', '-')} |" for r in rows]
    first, last = rows[0], rows[-1]
    if first["repeats"] == 1 and first["top1"] > 0:
        gain = last["top1"] / first["top1"]
        ci = (last.get("gain_vs_single") or {}).get("ci95") or [None, None]
        if all(_num(x) for x in ci):
            how = (f"95% bootstrap interval over images, resampled alike for both figures: {ci[0]:.2f}x-"
                   f"{ci[1]:.2f}x")
        elif "gain_vs_single" in last:  # too few single-trial hits for the ratio to be resampled (gain_interval)
            how = ("no interval: the single-trial top-1 is 0 in over 5% of the bootstrap resamples over images, "
                   "too few single-trial hits for a ratio")
        else:  # an older metrics.json: only the averaged figure's own interval is known
            how = (f"the {last['repeats']}-repetition interval's ends over the single-trial figure: "
                   f"{last['ci_low'] / first['top1']:.2f}x-{last['ci_high'] / first['top1']:.2f}x, the uncertainty "
                   f"of the {last['repeats']}-repetition figure only")
        out += ["", f"{last['repeats']} averaged repetitions give {gain:.2f}x the single-trial top-1 ({how})."]
    return "\n".join(out) + "\n"


def _controls(metrics: dict | None) -> str:
    c = (metrics or {}).get("controls")
    if not c:
        return ""
    if "skipped" in c:  # a zero-shot split (an XDF session of one image per class) has no controls to tabulate;
        # the card said nothing and crashed on the missing table, leaving a trained model without its README.md
        return f"\n## Confound controls\nSkipped: {c['skipped']}.\n"
    names = ["image_split", "shuffled_labels", "leave_one_subject_out", "blocks_kept_apart"]
    rows = ["| control | " + " | ".join(v.replace("_", " ") for v in c["variants"]) + " |",
            "|---" * (len(c["variants"]) + 1) + "|"]
    for n in names:
        cells = []
        for v in c["variants"].values():
            r = v.get(n, {})
            cells.append(f"{r['top1']:.3f} [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]" if "top1" in r else "skipped")
        rows.append(f"| {n.replace('_', ' ')} | " + " | ".join(cells) + " |")
    checks = ", ".join(f"{k.replace('_', ' ')}: {'n/a' if v is None else 'yes' if v else 'NO'}"
                       for k, v in c["checks"].items())
    moot = (" (n/a: the probe's image split is not above chance, so there is no decoding for that control to "
            "test)") if None in c["checks"].values() else ""
    hp = (c.get("highpass_variant") or {}).get("skipped")
    return (f"\n## Confound controls\nA linear probe ({c['probe']}) refit per control, top-1 with 95% Wilson "
            f"interval; chance {c['chance']:.3f}. See eegviz/eval/controls.py for what each control asks.\n\n"
            + "\n".join(rows) + f"\n\nReading: {checks}{moot}.\n"
            + (f"\nNo high-pass variant: {hp}.\n" if hp else ""))


def _simulated(d: dict) -> str:
    sim = d.get("simulator")
    if not sim:
        return ""
    k = sim["knobs"]
    snr = sim.get("class_snr_db_measured")
    on = ", ".join(f"{name} {value:g}" for name, value in k.items()
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and value
                   and name not in ("class_snr_db", "line_hz"))
    return (f"Simulated (eegviz/world/sim_config.py): class SNR {snr:+.1f} dB measured" if snr is not None
            else "Simulated (eegviz/world/sim_config.py): the demo world's class strength") + f"; {on}.\n"


_RECORDS = (
    ("training.json", "how it was trained: data, options, stage times, choices made on validation, `command`"),
    ("seen_images.json", "the images it trained or made choices on; `eegviz eval` refuses a test split showing one"),
    ("latent_branch.json", "the latent branch's fit: its data, validation R^2 and penalty"),
    ("report/", "the test-split evaluation: metrics.json and its plots"),
)


def _artefacts(training: dict, metrics: dict | None) -> str:
    """The epochs `--reject-uv` dropped, per split, with the threshold ("" where none was set): a card that gave the
    kept counts alone left a reader taking them for the recording's, and the live threshold with no figure. The
    evaluation is said to have dropped the same ones only where there is one that did (metrics.json's "artefacts"):
    a card is written without an evaluation too (a test split under two trials), and spoke of one "below"."""
    from eegviz.data.artefacts import dropped_words

    words = dropped_words(training.get("artefacts"))
    if words is None:
        return ""
    evaluated = (metrics or {}).get("artefacts") is not None
    return (f"Artefact rejection: {words} (peak to peak on any channel as the decoder reads the epoch; the counts "
            "above are of the epochs kept" + (", and the evaluation below dropped the same ones" if evaluated else "")
            + ").\n")


def write_model_card(model_dir: Path, training: dict, metrics: dict | None) -> Path:
    """MODEL_DIR/README.md from training.json's content (and the evaluation, when one was run)."""
    model_dir = Path(model_dir)
    d = training["dataset"]
    parts = ["decoder: triplet-trained EEG encoder, conditional saliency GAN, EEG -> caption-embedding "
             f"regressor ({training.get('text_encoder', 'hash')} text space, {training.get('caption', 'label')} "
             "captions) - eeg_encoder/, attribute_encoder/, saliency_generator/, semantic_regressor/, "
             "prototypes.safetensors, decoder.json"]
    if (model_dir / "model_index.json").exists():
        s = (metrics or {}).get("sampling") or {}
        chosen = f", {s['steps']} step(s) at strength {s['strength']} chosen on validation" if s else ""
        text = ", text_encoder/, tokenizer/ (MiniLM)" if (model_dir / "text_encoder").is_dir() else ""
        parts.append(f"generator: the embedded few-step img2img diffusers pipeline{chosen} - model_index.json, "
                     f"vae/, unet/, scheduler/{text}, sampling.json")
    if (model_dir / "latent_regressor").is_dir():
        parts.append("latent_regressor/: the second pixel branch, a ridge map from the epoch to the VAE's latent of "
                     "the stimulus; img2img starts from it with `--init latent`")
    if (model_dir / "stimulus_classifier").is_dir():
        parts.append("stimulus_classifier/: the stimulus classifier `eegviz eval` scores reconstructions with")
    # the records beside the networks: a card that named only the networks left seen_images.json out of what a
    # user copies with the model, and with it `eegviz eval`'s refusal of a test split the model has seen
    records = [f"{name} ({what})" for name, what in _RECORDS if (model_dir / name.rstrip("/")).exists()]
    if records:
        parts.append("records kept with the model: " + "; ".join(records))
    origin = ("Trained in-house on eegviz's synthetic world (procedural stimuli + simulated EEG); it has never "
              "seen real EEG." if training.get("synthetic") else f"Trained on the EEG dataset at `{d['path']}`.")
    minutes = training.get("total_train_seconds", 0) / 60
    text = f"""{_yaml(model_dir.name, training, metrics)}

# {model_dir.name}

{origin}

## Parts
""" + "\n".join(f"- {p}" for p in parts) + f"""

## Data
{d['trials']} trials of {d['classes']} classes ({d['images']} images), {d['subjects']} subject(s),
{d['channels']} channels at {d['sfreq']:g} Hz, window {d['window_s'][0]:g}..{d['window_s'][1]:g} s; split{' by ' + d['split_by'] if d.get('split_by') else ''}:
{d['split_trials']['train']} train / {d['split_trials']['val']} validation / {d['split_trials']['test']} test trials.
{_artefacts(training, metrics)}{_simulated(d)}
{_results(metrics, training)}{_generator(training)}{_curves(metrics)}{_controls(metrics)}
## Retrain
    {training.get('command', 'eegviz train --data DATA --out MODEL_DIR')}

Training took {minutes:.0f} min on {training.get('threads', '?')} CPU thread(s) x {training.get('world_size', 1)} process(es){_resumed(training)}.
{_gan_retrain(training)}{('Note: ' + training['note']) if training.get('note') else ''}
"""
    path = model_dir / "README.md"
    with replacing(path) as tmp:  # `train --resume` rewrites an existing card: a full disk must not cut it short
        tmp.write_text(text)
    return path
