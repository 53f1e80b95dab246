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


import pytest  # noqa: E402  (after the environment above, which must be set before anything loads liblsl)


@pytest.fixture
def full_disk(monkeypatch):
    """A context manager: inside it Path.write_text writes the first few characters and then fails as a full disk
    does (ENOSPC, naming no file, since write() has only a descriptor)."""
    import errno
    from contextlib import contextmanager

    real_write = Path.write_text

    def write(self, data, *args, **kwargs):
        real_write(self, data[:5], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    @contextmanager
    def filled():
        with monkeypatch.context() as m:
            m.setattr(Path, "write_text", write)
            yield

    return filled
