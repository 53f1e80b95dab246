"""`eegviz train`: decoder, embedded generator and the evaluation classifier into one model folder,
then a test-split evaluation and a model card, so the folder documents itself.

Runs as one process or under torchrun (see eegviz.train.dist); checkpoints in MODEL_DIR/checkpoints make it
resumable with --resume.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch

from eegviz.errors import EegvizError

log = logging.getLogger(__name__)


# The caption spaces the in-house generator can be trained in: eegviz's own encoders, which need no SD model.
# "hash" is the weightless test fixture (with --generator-config tiny it keeps end-to-end tests fast).
IN_HOUSE_SPACES = ("minilm", "hash")
CLASSIFIER_SIZE = 64  # px of the evaluation classifier's renders (_train_diffusers)
# The largest --seed: it seeds scikit-learn (KMeans' random_state: at most 2**32 - 1) and torch (seed + 1000 * rank
# under torchrun; 64-bit), so 2**62 ended in a traceback after the run's checkpoints/run.json was written.
# scikit-learn takes seeds up to 2**32 - 1; room is left for the seeds derived from --seed (seed + 1 for the
# classifier, seed + 1000 x rank per process)
MAX_SEED = 2**32 - 1 - 2**20


def train_all(data: Path, out: Path, *, epochs: int = 30, gan_steps: int = 3000,
              seed: int = 0, threads: int | None = None,
              resume: bool = False, highpass: float = 0.0, notch: float = 0.0, reference: str = "",
              text_encoder: str = "hash", caption: str = "label",
              data_opts: dict | None = None, classifier_images: int = 200, classifier_epochs: int = 15,
              eval_controls: bool = True, gen_sizes: dict | None = None,
              gen_config: str = "full", average_augment: float = 0.0, decoder_only: bool = False,
              reject_uv: float | None = None) -> dict | None:
    """Train everything into `out`; returns the evaluation metrics (None on ranks other than 0).

    reject_uv: epochs whose peak to peak on any channel, as the decoder reads them, is over this many microvolts
    are dropped from every split, in training and in the evaluation that ends the run (eegviz.data.artefacts).

    Progress goes to the module loggers at INFO (`eegviz train` shows INFO by default); under torchrun only
    rank 0's progress lines pass (dist.main_rank_logging).
    """
    from eegviz.checks import check_range
    from eegviz.paths import check_creatable, check_new_output
    from eegviz.stream.reject import check_reject_uv
    from eegviz.train.dist import init_from_env, main_rank_logging

    # before anything is created: a refused run leaves no folder behind (and under torchrun every rank checks
    # before init_from_env's rendezvous, so no rank has written into `out` yet)
    check_options(epochs=epochs, gan_steps=gan_steps, seed=seed, threads=threads, highpass=highpass, notch=notch,
                   text_encoder=text_encoder, classifier_images=classifier_images,
                   classifier_epochs=classifier_epochs, gen_sizes=gen_sizes or {})
    check_range(average_augment, "--average-augment", 0.0, 1.0, hint="the share of averaged training examples")
    reject_uv = check_reject_uv(reject_uv)  # a float, as run.json compares it on --resume
    if not decoder_only:  # the classifier is trained with the in-house generator, after the decoder
        from eegviz.eval.classifier import check_classifier_renders

        check_classifier_renders(classifier_images, CLASSIFIER_SIZE)
    if resume:
        check_resumable(Path(out), data, data_opts)
        check_creatable(out, "--out")
    else:
        check_new_output(out, "--out", "a trained model", hint=_new_output_hint(Path(out), data, data_opts))
    info = init_from_env()
    with main_rank_logging(info), ExitStack() as held:
        lock = _RunLock(Path(out), held, info.is_main)
        if Path(out).is_dir():  # held at once, before the data loads; a new folder once _train_all has made it
            lock.take()
        return _train_all(info, lock, data, out, epochs=epochs, gan_steps=gan_steps,
                          seed=seed, threads=threads,
                          resume=resume, highpass=highpass, notch=notch, reference=reference,
                          text_encoder=text_encoder, caption=caption, data_opts=data_opts,
                          classifier_images=classifier_images, classifier_epochs=classifier_epochs,
                          eval_controls=eval_controls, gen_sizes=gen_sizes or {},
                          gen_config=gen_config, average_augment=average_augment, decoder_only=decoder_only,
                          reject_uv=reject_uv)


def _eval_command(data, model: Path, data_opts: dict | None = None) -> str:
    """The `eegviz eval` command that evaluates `model` again on the run's data, with the run's dataset options:
    without them the command suggested for an XDF-session model stopped at eval's "pass --images-dir"; and with
    the threshold it was trained with (--reject-uv), so the same epochs are dropped as in its own evaluation."""
    import shlex

    from eegviz.data.artefacts import trained_reject_uv
    from eegviz.data.loaders import DATA_FLAGS

    values = {DATA_FLAGS.get(k, f"--{k}"): ",".join(map(str, v)) if isinstance(v, list) else str(v)
              for k, v in (data_opts or {}).items()}
    if (reject_uv := trained_reject_uv(model)) is not None:
        values["--reject-uv"] = f"{reject_uv:g}"
    flags = "".join(f" {flag} {shlex.quote(value)}" for flag, value in values.items())
    data = shlex.quote(str(data)) if data else "DATA"
    return f"eegviz eval --data {data} --model {shlex.quote(str(model))}{flags} --out NEW_FOLDER"


def _new_output_hint(out: Path, data, data_opts: dict | None = None) -> str:
    """What to do instead, for the refusal of an --out that holds files: --resume where it holds an interrupted run
    (checkpoints/ and no model card yet), where that would be refused; a finished model was told "or add --resume
    to finish an interrupted run there", and --resume then refused it as a finished model."""
    if (out / "checkpoints").is_dir() and not (out / "README.md").exists():
        return " (or add --resume to finish an interrupted run there)"
    if (out / "training.json").is_file():
        return f" (it holds a trained model; to evaluate it again: {_eval_command(data, out, data_opts)})"
    return ""


def check_options(*, epochs, gan_steps, seed, threads, highpass, notch, text_encoder, classifier_images,
                   classifier_epochs, gen_sizes) -> None:
    """Every number and name a run is given, checked before anything is written or trained: a value found wrong
    an hour in (or a checkpoint folder left by a refused run, which the corrected rerun would then refuse)
    costs the user far more than one line now."""
    from eegviz.checks import check_at_least, check_choice, check_positive, check_threads
    from eegviz.decoders.text import check_text_encoder_spec

    check_at_least(epochs, "--epochs", 1)
    check_at_least(gan_steps, "--gan-steps", 0)
    check_at_least(seed, "--seed", 0)
    if seed > MAX_SEED:
        raise EegvizError(f"--seed must be at most {MAX_SEED} (2**32 - 1, less room for the seeds derived from it), "
                          f"not {seed}")
    if threads is not None:
        check_threads(threads)
    check_positive(highpass, "--highpass", allow_zero=True, unit="Hz", hint="0: off")
    check_choice(notch, "--notch", (0.0, 50.0, 60.0))
    check_text_encoder_spec(text_encoder)
    check_at_least(classifier_images, "--classifier-images", 1, hint="renders per class")
    check_at_least(classifier_epochs, "--classifier-epochs", 1)
    for key, value in gen_sizes.items():
        check_at_least(value, f"--{key.replace('_', '-')}", 1)


def classifier_seed(seed: int) -> int:
    """The render seed of the evaluation classifier's training images for `eegviz train --seed seed`."""
    return seed + 1


def check_classifier_seed(seed: int, image_ids) -> None:
    """The evaluation classifier must judge shapes it learnt, not pictures it has seen: its renders (seed + 1)
    may be neither the EEG stimuli themselves (a `simulate --seed 1` dataset with the default `--seed 0` would
    hand it every test image) nor one of the generator's held-out sets or training seeds; nor may the EEG
    stimuli be one of those (a `simulate --seed 901` dataset's images are the generator's test renders). Checked
    before anything is trained, with the seeds the dataset's own image ids name."""
    from eegviz.train.renders import FRESH_SEED0, TEST_SEED, VAL_SEED
    from eegviz.world.stimuli import spec_id_seed

    clf = classifier_seed(seed)
    reserved = {VAL_SEED: "the generator's validation renders", TEST_SEED: "the generator's test renders",
                VAL_SEED + 2: "the autoencoder's acceptance renders"}
    stimuli = {spec_id_seed(i) for i in dict.fromkeys(map(str, image_ids))} - {None}
    for s in sorted(stimuli):  # the stimuli themselves must not be the generator's held-out or training renders
        if s in reserved or s >= FRESH_SEED0:
            what = reserved.get(s, f"the generator's training renders (seeds >= {FRESH_SEED0})")
            raise EegvizError(f"the dataset's stimuli were rendered with seed {s} (`eegviz simulate --seed {s}`), "
                              f"which are {what}; simulate the data with a seed below {VAL_SEED}")
    if clf in stimuli:
        why = "the dataset's own stimuli (its image ids carry that seed)"
    elif clf in reserved:
        why = reserved[clf]
    elif clf >= FRESH_SEED0:
        why = f"the generator's training renders (seeds >= {FRESH_SEED0})"
    else:
        return
    taken = stimuli | set(reserved)
    free = next(s for s in [*range(seed + 1, FRESH_SEED0 - 1), *range(FRESH_SEED0 - 1)]
                if classifier_seed(s) not in taken)
    raise EegvizError(f"--seed {seed} would train the evaluation classifier on renders of seed {clf}, which are "
                      f"{why}; choose another --seed (e.g. {free})")


RUN_MANIFEST = "run.json"  # in MODEL_DIR/checkpoints: what the run that wrote the checkpoints was trained on


DIGEST_TRIALS = 64  # EEG trials data_digest reads, evenly spaced: a few MB of a multi-GB (memory-mapped) array


def data_digest(ds) -> str:
    """sha256 over what tells one recording from another of the same design: the labels, image ids, subjects and
    split of every trial, the EEG array's shape and type, and DIGEST_TRIALS of its trials (evenly spaced, read
    whole). The counts and names alone (run_manifest's other fields) are the same for two people who did the
    same experiment: a --resume on another subject's recording carried on silently and mixed the two (review 2,
    finding 2). Reading a sample of trials keeps it cheap where the EEG is a memory-mapped file of gigabytes."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for name, values in (("labels", ds.labels), ("image_ids", ds.image_ids), ("subjects", ds.subjects),
                         ("split", ds.split)):
        h.update(f"{name}:{len(values)}:".encode())
        h.update("\n".join(map(str, np.asarray(values).tolist())).encode("utf-8", "surrogatepass"))
    eeg = ds.eeg
    h.update(f"eeg:{tuple(eeg.shape)}:{np.dtype(eeg.dtype).str}:".encode())
    n = int(eeg.shape[0])
    for i in np.unique(np.linspace(0, n - 1, min(n, DIGEST_TRIALS)).round().astype(np.int64)) if n else ():
        h.update(np.ascontiguousarray(eeg[int(i)]).tobytes())
    return h.hexdigest()


def run_manifest(ds, options: dict) -> dict:
    """What a resumed run must share with the interrupted one: the dataset (its classes, channels, rate, window,
    split sizes, and data_digest, which tells apart two recordings of one design) and every option that shapes
    what is trained. Not the data's path: a moved folder is the same data."""
    from eegviz.eval.model_card import describe_dataset

    # split_by is worked out from the split and labels that data_digest covers, and run.json files written before
    # it was described do not have it: compared, it would refuse their --resume
    data = {k: v for k, v in describe_dataset(ds, "").items() if k not in ("path", "simulator", "split_by")}
    data.update(class_names=[str(c) for c in ds.classes], ch_names=[str(c) for c in ds.ch_names],
                digest=data_digest(ds))
    return json.loads(json.dumps({"data": data, "options": options}, default=str))


PATH_DATA_OPTIONS = ("images_dir", "splits")  # the dataset options that name a file or folder


def _folders_absolute(data_opts: dict) -> dict:
    """The dataset options with the files and folders they name as absolute paths, as run.json keeps them and
    check_same_run compares them: `--images-dir stimuli` in the interrupted run and `--images-dir /lab/stimuli` in
    the job script that resumed it name one folder, and the resume was refused as "options data_options differ",
    which told its user to pass the options they had passed."""
    if not isinstance(data_opts, dict):
        return data_opts
    return {k: os.path.abspath(v) if k in PATH_DATA_OPTIONS and isinstance(v, str) else v
            for k, v in data_opts.items()}


def check_same_run(checkpoints: Path, run: dict) -> None:
    """--resume continues the run its checkpoints came from, or refuses: a stage finished on other data or with
    other options would be loaded as if it were this run's (same shapes, other classes, other seed), and only
    the figures would show it. Without a manifest there is nothing to resume: check_resumable refused
    checkpoints that have none, so this run starts in an empty folder."""
    path = Path(checkpoints) / RUN_MANIFEST
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EegvizError(f"{path}: unreadable ({e}); it says what the interrupted run was trained on") from None
    if not isinstance(saved, dict):
        raise EegvizError(f"{path}: not a run manifest; it says what the interrupted run was trained on")
    run = {part: dict(run[part]) for part in ("data", "options")}
    run["options"]["data_options"] = _folders_absolute(run["options"].get("data_options") or {})
    if isinstance(saved.get("options"), dict) and "data_options" in saved["options"]:  # older run.json: as given
        saved = {**saved, "options": {**saved["options"],
                                      "data_options": _folders_absolute(saved["options"]["data_options"])}}
    if "digest" not in (saved.get("data") or {}):  # written before data_digest: still resumable, said unchecked
        run["data"].pop("digest", None)
        log.warning("--resume: %s predates data digests, so only the data's counts and names can be compared, not "
                    "whether it is the same recording", path)
    differ = [f"{part} {k}" for part in ("data", "options")
              for k in sorted(set(run[part]) | set(saved.get(part) or {}))
              if run[part].get(k) != (saved.get(part) or {}).get(k)]
    if differ == ["data digest"]:
        raise EegvizError(f"--resume: the checkpoints in {checkpoints} come from a run on other data of the same "
                          "counts and names (its digest of the labels, image ids, split and EEG differs: another "
                          "subject's or session's recording?); resume with the interrupted run's own data, or train "
                          "into a new folder")
    if differ:
        raise EegvizError(f"--resume: the checkpoints in {checkpoints} come from a run on other data or options "
                          f"({', '.join(differ[:6])}{', ...' if len(differ) > 6 else ''} differ); resume with the "
                          "interrupted run's own data and options, or train into a new folder")


def write_run_manifest(checkpoints: Path, run: dict, *, claim: bool = False) -> None:
    """Write checkpoints/run.json. claim: a new run's first write, which creates the file exclusively, so that of
    two runs given the same new or empty --out at once (both found it free before either wrote) the second is
    refused here, before it trains, instead of both writing checkpoints and a model into one folder."""
    from eegviz.atomic import write_json_atomic

    path = Path(checkpoints) / RUN_MANIFEST
    if not claim:
        write_json_atomic(path, run)
        return
    # The claim is a hard link of a complete file: it appears whole or not at all, so a torchrun rank checking the
    # same run meanwhile never reads an empty run.json (an exclusive create followed by the write left that window).
    # A file system without hard links gets the exclusive create and then the atomic write.
    partial = path.with_name(f"{path.name}.claim-{os.getpid()}")
    write_json_atomic(partial, run)
    try:
        os.link(partial, path)
    except FileExistsError:
        raise _claimed_meanwhile(checkpoints) from None
    except OSError:  # no hard links on this file system
        try:
            path.open("x").close()
        except FileExistsError:
            raise _claimed_meanwhile(checkpoints) from None
        write_json_atomic(path, run)
    finally:
        partial.unlink(missing_ok=True)


def _claimed_meanwhile(checkpoints: Path) -> EegvizError:
    return EegvizError(f"--out {Path(checkpoints).parent}: another training run started in this folder just now (its "
                       "checkpoints/run.json appeared after this run checked the folder); choose another --out")


@contextmanager
def hold_run_folder(out: Path):
    """Hold an exclusive lock on the run's folder while it trains, so that a second `eegviz train` into it is
    refused in one line instead of training beside the first. The folder checks cannot tell: a running run's
    folder looks to --resume like an interrupted one (a job scheduler that requeues a job whose first launch is
    still running), and two runs started together both find a new folder free. flock on the folder itself leaves
    no lock file to be taken for a run's output, and the kernel lets go of it when the process dies. Where the
    system or file system has no such locks (Windows, some network mounts), the run goes on unlocked."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EegvizError(f"--out {out}: another `eegviz train` is running in this folder now; wait for it to "
                              "end, or choose another --out") from None
        except OSError as e:
            log.debug("no lock on %s (%s): training unlocked", out, e)
        yield
    finally:
        os.close(fd)  # releases the lock


class _RunLock:
    """hold_run_folder on the run's folder, taken once by the main rank (other torchrun ranks share its run) and
    held until the ExitStack closes."""

    def __init__(self, out: Path, stack: ExitStack, main_rank: bool):
        self.out, self.stack, self.needed = out, stack, main_rank

    def take(self) -> None:
        if self.needed:
            self.stack.enter_context(hold_run_folder(self.out))
            self.needed = False


def check_resumable(out: Path, data: str | Path | None = None, data_opts: dict | None = None) -> None:
    """--resume continues an interrupted run in its own folder: one that holds its checkpoints/ (with their
    run.json) and no finished model yet (training.json is written when training ends), or starts one in a new or
    empty folder (a job script that always passes --resume works on its first launch too). A run stopped after
    training.json but before its evaluation and model card (evaluation_cut_short) is resumed to finish those,
    training nothing. Anything else would be trained over. `data` (the run's --data) completes the eval command
    a finished model's refusal suggests: without it, `eegviz eval` stops at its missing --data; `data_opts` (the
    run's dataset options) too: without --images-dir it stops at an XDF-session dataset's missing stimuli."""
    from eegviz.paths import PROBE_PREFIX, is_new_or_empty

    if is_new_or_empty(out):
        log.info("--resume: %s holds no run yet; starting one", out)
        return
    if not (out / "checkpoints").is_dir():
        raise EegvizError(f"--resume: {out} holds files but no interrupted run (no checkpoints/ folder), which "
                          "--resume would train over; choose a new or empty --out")
    if (out / "training.json").exists():
        if evaluation_cut_short(out):
            return  # _train_all trains nothing: it finishes the evaluation and writes the model card
        raise EegvizError(f"--resume: {out} holds a finished model (training.json), which --resume would train "
                          f"over; choose a new --out (to evaluate it again: {_eval_command(data, out, data_opts)})")
    # A run writes checkpoints/run.json before its first checkpoint, so checkpoints without one were not written
    # by an interrupted run of this eegviz (an older one's, or a manifest deleted since): they cannot be checked
    # against this run's data and options (check_same_run), and loading them could pass off another run's stages.
    # An empty checkpoints/ (a run stopped before it wrote anything) holds nothing to resume: a run starts there.
    # Beside an empty checkpoints/, nothing else either: a generator's finished stages (stages/) are loaded by a
    # resumed run just the same (found by review).
    checkpoints = out / "checkpoints"
    if not (checkpoints / RUN_MANIFEST).is_file():
        if any(checkpoints.iterdir()):
            raise EegvizError(f"--resume: the checkpoints in {checkpoints} have no {RUN_MANIFEST}, so eegviz cannot "
                              "tell whether they come from this data and options; choose a new --out")
        beside = sorted(p.name for p in out.iterdir()  # another rank's momentary probe is not a file
                        if p.name != "checkpoints" and not p.name.startswith(PROBE_PREFIX))
        if beside:
            raise EegvizError(f"--resume: {out} holds {', '.join(beside[:3])}{' ...' if len(beside) > 3 else ''} "
                              f"beside an empty checkpoints/ with no {RUN_MANIFEST}, so eegviz cannot tell whether "
                              "they come from this data and options; choose a new --out")


def kept_for_resume(out: Path) -> str:
    """The end of the line an interrupted `eegviz train` prints: what `out` keeps for --resume and how to resume,
    or "" where it keeps nothing to resume from (no checkpoints/, which check_resumable asks for). The decoder's
    stages are checkpointed in checkpoints/ (a stage cut short continues from its last checkpoint), the
    generator's finished stages in stages/ (the one cut short starts again: eegviz.train.diffusers_gen); a run
    stopped in its evaluation is trained already. The line named checkpoints/ alone, whatever the run had
    reached, so a run stopped in its generator's training did not say that its finished stages were kept."""
    out = Path(out)
    checkpoints, stages = out / "checkpoints", out / "stages"
    if not checkpoints.is_dir():
        return ""
    if evaluation_cut_short(out):
        return (f"; the model in {out} is trained (training.json): run the same command with --resume to finish its "
                "test-split evaluation and model card")
    kept = []
    if any(checkpoints.glob("*.pt")):
        kept.append(f"the decoder's checkpoints in {checkpoints}")
    finished = sorted(p.stem for p in stages.glob("*.json")) if stages.is_dir() else []
    if finished:
        kept.append(f"the generator's finished stages ({', '.join(finished)}) in {stages}, the stage it was in "
                    "starting again")
    if not kept:
        return (f"; no stage had reached a checkpoint yet ({checkpoints}): run the same command with --resume to "
                "start again")
    return f"; kept for --resume: {' and '.join(kept)}: run the same command with --resume to continue"


def evaluation_cut_short(out: Path) -> bool:
    """A run stopped (Ctrl-C, a job's time limit) after training.json but before its model card: the model is
    trained, its test-split evaluation and README.md are not written. --resume finishes those; before, it was
    refused as a finished model, and `eegviz eval` wrote a report elsewhere but never the model card, so the
    folder stayed undocumented. README.md there means the run ended. A report/metrics.json without it is a run
    whose model card failed (the card's KeyError on skipped controls, fixed 2026-12-07): that card is written
    from it, where such a run used to be refused as finished, with no way to write its card."""
    out = Path(out)
    return (out / "training.json").is_file() and not (out / "README.md").exists()


def _finished_metrics(out: Path) -> dict | None:
    """The test-split metrics a run's evaluation wrote (report/metrics.json, its last file), or None where it has
    none or one cut short: then the evaluation runs again."""
    try:
        metrics = json.loads((Path(out) / "report" / "metrics.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return metrics if isinstance(metrics, dict) else None


def _finish_evaluation(info, data: Path, out: Path, *, data_opts, eval_controls: bool,
                       why_no_generator: str | None, reject_uv: float | None = None) -> dict | None:
    """--resume of a run cut short in its evaluation (evaluation_cut_short): the trained model is kept as it is;
    the evaluation that follows training runs again and the model card is written, as the run would have."""
    from eegviz.eval.model_card import write_model_card
    from eegviz.train.dist import barrier, shutdown

    metrics = None
    if info.is_main:
        log.info("--resume: %s holds a trained model whose evaluation was cut short; finishing it", out)
        try:
            training = json.loads((out / "training.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise EegvizError(f"{out / 'training.json'}: unreadable ({e}); train into a new folder") from None
        metrics = _finished_metrics(out)
        if metrics is not None:
            log.info("--resume: %s's evaluation had finished (report/metrics.json); writing its model card", out)
        else:
            metrics = _evaluate_after_training(data, out, None, data_opts=data_opts, eval_controls=eval_controls,
                                               why_no_generator=why_no_generator, reject_uv=reject_uv)
        write_model_card(out, training, metrics)
        _say_done(out, metrics)
    barrier(info)
    shutdown(info)
    return metrics if info.is_main else None


def _train_all(info, lock: _RunLock, data: Path, out: Path, *, epochs, gan_steps, seed, threads, resume, highpass,
               notch, reference, text_encoder, caption, data_opts, classifier_images, classifier_epochs, eval_controls,
               gen_sizes, gen_config, average_augment, decoder_only, reject_uv) -> dict | None:
    from eegviz.data.artefacts import drop_artefacts
    from eegviz.data.loaders import DATA_FLAGS, check_trainable, open_dataset
    from eegviz.data.seen_images import write_seen_images
    from eegviz.eval.model_card import describe_dataset, train_command, write_model_card
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.decoders.text import make_text_encoder
    from eegviz.data.targets import check_caption_kind, check_stimuli
    from eegviz.train.decoder import decoder_spec, train_decoder
    from eegviz.train.dist import barrier, gather_digests, shutdown
    from eegviz.world.stimuli import renderable

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    ds = open_dataset(data, **(data_opts or {}))
    check_trainable(ds, data)
    check_caption_kind(ds, caption)
    check_stimuli(ds.image_ids, ds.image_paths)  # before the folder: a run without its stimuli, or with one it
    # cannot read, writes nothing
    renders = bool(renderable(ds.image_ids))  # synthetic-world stimuli, which the in-house generator learns from
    why_no_generator = ("--decoder-only: evaluate with --generator diffusers --sd-model FOLDER (another model "
                        "folder's pipeline in the same caption space)" if decoder_only
                        else _generator_skipped(renders, text_encoder))
    in_house = why_no_generator is None
    if in_house:
        check_classifier_seed(seed, ds.image_ids)
    elif not decoder_only and not renders:
        _say_how_it_draws(text_encoder)
    # what can only be checked against the data or by loading, still before the folder exists (a refused run
    # that left checkpoints/run.json behind would have the corrected rerun refused)
    spec = decoder_spec(ds, highpass, notch, reference)  # reference channels among the data's
    # judged with the spec the decoder is trained with, which it saves and eval reads back: the same epochs are
    # dropped in the evaluation that ends the run; a threshold that empties a split or a class is refused here
    kept, artefacts = drop_artefacts(ds, spec, reject_uv, data)
    make_text_encoder(text_encoder)  # loads (and keeps for training) the text encoder, e.g. a clip: folder
    out = Path(out)
    # the data as recorded (its digest tells recordings apart whatever the threshold), the threshold an option:
    # a --resume with another one is refused as "options reject_uv differ", not run on other epochs
    run = run_manifest(ds, {"seed": seed, "epochs": epochs, "gan_steps": gan_steps, "highpass": highpass,
                            "notch": notch, "reference": reference, "text_encoder": text_encoder, "caption": caption,
                            "classifier_images": classifier_images, "classifier_epochs": classifier_epochs,
                            "average_augment": average_augment, "decoder_only": decoder_only,
                            "generator_sizes": gen_sizes, "generator_config": gen_config,
                            "data_options": _folders_absolute(data_opts or {}), "reject_uv": reject_uv})
    # a run that starts in a new or empty folder claims it, --resume or not (a job script that always passes
    # --resume starts a run too); resuming an interrupted run rewrites that run's own manifest
    starts = not (out / "checkpoints" / RUN_MANIFEST).exists()
    if resume:
        check_same_run(out / "checkpoints", run)
    out.mkdir(parents=True, exist_ok=True)
    lock.take()  # until train_all returns
    if resume and evaluation_cut_short(out):  # trained already: nothing is trained again
        return _finish_evaluation(info, data, out, data_opts=data_opts, eval_controls=eval_controls,
                                  why_no_generator=why_no_generator, reject_uv=reject_uv)
    checkpoints = Checkpoints(out / "checkpoints", resume=resume, enabled=info.is_main)
    if info.is_main:
        write_run_manifest(out / "checkpoints", run, claim=starts)
    dec, dmetrics = train_decoder(kept, epochs=epochs, gan_steps=gan_steps, seed=seed,
                                  highpass=highpass, notch=notch, reference=reference, text_encoder=text_encoder,
                                  caption=caption, checkpoints=checkpoints, average_augment=average_augment,
                                  info=info)
    t_dec = time.perf_counter() - t0
    digests = {name: gather_digests(m, info) for name, m in dec.modules().items()}
    gmetrics = {"skipped": why_no_generator} if why_no_generator else None
    if not info.is_main:
        barrier(info)
        shutdown(info)
        return None
    dec.save(out)
    # eval refuses test data showing these images (eegviz.data.seen_images): every image the run was given, those
    # whose epochs --reject-uv dropped too (a stricter record, never a looser one)
    write_seen_images(out, ds)
    latent = None
    if in_house:  # rank 0 only: fresh renders, no data to shard
        from eegviz.train.latent_branch import fit_latent_branch

        from eegviz.train.diffusers_gen import AutoencoderRejected

        try:
            gmetrics = _train_diffusers(out, dec, seed, classifier_images, classifier_epochs, gen_sizes, gen_config,
                                        resume=resume)
        except AutoencoderRejected as e:  # the decoder is saved: say so, it is most of the run's time
            raise EegvizError(f"{e}. The decoder trained in this run is saved in {out} (decoder.json and its "
                              "component folders) and draws with another model folder's pipeline in its caption "
                              "space: --generator diffusers --sd-model models/synthetic-default") from None
        latent = fit_latent_branch(out, kept, str(data))  # its target space is the new pipeline's VAE
    training = {"decoder": dmetrics, "generator": gmetrics, "latent_branch": latent, "decoder_seconds": t_dec,
                "threads": torch.get_num_threads(), "world_size": info.world_size, "epochs": epochs,
                "highpass_hz": highpass, "notch_hz": notch, "reference": reference, "text_encoder": text_encoder,
                "caption": caption,
                "gan_steps": gan_steps, "seed": seed, "average_augment": average_augment,
                # whether an interrupted run's checkpoints were continued: --resume alone is no sign of it (a job
                # script that always passes it starts runs with it too), and "resumed" read as an interrupted run
                "data": str(data), "data_digest": run["data"]["digest"], "resumed": not starts,
                "dataset": describe_dataset(kept, data), "reject_uv": reject_uv, "artefacts": artefacts,
                "synthetic": renders,
                "command": train_command(data, out, {
                    "epochs": epochs, "gan_steps": gan_steps, "seed": seed, "highpass": highpass or None,
                    "notch": notch or None, "reference": reference or None,
                    "text_encoder": text_encoder, "caption": caption,
                    # the stimulus classifier is trained with the embedded generator alone: its options beside
                    # --decoder-only, which refuses them, read as if the run had used them
                    **({"classifier_images": classifier_images, "classifier_epochs": classifier_epochs}
                       if in_house else {}),
                    "no_eval_controls": not eval_controls, "average_augment": average_augment or None,
                    "reject_uv": reject_uv,
                    "decoder_only": decoder_only,
                    **(gen_sizes if in_house else {}),
                    "generator_config": None if gen_config == "full" or not in_house else gen_config,
                    **{DATA_FLAGS.get(k, k).lstrip("-"): (",".join(map(str, v)) if isinstance(v, list) else v)
                       for k, v in (data_opts or {}).items()}}),  # as flags: --markers, not --marker-stream
                "ranks_in_sync": all(len(set(v)) == 1 for v in digests.values()), "rank_digests": digests}
    training["total_train_seconds"] = time.perf_counter() - t0
    (out / "training.json").write_text(json.dumps(training, indent=1))
    # A folder without the in-house generator (--decoder-only; a lab's own stimuli, which are no synthetic-world
    # renders) is evaluated as a decoder: curves, controls, no images. A lab's model went without any test-split
    # figure or confound control, its card saying only "no generator for these stimuli; run `eegviz eval`".
    # On its own dataset's test split, which the loader judged: images it shares with training are counted and
    # warned about (eegviz.data.seen_images), not refused after the whole run
    metrics = _evaluate_after_training(data, out, kept, data_opts=data_opts, eval_controls=eval_controls,
                                       why_no_generator=why_no_generator, reject_uv=reject_uv)
    write_model_card(out, training, metrics)  # every model folder documents itself, evaluated or not
    _say_done(out, metrics)
    barrier(info)
    shutdown(info)
    return metrics


def _evaluate_after_training(data: Path, out: Path, ds, *, data_opts, eval_controls: bool,
                             why_no_generator: str | None, reject_uv: float | None = None) -> dict | None:
    """The test-split evaluation into out/report that ends a run, or None where the data's test split holds fewer
    than the two trials `eegviz eval` scores (a lab's first few recorded images): said, and the model card then
    gives the validation figures, where the run used to end in eval's refusal after all its training. `ds`: the
    run's dataset, to count its test split without reading the data again (None: read by evaluate).
    `why_no_generator`: why the run trained no generator (None: it did), which metrics.json gives as the reason
    its reconstructions were not scored; it said "--no-reconstructions", an `eegviz eval` flag nobody had given.
    reject_uv: the run's threshold, so the test split is the one training held out, less the same epochs (`ds` is
    the run's dataset after drop_artefacts)."""
    from eegviz.eval.report import evaluate

    if ds is not None and len(ds.subset("test")) < 2:
        log.warning("no test-split evaluation: %s's test split holds %d trial(s), and the controls pair each test "
                    "trial with another; the model card gives the validation figures", data, len(ds.subset("test")))
        return None
    reconstructions = why_no_generator is None
    _say_evaluating(out, eval_controls, reconstructions)
    return evaluate(data, out, out / "report", data_opts=data_opts, controls=eval_controls,
                    reconstructions=reconstructions, refuse_seen=False, reject_uv=reject_uv,
                    no_reconstructions_why=f"no generator was trained with this model: {why_no_generator}")


def _say_evaluating(out: Path, controls: bool, reconstructions: bool) -> None:
    """The evaluation after training runs minutes (the shipped run's: 4) and logs no line of its own: the last
    line a user saw was the latent branch's, and then nothing, as if the run had hung."""
    what = ", ".join(["the decoder"] + (["reconstructions"] if reconstructions else [])
                     + (["confound controls"] if controls else []))
    log.info("evaluating on the test split (%s) into %s", what, out / "report")


def _say_done(out: Path, metrics: dict | None) -> None:
    """The run's last line: `eegviz train` used to end without a word of where its model and report were, unlike
    every other command that writes a folder."""
    report = f", its test-split report {out / 'report' / 'metrics.json'}" if metrics is not None else ""
    log.info("done: the model is in %s (its model card README.md%s)", out, report)


def _say_how_it_draws(text_encoder: str) -> None:
    """Said before a lab's decoder trains (its own stimuli, no --decoder-only): no generator is trained with it, and
    only an SD model in the decoder's own text space can draw from it. The run said nothing, and the README's
    `eegviz live --model models/lab` was then refused for a folder with no pipeline; adding --generator diffusers
    --sd-model was refused in turn for a MiniLM decoder's 384-d captions, after the minutes of training."""
    if text_encoder.startswith("clip:"):
        how = f"live and replay draw with that SD model: --generator diffusers --sd-model {text_encoder[5:]}"
    else:
        how = (f"live and replay draw with an SD model (--generator diffusers --sd-model SD_MODEL), which reads "
               f"captions in its own CLIP text space, not this run's {text_encoder} one: for images, train with "
               "--text-encoder clip:SD_MODEL")
    log.warning("these stimuli are not synthetic-world renders, so no image generator is trained with this decoder "
                "(the embedded one learns from renders); %s", how)


def _generator_skipped(renderable_stimuli: bool, text_encoder: str) -> str | None:
    """Why the in-house generator is not trained here, or None when it is: it learns from fresh renders of the
    synthetic world, conditioned in the caption space the decoder regresses into."""
    if not renderable_stimuli:
        return ("the embedded generator learns from synthetic-world renders and these stimuli are not ones; use "
                "--generator diffusers --sd-model MODEL (with a clip: text space)")
    if text_encoder not in IN_HOUSE_SPACES:
        return (f"the embedded generator is trained in eegviz's own caption spaces ({', '.join(IN_HOUSE_SPACES)}); "
                f"'{text_encoder}' is an SD model's: use --generator diffusers --sd-model MODEL")
    return None


def _train_diffusers(out: Path, dec, seed: int, classifier_images: int, classifier_epochs: int, sizes: dict,
                     config: str, resume: bool = False) -> dict:
    """The 64 px evaluation classifier (renders of seed + 1), then the diffusers generator into `out` itself:
    the model folder is the pipeline folder (model_index.json at its root, beside the decoder's files). Its UNet
    attends over exactly the caption states the decoder predicts (same encoder, tokens and width). `resume`:
    stages an interrupted run finished are loaded, not trained again (eegviz.train.diffusers_gen)."""
    from eegviz.decoders.text import make_text_encoder
    from eegviz.eval.classifier import load_classifier, save_classifier, train_classifier
    from eegviz.train.diffusers_gen import (TINY, finished_stage, record_stage, score_alone,
                                            train_diffusers_generator)

    t0 = time.perf_counter()
    stages = out / "stages"
    done = finished_stage(stages, "classifier") if resume else None
    if done is not None:
        clf, t_clf = load_classifier(out), done["seconds"]
    else:
        clf = train_classifier(n_per_class=classifier_images, epochs=classifier_epochs, seed=classifier_seed(seed),
                               size=CLASSIFIER_SIZE)
        save_classifier(clf, out)
        t_clf = time.perf_counter() - t0
        record_stage(stages, "classifier", {"seconds": t_clf})
    text = make_text_encoder(dec.hparams["text_encoder"], dec.hparams["n_tokens"], dec.hparams["text_dim"])
    rec = train_diffusers_generator(out, text, clf, seed=seed, resume=resume,
                                    **{**(TINY if config == "tiny" else {}), **sizes})
    if done is not None:
        rec["resumed_stages"] = ["classifier", *rec["resumed_stages"]]
    rec.update(score_alone(out, text, clf, seed=seed, per_class=1 if config == "tiny" else 10))
    return {**rec, "classifier": {"size": CLASSIFIER_SIZE, "render_seed": classifier_seed(seed),
                                  "n_per_class": classifier_images,
                                  "epochs": classifier_epochs, "seconds": t_clf}}
