"""run_headless: one SessionSettings in, a finished session out (the default model on the demo recording)."""

import pytest

from eegviz.errors import EegvizError
from eegviz.headless import build_models, run_headless
from eegviz.paths import default_model_dir, demo_recording
from eegviz.settings import GeneratorSettings, OutputSettings, SessionSettings, SourceSettings

pytestmark = pytest.mark.skipif(not demo_recording().exists() or not (default_model_dir() / "decoder.json").exists(),
                                reason="demo recording or default model missing")


def test_the_settings_decide_output_pacing_and_duration(tmp_path):
    from eegviz.sources.xdf import XdfReplaySource

    settings = SessionSettings(source=SourceSettings("demo", speed=3.0),
                               output=OutputSettings(folder=str(tmp_path / "out")), duration=1.0, reject_uv=60.0)
    stats = run_headless(XdfReplaySource(demo_recording(), speed=3.0), settings)
    assert stats.ended == "duration" and stats.markers > 0  # paced at 3x, the demo outlasts 1 s
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == stats.markers and (tmp_path / "out" / "session.xdf").exists()  # a line per marker
    # --reject-uv reaches the epocher: the demo world's epochs are 90-110 uV peak to peak, every one over 60
    assert stats.rejected == sum('"skip": "rejected"' in line for line in lines) >= 1 and stats.results == 0


def test_an_error_mid_session_says_what_was_kept_and_where(tmp_path, monkeypatch, capsys):
    """A session that an error ended after its folder was claimed (a full disk, a generator failing) printed the
    error's line alone: nothing said how many markers had their lines, nor in which folder. The summary line
    comes first, as it does for Ctrl-C; a session refused before it starts prints none."""
    from eegviz import headless
    from eegviz.sources.xdf import XdfReplaySource

    real = headless.build_models

    def failing_generator(model_dir, generator):
        dec, gen = real(model_dir, generator)
        made, calls = gen.generate, []

        def generate(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("CUDA out of memory")
            return made(*args, **kwargs)

        gen.generate = generate
        return dec, gen

    monkeypatch.setattr(headless, "build_models", failing_generator)
    out = tmp_path / "out"
    settings = SessionSettings(source=SourceSettings("demo", speed=0.0), output=OutputSettings(folder=str(out)))
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        run_headless(XdfReplaySource(demo_recording(), speed=0.0), settings)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eegviz: ") and err[0].endswith(f"results in {out}")
    n = int(err[0].split()[1])
    assert n == len((out / "results.jsonl").read_text().splitlines()) > 0


def test_the_pipeline_options_are_the_settings_with_or_without_a_window(tmp_path):
    """run_headless and the window's session build their Pipeline with pipeline_options: each wrote the keywords
    out. The settings' electrodes, repeats and threads go in as they are, --images-dir is read into the truth of
    what was shown, the worlds are the model's (the default model learnt world 0), and --reject-uv's threshold goes
    in as it is."""
    from PIL import Image

    from eegviz.headless import pipeline_options

    Image.new("RGB", (4, 4)).save(tmp_path / "a_cat.png")
    settings = SessionSettings(source=SourceSettings("demo", montage="standard_1020", bads=("Cz", "Pz")),
                               average_repeats=True, threads=2, images_dir=str(tmp_path), reject_uv=150.0)
    opts = pipeline_options(settings, default_model_dir())
    truth = opts.pop("truth")
    assert opts == {"montage": "standard_1020", "bads": ("Cz", "Pz"), "average_repeats": True, "threads": 2,
                    "world_seeds": {0}, "reject_uv": 150.0}
    assert truth.images_dir == tmp_path and truth("a_cat") is not None and truth("a_dog") is None
    opts = pipeline_options(SessionSettings(), None)
    assert (opts["truth"].images_dir, opts["world_seeds"], opts["bads"], opts["threads"], opts["reject_uv"]) == \
        (None, None, (), None, None)


def test_an_unknown_generator_is_one_line():
    with pytest.raises(EegvizError, match="no generator named 'nope'"):
        build_models(default_model_dir(), GeneratorSettings("nope"))


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "window"])
def test_sigterm_ends_a_session_as_ctrl_c_does(tmp_path, headless):
    """`kill PID` (what a script or process manager sends; a script's background job cannot even get SIGINT):
    the session ends with every marker's line, the recording's footers, the report and the summary line, exit
    130 as for Ctrl-C. Before, SIGTERM killed the process mid-write: headless first, then the window (offscreen
    here; how systemd stops a kiosk), which also ended a Ctrl-C without its summary line."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import pyxdf

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "eegviz", "demo", *(["--headless"] if headless else []),
                             "--no-capture", "--speed", "3", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    results = out / "results.jsonl"
    t_end = time.monotonic() + 120
    while time.monotonic() < t_end and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    said, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "results in" in said + err and "interrupted" in err
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    streams = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(out / "session.xdf"))[0]}
    markers = next(s for name, s in streams.items() if "marker" in name.lower())
    assert len(lines) == len(markers["time_stamps"]) >= 3  # every marker recorded has its line
    assert all("footer" in s for s in streams.values()) and (out / "report.html").exists()


def _record(folder):
    import json

    return json.loads((folder / "session.json").read_text())


@pytest.mark.parametrize("command", ["demo", "replay", "live"])
def test_the_session_folder_says_what_produced_it(tmp_path, command):
    """session.json names the source, the model folder with its digest, the generator's options and eegviz's
    version; a folder used to hold results.jsonl, report.html and session.xdf and nothing of what made them."""
    from eegviz import __version__
    from eegviz.modelio import model_digest
    from eegviz.app.source_choice import initial_source

    opts = {"demo": {"cmd": "demo", "speed": 0.0},
            "replay": {"cmd": "replay", "file": str(demo_recording()), "speed": 0.0},
            "live": {"cmd": "live", "simulate": True, "speed": 50.0, "class_snr_db": -6.0}}[command]
    # session.json is written when the folder is claimed, before the first sample: half a second of session is
    # as good as the 2 s it ran
    settings = SessionSettings.from_options({**opts, "out": str(tmp_path / "out"), "headless": True,
                                             "steps": 1, "init": "latent", "duration": 0.5, "reject_uv": 150})
    run_headless(initial_source(settings.source).make_source(), settings)
    rec = _record(tmp_path / "out")
    assert rec["eegviz"] == __version__ and rec["source"]["command"] == command
    assert rec["source"]["opened"]["sfreq"] > 0 and rec["source"]["opened"]["channels"]
    assert rec["model"]["folder"] == str(default_model_dir().resolve())
    assert rec["model"]["digest"] == model_digest(default_model_dir())
    assert rec["model"]["generator"]["options"]["steps"] == 1
    assert rec["model"]["generator"]["options"]["init"] == "latent"
    # what drew the images, where the options leave it to the model: the sampling.json values it did not override
    import json

    sampling = json.loads((default_model_dir() / "sampling.json").read_text())
    assert rec["model"]["sampler"] == {"steps": 1, "strength": sampling["strength"], "guidance": sampling["guidance"],
                                       "size": sampling["image_size"], "family": "native",
                                       "scheduler": "DDIMScheduler"}
    assert rec["settings"]["output"]["folder"] == str(tmp_path / "out")
    assert rec["settings"]["reject_uv"] == 150.0  # the artefact threshold the session judged its epochs by
    if command == "replay":
        assert rec["source"]["file"] == str(demo_recording())
    if command == "live":
        assert rec["source"]["simulate"] and rec["source"]["class_snr_db"] == -6.0
