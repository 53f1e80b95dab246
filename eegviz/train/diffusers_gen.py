"""Training the embedded default generator, end to end: autoencoder -> CFG teacher UNet -> 1-2 step student ->
sampler strength chosen on validation renders -> a diffusers pipeline folder (eegviz.train.pipeline_folder).

`eegviz train` calls train_diffusers_generator for synthetic-world data; `python -m eegviz.train.diffusers_gen
--out DIR` trains the generator and its 64 px classifier alone and writes DIR/results.json with the held-out
figures (eegviz.train.gen_eval). Stage sizes are steps; each also takes a wall-clock cap (minutes, 0 = none)
so a run on a loaded machine still ends on time, and records the steps it actually ran.

Each stage's weights go to DIR/stages/ as soon as it ends, then its record (stages/<stage>.json, written last and
atomically, so a record vouches for the weights beside it). `eegviz train --resume` loads every stage that has
its record instead of training it again; every stage seeds itself (torch and numpy, from --seed), so the stages
after it draw exactly what the uninterrupted run drew. A run killed in the student's distillation keeps the
classifier, autoencoder and teacher: about 35 of its 58 minutes on the 2026-12-02 VM.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from eegviz.errors import EegvizError

log = logging.getLogger(__name__)  # every stage of the embedded generator logs here (train.dist TRAINING_LOGGERS)

# (steps, strength) pairs scored on validation; with the scheduler's "trailing" spacing they start at
# t = 499, 332 (one pass) and 666, 499, 399 (two passes); see sampling.json's "timesteps".
SAMPLER_GRID = ((1, 0.5), (1, 0.34), (2, 0.7), (2, 0.5), (2, 0.4))

FULL = {"ae_steps": 2500, "unet_steps": 3000, "distill_steps": 1500, "ae_batch": 32, "unet_batch": 32,
        "distill_batch": 16, "val_per_class": 5}
# the tests' sizes: 3 autoencoder steps cannot pass the acceptance line, so it is waived ("ae_accept": 0)
TINY = {"ae_steps": 3, "unet_steps": 3, "distill_steps": 2, "ae_batch": 4, "unet_batch": 4, "distill_batch": 4,
        "val_per_class": 1, "ae": {"channels": (8, 16, 16)}, "unet": {"channels": (16, 32, 32), "head_dim": 8},
        "teacher_steps": 1, "grid": ((1, 0.5),), "guidance_grid": (3.0,), "ae_accept": 0.0}
class AutoencoderRejected(EegvizError):
    """The autoencoder fell below the acceptance line; its stage record stays in out/stages."""


# the autoencoder is accepted only where the stimulus classifier names its reconstructions of held-out renders
# this often (issue 15); below it, nothing is built on it
AE_ACCEPT = 0.97


# what a finished stage's record must hold for a resumed run to use it
STAGE_KEYS = {"classifier": ("seconds",), "vae": ("acceptance", "accepted", "config"), "teacher": ("config",),
              "guidance": ("guidance", "rows")}


def finished_stage(stages: Path, name: str) -> dict | None:
    """The record of a stage an earlier, interrupted run of this folder finished (see the module docstring)."""
    path = Path(stages) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EegvizError(f"{path}: unreadable stage record ({e}); remove it to train that stage again") from e
    missing = [k for k in STAGE_KEYS.get(name, ()) if k not in rec] if isinstance(rec, dict) else ["an object"]
    if missing:
        raise EegvizError(f"{path}: not a stage record (no {', '.join(missing)}); remove it to train that stage again")
    return rec


def record_stage(stages: Path, name: str, rec: dict) -> None:
    """Write a finished stage's record after its weights (temp file + rename: a crash leaves none or all)."""
    import numpy as np

    from eegviz.atomic import write_json_atomic

    write_json_atomic(Path(stages) / f"{name}.json", rec,
                      default=lambda v: v.item() if isinstance(v, np.generic) else str(v))


def train_diffusers_generator(out: Path, text, clf, *, seed: int = 0, caps: dict | None = None,
                              grid=SAMPLER_GRID, vae=None, teacher=None, guidance: float | None = None,
                              unet_lr: float = 1e-3, p_rich: float = 0.5, paired: float = 1.0, student=None,
                              distill_lr: float = 2e-4, resume: bool = False, **sizes) -> dict:
    """Train all stages and save the pipeline folder into `out`; returns the training record.

    vae: an already trained autoencoder to reuse (its stage is skipped; its acceptance is still scored with
    `clf`); teacher: a saved teacher UNet to continue training for unet_steps (see train_teacher's init; 0 steps
    reuses it as it is); student: a saved student to continue distilling instead of starting from the teacher;
    paired: the weight of the true latent as the student's target on blob starts (eegviz.train.distill);
    resume: load the stages an interrupted run of `out` finished (out/stages, module docstring) instead of
    training them again; they are taken as they are, so the options must be the interrupted run's (`eegviz
    train --resume` checks that against checkpoints/run.json: eegviz.train.run.check_same_run)."""
    from eegviz.train.autoencoder import score_reconstructions, train_autoencoder
    from eegviz.train.diffusion import build_scheduler, train_teacher
    from eegviz.train.distill import distill
    from eegviz.train.gen_eval import GUIDANCE_GRID, HeldOut, choose_guidance, choose_sampling
    from eegviz.train.pipeline_folder import save_pipeline
    from eegviz.train.renders import TEST_SEED, VAL_SEED, heldout_specs

    cfg = {**FULL, **sizes}
    grid = cfg.pop("grid", grid)
    caps = caps or {}
    t0 = time.perf_counter()
    stages = Path(out) / "stages"  # each stage's weights as soon as it ends: a failure later keeps them
    done = {name: finished_stage(stages, name) if resume else None
            for name in ("vae", "teacher", "guidance", "student")}
    if vae is None and done["vae"] is not None:
        vae, ae = load_stage(stages / "vae", "AutoencoderKL"), done["vae"]
        vae.eval().requires_grad_(False)
    else:
        if vae is None:
            vae, ae = train_autoencoder(steps=cfg["ae_steps"], batch=cfg["ae_batch"], seed=seed,
                                        config=cfg.get("ae"), max_minutes=caps.get("ae", 0.0))
        else:
            ae = {"reused": "an earlier run's autoencoder (--vae-from)", "scaling_factor": vae.config.scaling_factor,
                  "config": {"channels": list(vae.config.block_out_channels), "layers": vae.config.layers_per_block,
                             "latent_channels": vae.config.latent_channels}}
        vae.eval().requires_grad_(False)
        ae["acceptance"] = score_reconstructions(vae, clf, heldout_specs(cfg["val_per_class"], VAL_SEED + 2))
        ae["accept_line"] = cfg.get("ae_accept", AE_ACCEPT)
        ae["accepted"] = ae["acceptance"]["classifier_on_reconstructions"] >= ae["accept_line"]
        vae.save_pretrained(stages / "vae")
        record_stage(stages, "vae", ae)
    if not ae["accepted"]:
        raise AutoencoderRejected(f"the autoencoder's reconstructions of held-out renders are named right "
                          f"{ae['acceptance']['classifier_on_reconstructions']:.3f} of the time, below the "
                          f"{ae.get('accept_line', AE_ACCEPT):g} acceptance line: no generator is built on it; "
                          "train it longer (--ae-steps) into a new output folder")
    if teacher is None and done["teacher"] is not None:
        teacher, tm = load_stage(stages / "teacher", "UNet2DConditionModel"), done["teacher"]
        teacher.eval().requires_grad_(False)
    else:
        teacher, tm = train_teacher(vae, text, steps=cfg["unet_steps"], batch=cfg["unet_batch"], seed=seed,
                                    config=cfg.get("unet"), max_minutes=caps.get("unet", 0.0), init=teacher,
                                    lr=unet_lr, p_rich=p_rich)
        teacher.save_pretrained(stages / "teacher")
        record_stage(stages, "teacher", tm)
    sched = build_scheduler()
    val = HeldOut(text, cfg["val_per_class"], VAL_SEED)
    guidance_rows = []
    if guidance is None and done["guidance"] is not None:
        guidance, guidance_rows = done["guidance"]["guidance"], done["guidance"]["rows"]
    elif guidance is None:
        guidance, guidance_rows = choose_guidance(vae, teacher, sched, val, clf, torch.from_numpy(text.encode([""])),
                                                  grid=cfg.get("guidance_grid", GUIDANCE_GRID), paired=paired,
                                                  n_steps=cfg.get("teacher_steps", 3), seed=seed)
        record_stage(stages, "guidance", {"guidance": guidance, "rows": guidance_rows})
        log.info(f"generator: guidance {guidance} baked into the student (chosen on validation)")
    if student is None and done["student"] is not None:
        student, dm = load_stage(stages / "student", "UNet2DConditionModel"), done["student"]
        student.eval().requires_grad_(False)
    else:
        student, dm = distill(teacher, vae, text, steps=cfg["distill_steps"], batch=cfg["distill_batch"], seed=seed,
                              teacher_steps=cfg.get("teacher_steps", 3), max_minutes=caps.get("distill", 0.0),
                              guidance=guidance, p_rich=p_rich, paired=paired, init=student, lr=distill_lr)
        student.save_pretrained(stages / "student")
        record_stage(stages, "student", dm)
    resumed = [name for name, rec in done.items() if rec is not None]
    if resumed:
        log.info(f"generator: --resume loaded the finished stages {', '.join(resumed)} from {stages}")
    chosen, rows = choose_sampling(vae, student, sched, val, clf, grid, seed=seed)
    log.info(f"generator: {chosen['steps']} step(s) at strength {chosen['strength']} (chosen on validation)")
    save_pipeline(out, vae, student, sched, {**chosen, "caption": "label or rich (both trained)",
                                             "text_encoder": text.name, "trained_seed": seed})
    return {"kind": "diffusers", "autoencoder": ae, "teacher": tm, "distill": dm, "sampling": chosen,
            "resumed_stages": resumed,
            "sampling_on_val": rows,
            "guidance": guidance, "guidance_on_val": guidance_rows, "seconds": time.perf_counter() - t0, "seed": seed,
            "render_seeds": {"train": ">= 1000 (fresh every batch)", "val": VAL_SEED, "ae_check": VAL_SEED + 2,
                             "test": TEST_SEED},
            "sizes": {k: v for k, v in cfg.items() if k not in ("ae", "unet")}, "caps_minutes": caps,
            "architecture": {"autoencoder": ae["config"], "unet": tm["config"]}}


def score_alone(out: Path, text, clf, *, seed: int = 0, per_class: int = 10) -> dict:
    """The saved pipeline judged alone on held-out renders (no EEG; seed TEST_SEED, which no stage drew): every
    input condition of eegviz.train.gen_eval with its controls, and batch-1 latency. Loaded back through
    diffusers' loader, so what is scored is what was saved."""
    from eegviz.generators.diffusers_sd import read_sampling
    from eegviz.train.gen_eval import HeldOut, evaluate_generator, latency_ms
    from eegviz.train.pipeline_folder import load_components
    from eegviz.train.renders import TEST_SEED

    vae, unet, sched = load_components(out)
    test = HeldOut(text, per_class, TEST_SEED)
    saved = read_sampling(out)
    s = {"steps": saved["steps"], "strength": saved["strength"]}
    return {"test": evaluate_generator(vae, unet, sched, test, clf, seed=seed, **s),
            "latency_ms": latency_ms(vae, unet, sched, test.label_states, **s)}


def load_stage(folder: Path, kind: str):
    """A saved diffusers stage (AutoencoderKL or UNet2DConditionModel) from an earlier run; a folder without one is
    a one-line EegvizError. Loaded as every eegviz part is (eegviz.component.load_component: offline,
    safetensors only, so a stage folder cannot run code; a corrupt file is one line too)."""
    import diffusers

    from eegviz.component import load_component

    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise EegvizError(f"{folder} holds no saved {kind} (config.json + safetensors)")
    return load_component(getattr(diffusers, kind), folder)


def main(argv=None) -> int:
    """The generator and its classifier alone, with held-out figures: DIR/results.json."""
    p = argparse.ArgumentParser(prog="python -m eegviz.train.diffusers_gen", allow_abbrev=False)  # in full only
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tiny", action="store_true", help="toy sizes (a smoke run)")
    p.add_argument("--test-per-class", type=int, default=10)
    for k in FULL:
        p.add_argument("--" + k.replace("_", "-"), type=int)
    for k in ("ae", "unet", "distill"):
        p.add_argument(f"--{k}-minutes", type=float, default=0.0)
    p.add_argument("--classifier", metavar="DIR",
                   help="use the stimulus classifier saved in DIR (a rerun's) instead of training one")
    p.add_argument("--vae-from", metavar="DIR", help="reuse the autoencoder saved in DIR (an earlier run's "
                   "stages/vae) instead of training one")
    p.add_argument("--teacher-from", metavar="DIR", help="continue training the teacher UNet saved in DIR (an "
                   "earlier run's stages/teacher) for --unet-steps more steps")
    p.add_argument("--unet-lr", type=float, default=1e-3, help="the teacher's peak learning rate")
    p.add_argument("--student-from", metavar="DIR", help="continue distilling the student UNet saved in DIR (an "
                   "earlier run's unet/) instead of starting the student from the teacher")
    p.add_argument("--paired", type=float, default=1.0, help="weight of the true picture's latent as the student's "
                   "target where its input starts from a blob (0: the teacher's path only; 1, the default: the true "
                   "latent only; chosen on validation renders, see README)")
    p.add_argument("--distill-lr", type=float, default=2e-4, help="the student's peak learning rate")
    p.add_argument("--p-rich", type=float, default=0.5, help="the share of training captions that are the rich "
                   "caption (colour, size, place) rather than the label caption")
    p.add_argument("--guidance", type=float, help="the classifier-free guidance baked into the student (default: "
                   "chosen on validation from 3, 5, 8)")
    p.add_argument("--classifier-images", type=int, default=200)
    p.add_argument("--classifier-epochs", type=int, default=15)
    a = p.parse_args(argv)
    try:
        return _run(a)
    except EegvizError as e:  # refused options before anything is written; a rejected autoencoder after its stage
        print(f"eegviz: {e}", file=sys.stderr)
        return 2


def _run(a) -> int:
    from eegviz.checks import check_at_least, check_threads
    from eegviz.decoders.text import make_text_encoder
    from eegviz.eval.classifier import load_classifier, save_classifier, train_classifier
    from eegviz.paths import check_new_output

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out = Path(a.out)
    t0 = time.perf_counter()
    clf = vae = teacher = student = None
    # before anything is written: a wrong folder or value is one line and no output folder
    check_threads(a.threads)
    torch.set_num_threads(a.threads)
    for flag, value in (("--test-per-class", a.test_per_class), ("--classifier-images", a.classifier_images),
                        ("--classifier-epochs", a.classifier_epochs)):
        check_at_least(value, flag, 1)
    check_new_output(out, "--out", "a generator run", " (an earlier run's folder is read with --vae-from, "
                     "--teacher-from, --student-from and --classifier)")
    if not 0.0 <= a.paired <= 1.0:
        raise EegvizError(f"--paired is a weight between 0 and 1, not {a.paired:g}")
    for k in FULL:  # steps, batches, renders per class: --ae-steps -5 used to start training
        if getattr(a, k) is not None and getattr(a, k) < 1:
            raise EegvizError(f"--{k.replace('_', '-')} must be >= 1, not {getattr(a, k)}")
    if a.classifier:
        clf = load_classifier(Path(a.classifier))
    if a.vae_from:
        vae = load_stage(Path(a.vae_from), "AutoencoderKL")
    if a.teacher_from:
        teacher = load_stage(Path(a.teacher_from), "UNet2DConditionModel")
    if a.student_from:
        student = load_stage(Path(a.student_from), "UNet2DConditionModel")
    out.mkdir(parents=True, exist_ok=True)
    text = make_text_encoder("minilm")
    if clf is None:
        clf = train_classifier(n_per_class=a.classifier_images, epochs=a.classifier_epochs, seed=1, size=64)
    save_classifier(clf, out)
    t_clf = time.perf_counter() - t0
    log.info(f"classifier (64 px, seed 1): {'loaded from ' + a.classifier if a.classifier else 'trained'}, "
             f"{t_clf:.0f} s")
    sizes = {**(TINY if a.tiny else {}), **{k: getattr(a, k) for k in FULL if getattr(a, k) is not None}}
    rec = train_diffusers_generator(out, text, clf, seed=a.seed, vae=vae, teacher=teacher, guidance=a.guidance,
                                    unet_lr=a.unet_lr, p_rich=a.p_rich, paired=a.paired, student=student,
                                    distill_lr=a.distill_lr, **sizes,
                                    caps={k: getattr(a, f"{k}_minutes") for k in ("ae", "unet", "distill")})
    rec.update(score_alone(out, text, clf, seed=a.seed, per_class=a.test_per_class))
    rec["classifier_seconds"] = t_clf
    rec["classifier"] = {"render_seed": None if a.classifier else 1, "loaded_from": a.classifier}
    rec["reused"] = {"classifier": a.classifier, "vae": a.vae_from, "teacher": a.teacher_from,
                     "student": a.student_from}
    rec["total_seconds"] = time.perf_counter() - t0
    (out / "results.json").write_text(json.dumps(rec, indent=1, default=str))
    log.info(f"done in {rec['total_seconds']:.0f} s: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
