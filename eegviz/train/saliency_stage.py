"""Retrain the saliency GAN alone (stage 3 of eegviz.train.decoder) inside a model folder, on the encoders it has.

    python -m eegviz.train.saliency_stage --model MODEL_DIR --data DATASET [--gan-steps N] [--seed S]

Why a stage alone: the saliency generator draws on the frozen triplet and attribute encoders and nothing trains
on its output, so it can be replaced without retraining the rest (a few minutes on 2 CPU cores, where the whole
decoder takes most of an hour). A folder whose saliency generator came from an older eegviz (drawn by one
image-space network: shapeless blobs; its weights no longer fit) is brought up to date this way. The encoders,
the semantic regressor, the prototypes and any generator pipeline are left as they are; DATASET must be the one
the decoder was trained on (its training split trains, its validation split scores; checked against
training.json's description of that data). The figures and the command
go into training.json under decoder.saliency_stage_retrained; run `eegviz eval` afterwards for the test split.

Nothing in the folder is lost: the new generator is written beside the old one and swapped in by renames, and the
one it replaces is kept as saliency_generator.previous-<UTC time> (training.json names it), so a retrain that
turns out worse can be undone by renaming the folders back.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eegviz.checks import check_at_least, check_threads
from eegviz.errors import EegvizError, one_line, os_error_line
from eegviz.paths import check_creatable

log = logging.getLogger(__name__)


def retrain_saliency(model_dir: Path, data: str | Path, *, gan_steps: int = 3000, seed: int = 0,
                     data_opts: dict | None = None) -> dict:
    """Train a fresh saliency generator on `model_dir`'s encoders and the dataset at `data` (opened with
    `data_opts`, eegviz.data.options: an XDF-session dataset needs its --images-dir), save it into the folder and
    record it in training.json; returns the stage's validation figures."""
    from eegviz.data.loaders import check_trainable, open_dataset
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.atomic import write_json_atomic
    from eegviz.modelio import swap_in
    from eegviz.stream.preprocess import prepare_epochs
    from eegviz.train.checkpoint import Checkpoints
    from eegviz.train.decoder import _Stages, _train_saliency, pixel_targets
    from eegviz.train.dist import DistInfo

    model_dir = Path(model_dir)
    if gan_steps < 1:
        raise EegvizError(f"--gan-steps must be at least 1, got {gan_steps}")
    dec = TwoBranchDecoder.load(model_dir, without=("saliency",))
    training = _training_record(model_dir)  # before minutes of training: the folder must take the result
    ds = open_dataset(data, **(data_opts or {}))
    check_trainable(ds, Path(data))
    if list(ds.classes) != dec.class_names or tuple(ds.ch_names) != tuple(dec.spec.ch_names):
        raise EegvizError(f"{data} is not laid out as the decoder in {model_dir} was trained (classes or channels "
                          "differ): retrain the saliency stage on the decoder's own training data")
    _check_trained_on(model_dir, training, ds, data)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    dec.saliency = type(dec.saliency)(**{k: v for k, v in dec.saliency.config.items() if not k.startswith("_")})
    st = _Stages(ds, dec, torch.from_numpy(prepare_epochs(ds.eeg, dec.spec)), ds.subset("train"), ds.subset("val"),
                 np.random.default_rng([seed, 0]), Checkpoints(None), DistInfo(), 0, 0.0, seed)
    images, masks, attrs_true = pixel_targets(ds, dec.hparams["saliency_size"])
    with torch.no_grad():
        attrs_pred = dec.attributes(st.x, dec.decoded_classes(st.x))
    _train_saliency(st, images, masks, attrs_true, attrs_pred, gan_steps)
    kept = swap_in(model_dir, "saliency_generator", dec.saliency.save_pretrained)
    record = {**st.metrics, "gan_steps": gan_steps, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
              "data": str(data), "command": f"python -m eegviz.train.saliency_stage --model MODEL_DIR --data DATA "
                                            f"--gan-steps {gan_steps} --seed {seed}",
              "replaced_kept_as": kept.name if kept else None}
    training.setdefault("decoder", {})["saliency_stage_retrained"] = record
    write_json_atomic(model_dir / "training.json", training)
    return record


def _training_record(model_dir: Path) -> dict:
    """The folder's training.json (an empty record where there is none), refused in one line where it cannot be
    read or the folder cannot be written: found after training, the new generator was already swapped in and
    the record of what it replaced was never written (a traceback, the previous generator's folder unnamed)."""
    path = model_dir / "training.json"
    training: object = {}
    if path.exists() or path.is_symlink():
        try:
            training = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise EegvizError(f"{path} cannot be read ({one_line(e)}); it records how the model was trained, "
                              "so fix or restore it first") from None
    if not isinstance(training, dict) or not isinstance(training.get("decoder", {}), dict):
        raise EegvizError(f"{path} is not a training record (a JSON object); fix or restore it first")
    check_creatable(model_dir, "--model")  # the new generator is written there
    return training


# what training.json's "dataset" says that another dataset of the same classes and channels would change
_IDENTITY = ("trials", "images", "subjects", "sfreq", "window_s", "split_trials", "blocks")


def _check_trained_on(model_dir: Path, training: dict, ds, data) -> None:
    """Refuse a dataset other than the one the decoder was trained on, as far as training.json describes it: a
    GAN trained on other trials (another simulation of the same 40 classes, a subject added) would be scored on a
    validation split the encoders may have trained on, and its figures would look better than they are. A folder
    without training.json, or one that does not describe its data, cannot be checked."""
    from eegviz.eval.model_card import describe_dataset

    saved = training.get("dataset")
    if not isinstance(saved, dict):
        return
    now = json.loads(json.dumps(describe_dataset(ds, data)))
    differ = [k for k in _IDENTITY if k in saved and saved[k] != now[k]]
    knobs = [(d.get("simulator") or {}).get("knobs") for d in (saved, now)]
    if None not in knobs and knobs[0] != knobs[1]:
        differ.append("simulator knobs")
    if differ:
        said = ", ".join(f"{k} {saved[k]} here {now[k]}" if k in saved else k for k in differ[:3])
        raise EegvizError(f"{data} is not the dataset the decoder in {model_dir} was trained on (training.json: "
                          f"{said}); retrain the saliency stage on the decoder's own training data")


def main(argv: list[str] | None = None) -> int:
    from eegviz.data.options import add_dataset_arguments, dataset_options

    p = argparse.ArgumentParser(prog="python -m eegviz.train.saliency_stage", description=__doc__.split("\n")[0],
                                allow_abbrev=False)  # as eegviz's own commands: options only in full
    p.add_argument("--model", required=True, help="model folder with a trained decoder")
    p.add_argument("--data", required=True, help="the dataset the decoder was trained on")
    add_dataset_arguments(p)  # as given to `eegviz train`
    p.add_argument("--gan-steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        torch.set_num_threads(check_threads(a.threads))
        check_at_least(a.seed, "--seed", 0)
        rec = retrain_saliency(Path(a.model), a.data, gan_steps=a.gan_steps, seed=a.seed,
                               data_opts=dataset_options(a))
    except EegvizError as e:
        print(f"eegviz: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a disk that filled or a folder that went read-only while it trained
        print(f"eegviz: {os_error_line(e)}", file=sys.stderr)
        return 2
    kept = f"; the one it replaced is kept as {rec['replaced_kept_as']}" if rec["replaced_kept_as"] else ""
    print(f"eegviz: saliency generator in {Path(a.model) / 'saliency_generator'} (validation mask IoU "
          f"{rec['val_saliency_iou']:.3f}, {rec['seconds']:.0f} s){kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
