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

# what --help says of an option beyond its BrainFlowInputParams field: these two are read by the playback (-3)
# and streaming (-2) boards only, which their bare field names ("file", "master_board") did not tell
BRAINFLOW_HELP = {
    "file": "the BrainFlow recording (a CSV) the playback board, --board -3, plays",
    "master_board": "the board that recorded what the playback (--board -3) or streaming (--board -2) board "
                    "carries: its rows and rate describe the data",
}


def brainflow_params(opts: Mapping[str, object]) -> dict:
    """The BrainFlowInputParams a parsed command line ({option dest: value}) set: only those given, so
    BrainFlow keeps its defaults for the rest."""
    return {field: opts[field] for _, field, _ in BRAINFLOW_PARAMS if opts.get(field) is not None}
