"""BrainFlow's connection parameters (BrainFlowInputParams) as eegviz options, for the CLI and the window.

Kept apart from eegviz.sources.brainflow so the command line can declare its options without loading
BrainFlow's native library.
"""

from __future__ import annotations

from typing import Mapping

# (option, BrainFlowInputParams field, type)
BRAINFLOW_PARAMS = (("--serial-port", "serial_port", str), ("--mac-address", "mac_address", str),
                    ("--ip-address", "ip_address", str), ("--ip-port", "ip_port", int),
                    ("--serial-number", "serial_number", str), ("--board-file", "file", str),
                    ("--other-info", "other_info", str), ("--timeout", "timeout", int),
                    ("--master-board", "master_board", int))


def brainflow_params(opts: Mapping[str, object]) -> dict:
    """The BrainFlowInputParams a parsed command line ({option dest: value}) set: only those given, so
    BrainFlow keeps its defaults for the rest."""
    return {field: opts[field] for _, field, _ in BRAINFLOW_PARAMS if opts.get(field) is not None}
