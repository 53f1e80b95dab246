"""eegviz: reconstruct what a person sees from their EEG, live (NeuroImagen as a streaming application).

The data path is one line: Source -> Epocher -> Decoder -> Generator -> Sinks (see eegviz.pipeline).

The names a library user needs are importable from here (``from eegviz import Pipeline, LslSource``), but
lazily (PEP 562): each is imported from its module on first use, so ``import eegviz`` stays cheap (no torch,
no liblsl) and the package root imports nothing that could close an import cycle.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module defining it
_LAZY = {
    "Pipeline": "eegviz.pipeline",
    "Stats": "eegviz.pipeline",
    "Sink": "eegviz.pipeline",
    "Source": "eegviz.sources.base",
    "ReadResult": "eegviz.sources.base",
    "LslSource": "eegviz.sources.lsl",
    "XdfReplaySource": "eegviz.sources.xdf",
    "MneFileSource": "eegviz.sources.mne_file",
    "SimulatorSource": "eegviz.sources.simulator",
    "BrainFlowSource": "eegviz.sources.brainflow",
    "TwoBranchDecoder": "eegviz.decoders.two_branch",
    "Generator": "eegviz.generators.base",
    "EmbeddedGenerator": "eegviz.generators.embedded",
    "DiffusersImg2ImgGenerator": "eegviz.generators.diffusers_sd",
    "GeneratorOptions": "eegviz.generators.options",
    "StreamInfo": "eegviz.messages",
    "Chunk": "eegviz.messages",
    "ClockOffset": "eegviz.messages",
    "Marker": "eegviz.messages",
    "Epoch": "eegviz.messages",
    "Decoded": "eegviz.messages",
    "Reconstruction": "eegviz.messages",
    "SkipKind": "eegviz.messages",
    "SessionSettings": "eegviz.settings",
    "EegvizError": "eegviz.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eegviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
