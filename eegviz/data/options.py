"""The dataset options that `eegviz train`, `eegviz eval` and the refit tools share.

They say which recordings, stimuli, split and subjects of a dataset are read; eegviz.data.loaders.open_dataset
takes what dataset_options returns and refuses, in one line, an option the dataset's format does not read. Kept in
one place so every command that opens a dataset can be given the same ones: the refit tools
(eegviz.train.latent_branch, eegviz.train.saliency_stage) had none, so an XDF-session dataset was refused with "pass
--images-dir", an option they did not have.
"""

from __future__ import annotations

import argparse

from eegviz.checks import check_named
from eegviz.errors import EegvizError


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """--images-dir, --stream, --markers, --splits and --subjects on `parser`."""
    # every format reads it (training's pixel branch learns from the stimuli of any real dataset); the help said
    # "for XDF-session datasets", and an EEG-ImageNet user learnt otherwise only from a refused training run
    parser.add_argument("--images-dir", metavar="DIR", help="the stimulus images (<id>.png/.jpg, optionally in "
                        "class folders; THINGS-EEG2: the release's image_set/, found beside the EEG without it): "
                        "needed for XDF-session datasets, and by training on any dataset that is not synthetic")
    # replay's --stream/--markers, for every file of an XDF-session dataset. A recording of an amplifier that
    # sends its own triggers (or of the simulator) beside `eegviz present` holds two marker streams; the one
    # decoded without --markers is the one naming the most --images-dir images.
    parser.add_argument("--stream", metavar="NAME", help="XDF-session datasets: the EEG stream's name in the "
                        "recordings (default: the one typed EEG with the most channels)")
    parser.add_argument("--markers", metavar="NAME", help="XDF-session datasets: the marker stream's name in the "
                        "recordings, e.g. eegviz-presenter (default: the one whose markers name the most "
                        "--images-dir images)")
    parser.add_argument("--splits", metavar="FILE", help="EEG-ImageNet splits .pth file")
    parser.add_argument("--subjects", metavar="N[,N...]",
                        help="only these subjects (EEG-ImageNet, THINGS-EEG2); EEG-ImageNet's single-subject split "
                             "file (block_splits_by_image_single.pth) needs one, whose trials it indexes")


def dataset_options(args: argparse.Namespace) -> dict:
    """open_dataset's keyword options from the parsed flags, the ones given only."""
    # an empty one was dropped below as not given: `--images-dir "$STIM"` with STIM unset got "pass the stimulus
    # folder too (--images-dir ...)", as if the option were missing
    check_named(args.images_dir, "--images-dir", "the stimulus folder")
    check_named(args.splits, "--splits", "the EEG-ImageNet splits file")
    # read as not given, `--subjects "$SUBJECT"` with SUBJECT unset trained (or scored) every subject in the
    # dataset without a word, the one the user meant among them
    check_named(args.subjects, "--subjects", "the subject numbers (or leave --subjects out for every subject)")
    opts = {"images_dir": args.images_dir, "splits": args.splits}
    for flag, dest, key in (("--stream", "stream", "eeg_stream"), ("--markers", "markers", "marker_stream")):
        name = getattr(args, dest, None)
        if name is not None:  # an empty name would be dropped below, and another stream decoded without a word
            opts[key] = check_named(name, flag, f"the stream in the recordings (or leave {flag} out)")
    if args.subjects is not None:
        try:
            opts["subjects"] = [int(x) for x in args.subjects.split(",")]
        except ValueError:
            raise EegvizError(f"--subjects takes subject numbers separated by commas, not '{args.subjects}'") from None
    return {k: v for k, v in opts.items() if v}


__all__ = ["add_dataset_arguments", "dataset_options"]
