"""Test-wide setup for tests/ and plugins/: liblsl confined to this machine, the Hugging Face Hub offline, Qt
offscreen.

LSLAPICFG must be set before pylsl loads liblsl, so it is set here at import time, before any test module.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
os.environ["LSLAPICFG"] = str(ROOT / "lsl_api.cfg")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"  # forced like LSLAPICFG: a test never reaches for the network
os.environ.setdefault("MNE_LSL_LOG_LEVEL", "WARNING")
