"""The torch device a generator runs on when its options name none: one rule, read by the generator
(eegviz.generators.diffusers_sd) and by check_compiler (eegviz.checks), which must ask about the device the
generator will pick and wrote the rule out again. Here, outside both folders: the generators import the checks."""

from __future__ import annotations


def resolved_device(device: str | None) -> str:
    """The device asked for, else CUDA where torch sees it, else the CPU."""
    if device:
        return device
    import torch  # here: `eegviz --help` and a check of a named device load no torch

    return "cuda" if torch.cuda.is_available() else "cpu"
