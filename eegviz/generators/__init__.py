"""Generators turn a saliency map (or, with --init latent, the decoder's latent) and a text embedding into an image
(the default: the diffusers pipeline in the model folder; or any diffusers SD img2img model). make_generator
builds any plugin one way, from GeneratorOptions and the model folder, and checks it is a generator."""

from __future__ import annotations

from pathlib import Path

from eegviz.errors import EegvizError, one_line
from eegviz.generators.options import GeneratorOptions


def generator_class(name: str):
    """The generator plugin `name`'s class, refused in one line if it is none or cannot be built; a session checks
    its --generator with this before its model loads or its window opens."""
    from eegviz.plugins import get

    gen_cls = get("generators", name)
    if not hasattr(gen_cls, "from_options"):
        raise EegvizError(f"generator plugin '{name}' cannot be built: it has no from_options(options, model_dir)")
    return gen_cls


def make_generator(name: str, model_dir: Path, options: GeneratorOptions | None = None):
    """The generator plugin `name`, built the same way for every plugin: `from_options(options, model_dir)`
    (no options: every setting is the model's own)."""
    gen_cls = generator_class(name)
    try:
        gen = gen_cls.from_options(options or GeneratorOptions(), Path(model_dir))
    except EegvizError:
        raise
    except (Exception, SystemExit) as e:  # noqa: BLE001 - one line naming it, as a failed import is
        raise EegvizError(f"generator plugin '{name}' failed to build ({one_line(e)})") from e
    # what a session calls (eegviz.generators.base.Generator), checked as make_sink checks a sink's: one lacking
    # warmup() or a name failed with an AttributeError traceback at warm-up or at its first image
    from eegviz.plugins import lacking

    missing = lacking(gen, ("warmup", "generate"))
    missing += [] if isinstance(getattr(gen, "name", None), str) else ["a name (str)"]
    if missing:
        raise EegvizError(f"generator plugin '{name}' is not a generator: what from_options returned lacks "
                          f"{', '.join(missing)}")
    # how a session calls it (eegviz.pipeline): a generate() taking no seed= (or, for one that starts from the
    # latent branch, no latents=) failed at the first image
    from eegviz.plugins import miscalled

    keywords = ("seed", "latents") if getattr(gen, "init", "saliency") == "latent" else ("seed",)
    shown = f"generate(saliency, embedding, {', '.join(k + '=...' for k in keywords)})"
    wrong = miscalled(gen, {"generate": (2, keywords, shown)})
    if wrong:
        raise EegvizError(f"generator plugin '{name}' cannot take the session's calls: {'; '.join(wrong)}")
    # a session starts from the latent branch only for a generator whose `init` says so (eegviz.pipeline
    # .check_latent_start); one that does not take latents ran from the saliency map without a word
    wanted = (options or GeneratorOptions()).init
    if wanted == "latent" and getattr(gen, "init", "saliency") != "latent":
        raise EegvizError(f"--init latent: generator plugin '{name}' does not start from the decoder's latent "
                          "branch (it sets no init = 'latent' and accepts_latents); leave --init out")
    from eegviz.plugins import wrap

    return wrap(gen, "generator", name)  # its failure in warmup() or generate() is one line naming it
