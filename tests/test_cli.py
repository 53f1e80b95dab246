"""The command line as a user meets it: one clear line and a non-zero exit for bad input, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eegviz.paths import default_model_dir, demo_recording


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "eegviz.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, needle", [
    (["replay", "/nonexistent/file.xdf", "--headless"], "does not exist"),
    (["replay", __file__, "--headless"], "not an XDF"),
    (["replay", "DEMO", "--headless", "--model", "/nonexistent-model"], "no model at"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "/tmp/x"], "not a dataset eegviz can read"),
    (["replay", "DEMO", "--headless", "--generator", "nope"], "no generator named 'nope'"),
    (["train", "--data", "TESTS_WORLD", "--out", "/tmp/x", "--subjects", "4,five"], "--subjects takes subject numbers"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "/tmp/x", "--classifier", "/nope",
      "--strength", "0"], "--strength must be in (0, 1]"),
])
def test_bad_input_is_one_line_and_nonzero(args, needle):
    world = str(Path(__file__).parent / "world")  # a folder, but no dataset
    args = [str(demo_recording()) if a == "DEMO" else world if a == "TESTS_WORLD" else a for a in args]
    r = run(*args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("eegviz: error:")]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_corrupt_weights_one_line(tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    (model / "generator.safetensors").write_bytes(b"\x00" * 100)
    r = run("replay", str(demo_recording()), "--headless", "--model", str(model), "--speed", "0")
    assert r.returncode == 2 and "corrupt" in r.stderr and "Traceback" not in r.stderr


def test_demo_headless_every_marker_gets_a_line(tmp_path):
    import pyxdf

    out = tmp_path / "demo"
    r = run("demo", "--headless", "--out", str(out), "--speed", "0")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    streams, _ = pyxdf.load_xdf(str(demo_recording()))
    markers = [s for s in streams if s["info"]["type"][0] == "Markers"][0]
    payloads = [m[0] for m in markers["time_series"]]
    assert [l["marker"] for l in lines] == payloads
    assert all(not l["dropped"] for l in lines)
    for l in lines:
        assert (out / l["reconstruction"]).exists() and l["latency_ms"]["generate"] > 0
    # the session recording holds every raw sample of the replayed EEG
    rec, _ = pyxdf.load_xdf(str(out / "session.xdf"))
    eeg_in = [s for s in streams if s["info"]["type"][0] == "EEG"][0]
    eeg_out = [s for s in rec if s["info"]["type"][0] == "EEG"][0]
    assert len(eeg_out["time_stamps"]) == len(eeg_in["time_stamps"])
    # reconstructions are the stimulus class far more often than chance (1/40)
    hits = sum(l["decoded_class"] == l["marker"].rsplit("_", 1)[0] for l in lines)
    assert hits / len(lines) > 0.25


def test_plugins_lists_builtins():
    r = run("plugins")
    assert r.returncode == 0
    for name in ("xdf", "lsl", "brainflow", "simulator", "embedded", "diffusers", "headless"):
        assert name in r.stdout
