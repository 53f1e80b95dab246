"""--sink NAME[:ARGS] switches on any registered sink; the first-party OSC plugin receives a whole demo."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from eegviz.errors import EegvizError
from eegviz.sinks import make_sink

ROOT = Path(__file__).resolve().parent.parent


def test_unknown_or_malformed_sinks_are_one_line_errors():
    with pytest.raises(EegvizError, match="no sink named 'nope'"):
        make_sink("nope")
    with pytest.raises(EegvizError, match="needs arguments"):
        make_sink("headless")  # the results writer needs a folder: it is --out's job


def test_demo_drives_the_osc_sink_from_the_command_line(tmp_path):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(10)
    port = rx.getsockname()[1]
    # capture = false: graph capture (4-8 s of tracing per process) is not this test's subject
    (tmp_path / "kiosk.toml").write_text(f'[demo]\nheadless = true\nspeed = 0\ncapture = false\n'
                                         f'sink = ["osc:127.0.0.1:{port}"]\n')
    env = {"EEGVIZ_PLUGINS": str(ROOT / "plugins")}
    import os

    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "demo", "--config", str(tmp_path / "kiosk.toml")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    got = []
    rx.settimeout(1)
    try:
        while True:
            got.append(rx.recvfrom(4096)[0])
    except socket.timeout:
        pass
    rx.close()
    assert len(got) == 40 and all(g.startswith(b"/eegviz/reconstruction") for g in got)
