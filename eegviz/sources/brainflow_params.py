"""BrainFlow's connection parameters (BrainFlowInputParams) as eegviz options, for the CLI and the window.

Kept apart from eegviz.sources.brainflow so the command line can declare its options without loading
BrainFlow's native library.
"""

from __future__ import annotations

# (option, BrainFlowInputParams field, type)
BRAINFLOW_PARAMS = (("--serial-port", "serial_port", str), ("--mac-address", "mac_address", str),
                    ("--ip-address", "ip_address", str), ("--ip-port", "ip_port", int),
                    ("--serial-number", "serial_number", str), ("--board-file", "file", str),
                    ("--other-info", "other_info", str), ("--timeout", "timeout", int))


def brainflow_params(args) -> dict:
    """The BrainFlowInputParams the command line set (only those given, so BrainFlow keeps its defaults)."""
    return {field: getattr(args, field) for _, field, _ in BRAINFLOW_PARAMS if getattr(args, field, None) is not None}
