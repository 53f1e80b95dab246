"""The old name of eegviz.model_sources (how eegviz loads models: offline first), kept only while
decoders/text.py, generators/diffusers_sd.py and eval/classifier.py still import it from here; their owners
switch them to eegviz.model_sources, and then this module is deleted. Nothing new should import it."""

from eegviz.model_sources import hub_offline, local_files_only, quiet_hf_libraries, resolve_model_dir

__all__ = ["hub_offline", "local_files_only", "quiet_hf_libraries", "resolve_model_dir"]
