"""Generators turn a saliency map and a text embedding into an image (embedded default; diffusers SD img2img)."""

from __future__ import annotations

from pathlib import Path


def make_generator(name: str, model_dir: Path, args=None, **embedded_opts):
    """The generator plugin `name`: the embedded one reads the model folder, the others build themselves from
    the command line's options (from_cli(args)), or with no arguments when there are none."""
    from eegviz.plugins import get

    gen_cls = get("generators", name)
    if name == "embedded":
        return gen_cls(model_dir=model_dir, **embedded_opts)
    if hasattr(gen_cls, "from_cli") and args is not None:
        return gen_cls.from_cli(args)
    return gen_cls()
