"""`eegviz sweep`: how decoding depends on the signal. Simulate at each class SNR, train the decoder, score it
against the number of averaged repetitions, and write DIR/curves.json + DIR/curves.png.

Why a sweep: one accuracy at one simulator setting says how hard that setting is, not how much signal the
method needs. The curve over SNR (and over averaged repetitions) does, and it can be held next to published
real-data figures. Those anchors are THINGS-EEG2 zero-shot 200-way top-1 on test trials averaged over 80
repetitions: NICE 15.6% (Song et al. 2024), ATM 28.5% (Li et al. 2024), UBP 50.9% (Wu et al. 2025). They are
NOT the same task as the synthetic world's 40-way class decoding (200 unseen concepts, retrieval by
embedding, natural images), so they are drawn as reference lines, not as points on the curve.

Defaults are small and fast (decoder only: no generator, no sampler search; a short triplet stage): a sweep
is a study of the decoder, and `eegviz train` makes the shipped model. The controls' linear probe is scored
beside the decoder on every level, since it is the proxy the realistic preset was calibrated with.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

from eegviz.errors import EegvizError


ANCHORS = ({"name": "NICE", "top1": 0.156}, {"name": "ATM", "top1": 0.285}, {"name": "UBP", "top1": 0.509})
ANCHOR_NOTE = ("THINGS-EEG2 zero-shot 200-way top-1 at 80 averaged repetitions; a different task from 40-way "
               "class decoding of the synthetic world, shown for scale only")

# The smallest --images that trains. eegviz.data.synthetic.trial_list gives the test split max(1, n // 10) images
# of each class, validation as many, training the rest: below 3 the training split is empty and the decoder's
# first stage fails on it, after a whole level has been simulated.
MIN_IMAGES = 3
TEXT_ENCODER = "minilm"  # the caption space the sweep's decoders are trained in (train_decoder's default)
OUT_WHAT = "a sweep (curves.json, curves.png, one dataset per level)"
# a sweep does not resume; a stopped one leaves what it finished (run_sweep writes curves.json after each level)
OUT_HINT = (" (a sweep does not resume: a stopped one's curves.json holds the levels it finished and lists the rest "
            "under levels_not_run, to sweep into another --out)")


def parse_levels(text: str) -> list[float]:
    items = text.split(",")
    if len(items) > 1 and not all(v.strip() for v in items):
        # `--snr-db=-20,,-10` (a level lost in editing, or an unset "$LEVEL") skipped the empty item without a word
        raise EegvizError(f"--snr-db '{text}' has an empty level between its commas; give each level as a number")
    try:
        levels = [float(v) for v in items if v.strip()]
    except ValueError:
        raise EegvizError(f"--snr-db takes dB values separated by commas, e.g. -20,-15,-10, not '{text}'") from None
    if not levels:
        raise EegvizError("--snr-db needs at least one level")
    if not all(math.isfinite(v) for v in levels):
        raise EegvizError(f"--snr-db takes finite dB values, not '{text}'")
    from eegviz.world.sim_config import MAX_CLASS_SNR_DB

    if max(levels) > MAX_CLASS_SNR_DB:  # refused here, not after the levels before it have trained
        raise EegvizError(f"--snr-db levels must be at most {MAX_CLASS_SNR_DB:g} dB (the simulator's limit), got "
                          f"{max(levels):g}")
    levels = [v + 0.0 for v in levels]  # -0 is 0: one level, one folder
    names = [level_name(v) for v in levels]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:  # one folder per level: with --keep-data the second would be refused after the first has trained
        raise EegvizError(f"--snr-db lists {twice} dB more than once; give each level once")
    return levels


def level_name(db: float) -> str:
    """A level as its data folder names it (DIR/data_snr-10); two levels with one name would share a folder."""
    return f"{db:+g}"


def check_sweep_options(*, subjects: int, n_per_class: int, seed: int, epochs: int, gan_steps: int,
                        average_augment: float) -> None:
    """The sweep's numbers, checked before any folder is made: they used to be checked by the code that uses
    them, after the first level's simulation had written DIR/data_snr.../, so the corrected rerun was refused
    for the files the refused run left. The training options go through `eegviz train`'s own check, so the two
    commands accept the same values (the sweep has no other training options: train's defaults stand in)."""
    from eegviz.checks import check_at_least, check_range
    from eegviz.train.run import check_options as check_train_options

    check_at_least(subjects, "--subjects", 1)
    check_at_least(n_per_class, "--images", MIN_IMAGES,
                   hint="images per class: the test and validation splits take at least one image of each class, "
                        "and training needs at least one more")
    check_train_options(epochs=epochs, gan_steps=gan_steps, seed=seed, threads=None, highpass=0.0, notch=0.0,
                        text_encoder=TEXT_ENCODER, classifier_images=1, classifier_epochs=1, gen_sizes={})
    check_range(average_augment, "--average-augment", 0.0, 1.0, hint="the share of averaged training examples")


def run_sweep(out: Path, levels: list[float], cfg, subjects: int = 1, n_per_class: int = 20, seed: int = 0,
              epochs: int = 4, gan_steps: int = 50, keep_data: bool = False, average_augment: float = 0.5,
              on_level=None) -> dict:
    """The sweep (see the module docstring); returns what curves.json holds. The numbers are checked first
    (check_sweep_options): nothing is written for a run that is refused. on_level(row) is called as each level's
    row is written (the command prints it: a level takes minutes, and the figures came only at the very end)."""
    import dataclasses

    from eegviz.atomic import replacing, write_json_atomic
    from eegviz.data.synthetic import check_simulation_size, load_dataset, simulate_dataset
    from eegviz.eval.controls import wilson
    from eegviz.eval.curves import probe_curve, repetition_counts, repetition_curve
    from eegviz.eval.report import decode_eeg, decode_split
    from eegviz.paths import claim_new_output
    from eegviz.train.decoder import train_decoder

    check_sweep_options(subjects=subjects, n_per_class=n_per_class, seed=seed, epochs=epochs, gan_steps=gan_steps,
                        average_augment=average_augment)
    # each level's dataset in turn: one that cannot fit was refused after the folder was made, and left it empty
    check_simulation_size(subjects, n_per_class, cfg, fix="fewer --images or --subjects")
    out = Path(out)
    claim_new_output(out, "--out", OUT_WHAT, OUT_HINT)
    rows = []
    for db in levels:
        data = out / f"data_snr{level_name(db)}"
        level_cfg = dataclasses.replace(cfg, class_snr_db=db)
        try:
            simulate_dataset(data, subjects=subjects, n_per_class=n_per_class, seed=seed, config=level_cfg)
            measured = json.loads((data / "dataset.json").read_text())["class_snr_db"]
            ds = load_dataset(data)
            dec, _ = train_decoder(ds, epochs=epochs, gan_steps=gan_steps, seed=seed, average_augment=average_augment,
                                   text_encoder=TEXT_ENCODER)
            test_idx = ds.subset("test")
            row = {"snr_db": db, "class_snr_db_measured": measured,
                   "decoder": repetition_curve(ds, test_idx, lambda x: decode_eeg(x, dec)["scores"].argmax(1), seed),
                   "probe": probe_curve(ds, dec.spec, seed=seed)}
            if not row["decoder"]:  # no repetitions: the single-trial point
                top1 = float((decode_split(ds, dec, test_idx)["scores"].argmax(1) == ds.labels[test_idx]).mean())
                lo, hi = wilson(top1 * len(test_idx), len(test_idx))
                # n_images as every curve row has it ((subject, image) units; one per trial here): it was missing
                row["decoder"] = [{"repeats": 1, "top1": top1, "ci_low": lo, "ci_high": hi, "n": int(len(test_idx)),
                                   "n_images": len(repetition_counts(ds, test_idx))}]
        except BaseException:
            # a level stopped (Ctrl-C, a job's time limit) or refused part way left its simulated data in --out
            # without --keep-data: the whole dataset once it was simulated, a partial one before (GiBs at real
            # sizes, and curves.json lists that level as not run)
            if not keep_data:
                shutil.rmtree(data, ignore_errors=True)
            raise
        rows.append(row)
        if not keep_data:
            shutil.rmtree(data)
        # written after every level, not once at the end: a sweep stopped at its last level (Ctrl-C, a job's time
        # limit) lost every level it had finished, and a rerun into its --out is refused (a sweep does not resume)
        result = {"task": f"{len(ds.classes)}-way class decoding of the synthetic world, test images unseen",
                  "chance": 1.0 / len(ds.classes),
                  "sim": {**cfg.as_dict(), "class_snr_db": "per level (levels[].snr_db)"}, "subjects": subjects,
                  # the seed of the simulated world and of training: without it curves.json did not say which
                  # world its points were measured on (another seed's is another world), nor how to make them again
                  "n_per_class": n_per_class, "seed": seed,
                  "training": {"epochs": epochs, "gan_steps": gan_steps, "average_augment": average_augment,
                               "text_encoder": TEXT_ENCODER},
                  "levels": rows, "levels_not_run": levels[len(rows):], "anchors": list(ANCHORS),
                  "anchors_note": ANCHOR_NOTE}
        write_json_atomic(out / "curves.json", result, default=float)
        with replacing(out / "curves.png") as tmp:
            plot_sweep(result, tmp)
        if on_level is not None:
            on_level(row)
    return result


def level_line(row: dict) -> str:
    """One level's figures, as the sweep prints them when the level is done."""
    return (f"{row['snr_db']:+g} dB (measured {row['class_snr_db_measured']:+.1f}): decoder {_fmt(row['decoder'])}; "
            f"probe {_fmt(row['probe'])}")


def _fmt(curve: list[dict]) -> str:
    """Each point with its 95% interval: the figures were printed bare, and at sweep sizes (40 test images) the
    interval spans about +-0.07, so "1x 0.037, 2x 0.062" read as a gain that its own intervals do not show."""
    return ", ".join(f"{p['repeats']}x {p['top1']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}]" for p in curve)


def plot_sweep(result: dict, path: Path) -> None:
    """Top-1 against measured class SNR, one line per number of averaged repetitions (decoder solid, probe
    dashed), chance and the real-data anchors as labelled horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    x = [r["class_snr_db_measured"] for r in result["levels"]]
    reps_all = sorted({p["repeats"] for r in result["levels"] for who in ("decoder", "probe") for p in r[who]})
    for who, style in (("decoder", "-"), ("probe", "--")):
        reps = sorted({p["repeats"] for r in result["levels"] for p in r[who]})
        for k in reps:
            pts = [(xi, next((p for p in r[who] if p["repeats"] == k), None)) for xi, r in zip(x, result["levels"])]
            # in x order, not the order the levels were asked in: `--snr-db=0,-20,-10` drew a line from 0 straight
            # to -20 past the -10 point and a self-crossing interval band (and measured SNRs of close levels can
            # swap places even when the levels are asked in order)
            pts = sorted(((xi, p) for xi, p in pts if p is not None), key=lambda xp: xp[0])
            line, = ax.plot([a for a, _ in pts], [p["top1"] for _, p in pts], style, marker="o", ms=3,
                            color=f"C{reps_all.index(k)}", label=f"{who}, {k} averaged")
            ax.fill_between([a for a, _ in pts], [p["ci_low"] for _, p in pts], [p["ci_high"] for _, p in pts],
                            color=line.get_color(), alpha=0.12)
            if len({a for a, _ in pts}) == 1:
                # a band over one x has no width: a one-level sweep's figure showed its points with no interval
                # at all (the y axis says "95% CI"), so a single level's intervals are drawn as error bars
                below, above = [p["top1"] - p["ci_low"] for _, p in pts], [p["ci_high"] - p["top1"] for _, p in pts]
                ax.errorbar([a for a, _ in pts], [p["top1"] for _, p in pts], yerr=[below, above], fmt="none",
                            ecolor=line.get_color(), elinewidth=0.8, capsize=3)
    ax.axhline(result["chance"], color="k", lw=1, ls=":", label=f"chance ({result['chance']:.3g})")
    for a in result["anchors"]:
        ax.axhline(a["top1"], color="grey", lw=0.8, ls="-.")
        ax.text(min(x), a["top1"] + 0.01, f" {a['name']} {a['top1'] * 100:.1f}% (THINGS-EEG2 200-way, 80 reps)",
                fontsize=7, va="bottom", color="grey")
    ax.set_xlabel("class-discriminative SNR (dB, measured)")
    ax.set_ylabel("top-1 (95% CI)")
    ax.set_ylim(0, 1)
    stopped = result.get("levels_not_run")  # a sweep stopped before its last level (run_sweep)
    not_run = f"\nstopped: {', '.join(f'{v:+g}' for v in stopped)} dB not run" if stopped else ""
    ax.set_title(result["task"] + "\n" + _setup_line(result) + not_run, fontsize=8)
    fig.text(0.01, 0.01, "grey: " + result["anchors_note"], fontsize=6)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _setup_line(result: dict) -> str:
    """What the points were measured on, for the figure's title: a curves.png shown on its own (a slide, a
    report) said neither the seed nor the levels asked for (the x axis is the measured SNR), so two sweeps'
    figures could not be told apart. Fields an older curves.json lacks are left out."""
    parts = [f"seed {result['seed']}"] if "seed" in result else []
    if "subjects" in result and "n_per_class" in result:
        parts.append(f"{result['subjects']} subject(s) x {result['n_per_class']} images per class")
    if (train := result.get("training")) and {"epochs", "average_augment"} <= set(train):
        parts.append(f"decoder {train['epochs']} epochs, average-augment {train['average_augment']:g}")
    parts.append("levels asked " + ", ".join(f"{r['snr_db']:+g}" for r in result["levels"]) + " dB")
    return "; ".join(parts)


def cmd_sweep(args) -> int:
    from eegviz.checks import check_named
    from eegviz.paths import check_new_output
    from eegviz.world.sim_cli import config_from_args

    # every option before --out is made or anything simulated: the levels and the simulator's knobs here, the
    # numbers in run_sweep (check_sweep_options), before it writes
    check_named(args.out, "--out", "the folder to write")  # as a Path "" is the working directory
    levels = parse_levels(args.snr_db)
    if args.class_snr_db is not None:
        raise EegvizError("--class-snr-db is not a sweep option: each level's class SNR comes from --snr-db")
    cfg = config_from_args(args, class_snr_db=None)
    check_new_output(Path(args.out), "--out", OUT_WHAT, OUT_HINT)
    result = run_sweep(Path(args.out), levels, cfg, subjects=args.subjects, n_per_class=args.images,
                       seed=args.seed, epochs=args.epochs, gan_steps=args.gan_steps,
                       keep_data=args.keep_data, average_augment=args.average_augment,
                       on_level=lambda row: print(level_line(row), flush=True))
    # the chance level beside the figures printed above (top-1 [95% interval]), which did not say what 0.05 is
    print(f"eegviz: wrote {Path(args.out) / 'curves.json'} and curves.png (top-1 [95% interval]; chance "
          f"{result['chance']:.3g})")
    return 0


def add_arguments(sp) -> None:
    from eegviz.world.sim_cli import add_sim_arguments

    sp.add_argument("--snr-db", required=True, metavar="DB[,DB...]",
                    help="class SNR levels; write negative ones with =, e.g. --snr-db=-20,-15,-10")
    sp.add_argument("--out", required=True, help="folder for curves.json and curves.png")
    sp.add_argument("--subjects", type=int, default=1, help="simulated subjects")
    sp.add_argument("--images", type=int, default=20, help=f"images per class (at least {MIN_IMAGES}: one each for "
                                                             "the test, validation and training splits)")
    sp.add_argument("--seed", type=int, default=0, help="the simulated world's seed")
    sp.add_argument("--epochs", type=int, default=4, help="decoder triplet epochs (small: a sweep is a study)")
    sp.add_argument("--gan-steps", type=int, default=50, help="saliency GAN steps")
    sp.add_argument("--average-augment", type=float, default=0.5, metavar="P",
                    help="share of training examples that are same-class averages (eegviz train --average-augment)")
    sp.add_argument("--keep-data", action=argparse.BooleanOptionalAction, default=False,
                    help="keep each level's simulated dataset")
    add_sim_arguments(sp, preset="realistic", hidden=("--class-snr-db",))  # each level's comes from --snr-db
    sp.set_defaults(fn=cmd_sweep)
