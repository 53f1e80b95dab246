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

# One OpenBLAS thread in the test process. The tests' scikit-learn fits are tiny (tens of trials, a few thousand
# features): the decoder's colour readout (fit_colour, six LogisticRegression fits in every training run) and the
# controls' probes. Two OpenBLAS threads on 2 cores made such fits several times slower than one (thread hand-offs,
# spinning beside torch's threads: the sweep test 14.8 -> 5.3 s). eegviz sets no BLAS thread count of its own (only
# torch's, eegviz.threads), so no tested behaviour depends on it; torch's MKL is not OpenBLAS and keeps its threads;
# subprocesses are not affected. numpy and scipy.linalg are loaded first, so that the limit reaches both libraries.
import importlib  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

for _library in ("numpy", "scipy.linalg"):
    importlib.import_module(_library)
threadpool_limits(limits=1, user_api="blas")


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


@pytest.fixture
def offset_probes(monkeypatch):
    """Every pylsl time_correction() call logged: a function returning (the inlets whose probe was begun, with
    timeout 0, before any call waited; the inlets waited on after that), to check that several inlets' ~0.65 s
    first clock-offset probes overlap instead of running one after the other."""
    import pylsl

    calls = []
    real = pylsl.StreamInlet.time_correction

    def logged(self, timeout=pylsl.FOREVER):
        calls.append((id(self), timeout))
        return real(self, timeout)

    monkeypatch.setattr(pylsl.StreamInlet, "time_correction", logged)

    def begun_then_waited():
        first_wait = next((i for i, (_, timeout) in enumerate(calls) if timeout > 0), len(calls))
        return ({inlet for inlet, timeout in calls[:first_wait] if timeout == 0},
                {inlet for inlet, timeout in calls[first_wait:] if timeout > 0})

    return begun_then_waited
