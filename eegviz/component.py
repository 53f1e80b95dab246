"""The base of every network eegviz defines itself (the decoder's parts, the stimulus classifier): a torch module
configured and saved the diffusers way. (The generator's VAE and UNet, which eegviz trains too, are diffusers' own
classes.)

diffusers' ModelMixin + ConfigMixin give each network one `config.json` written from its constructor's
keyword arguments (`@register_to_config`), its weights as safetensors beside it, and
`save_pretrained(folder)` / `from_pretrained(folder)`. So a network's defaults live in one place (its
signature), a saved folder says exactly how to rebuild it, and nothing in a folder is ever executed: the
config is JSON and the weights are safetensors. `load_component` turns diffusers' varied exceptions for a
missing, truncated or foreign folder into one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from eegviz.errors import EegvizError

__all__ = ["Component", "register_to_config", "load_component"]


class Component(ModelMixin, ConfigMixin):
    """A decoder network: subclass, decorate __init__ with @register_to_config, and it saves itself."""

    config_name = "config.json"


C = TypeVar("C", bound=Component)


def load_component(cls: type[C], folder: Path) -> C:
    """cls.from_pretrained(folder), in eval mode, with a one-line error for a broken folder."""
    from diffusers.utils import SAFETENSORS_WEIGHTS_NAME

    from eegviz.model_sources import quiet_hf_libraries

    quiet_hf_libraries()
    folder = Path(folder)
    if not (folder / cls.config_name).is_file():
        raise EegvizError(f"model part missing: {folder} has no {cls.config_name} (is this an eegviz model folder "
                          "from this version? retrain with `eegviz train`)")
    weights = folder / SAFETENSORS_WEIGHTS_NAME
    if not weights.is_file():
        raise EegvizError(f"model part missing: {folder} has no {weights.name} (restore the folder or retrain)")
    try:
        json.loads((folder / cls.config_name).read_text())
        module = cls.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    except Exception as exc:  # diffusers/safetensors raise many types for truncated or foreign files
        raise EegvizError(f"model part in {folder} is corrupt or does not fit {cls.__name__} "
                          f"({type(exc).__name__})") from None
    forget_origin(module)
    return module.eval()


def forget_origin(module) -> None:
    """Drop the `_name_or_path` diffusers records at load time, so a part saved again (a continued training
    stage, a model folder assembled from runs) does not carry this machine's paths into its config.json."""
    from diffusers.configuration_utils import FrozenDict

    cfg = dict(module._internal_dict)
    if cfg.pop("_name_or_path", None) is not None:
        module._internal_dict = FrozenDict(cfg)
