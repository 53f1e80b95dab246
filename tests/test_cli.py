"""The command line as a user meets it: one clear line and a non-zero exit for bad input, no tracebacks."""

import argparse
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
    (["replay", "", "--headless"], "replay's FILE is empty"),  # was " is not an XDF recording", no name at all
    # said before the model loads, naming the option (the generator said "img2img needs steps >= 1" at load)
    (["replay", "DEMO", "--headless", "--steps", "0"], "--steps must be >= 1"),
    (["replay", "DEMO", "--headless", "--model", "/nonexistent-model"], "no model at"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW"], "not a dataset eegviz can read"),
    (["replay", "DEMO", "--headless", "--generator", "nope"], "no generator named 'nope'"),
    (["train", "--data", "TESTS_WORLD", "--out", "NEW", "--subjects", "4,five"], "--subjects takes subject numbers"),
    # read as not given: `--subjects "$SUBJECT"` with SUBJECT unset trained on every subject without a word
    (["train", "--data", "TESTS_WORLD", "--out", "NEW", "--subjects", ""], "--subjects is empty"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--subjects", " "], "--subjects is empty"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--classifier", "/nope",
      "--strength", "0"], "--strength must be in (0, 1]"),
    # an earlier run's output is a record: refused before anything runs, never overwritten
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "FULL_DIR"], "already holds files"),
    (["sweep", "--snr-db=-10", "--out", "FULL_DIR"], "already holds files"),
    (["bench", "--n", "2", "--out", "OLD_FILE"], "already exists; choose a new name"),
    (["demo", "--speed", "0", "--screenshot", "OLD_FILE"], "already exists; choose a new name"),
    (["bench", "--n", "2", "--out", "NEW/sub/bench.json"], "does not exist"),
    # values argparse lets through (it reads "nan" as a float), each refused with the rule
    (["demo", "--headless", "--out", "NEW", "--speed", "nan"], "--speed must be a finite number >= 0"),
    (["simulate", "--out", "NEW", "--drift", "nan"], "--drift must be a finite number >= 0"),
    (["simulate", "--out", "NEW", "--subjects", "0"], "--subjects must be >= 1"),
    (["simulate", "--out", "NEW", "--images", "0"], "--images must be >= 1"),
    (["simulate", "--out", "NEW", "--seed", "-1"], "--seed must be >= 0"),
    (["simulate", "--demo"], "simulate --demo needs --out DIR"),
    (["simulate", "--demo", "--out", "OLD_FILE"], "is a regular file, not a folder"),  # was "File exists: X"
    (["simulate", "--demo", "--stream", "--out", "NEW"], "give one of them"),  # --demo was ignored: streamed forever
    (["simulate", "--stream", "--out", "NEW", "--duration", "nan"], "--stream writes no files"),  # --out was ignored
    (["bench", "--n", "2", "--sd-arch", "tiny", "--sd-n", "0"], "--sd-n must be a finite number > 0"),
    (["present", "--write-demo-folder", "NEW", "--classes", ",,,"], "no stimulus classes chosen"),
    (["present", "--write-demo-folder", "NEW", "--size", "100000"], "--size must be in [8, 4096]"),
    (["demo", "--headless", "--out", "NEW", "--steps", "600"], "more steps than the scheduler's 1000 timesteps"),
    (["live", "--simulate", "--headless", "--out", "NEW", "--duration", "nan"], "--duration must be a finite number > 0"),
    (["live", "--simulate", "--headless", "--out", "NEW", "--duration", "0"], "--duration must be a finite number > 0"),
    (["demo", "--speed", "0", "--screenshot", "NEW.txt"], "name an image file"),
    (["simulate", "--stream", "--subject", "-1"], "--subject must be >= 0"),
    (["simulate", "--stream", "--duration", "-1"], "--duration must be a finite number > 0"),
    (["simulate", "--stream", "--markers", " "], "--markers must name the marker outlet"),
    (["simulate", "--stream", "--name", " "], "--name must name the EEG outlet (default: eegviz-sim)"),
    (["simulate", "--stream", "--name", "m", "--markers", "m"], "--name and --markers both name 'm'"),
    (["simulate", "--out", "NEW", "--name", "amp2"], "--name is for --stream"),
    # a dataset's options given to --stream, and --stream's to a dataset, were dropped without a word: `--signal 0`
    # streamed the full signal, `--out D --duration 5` wrote the whole dataset
    (["simulate", "--stream", "--signal", "0"], "--signal is for a simulated dataset (--out DIR)"),
    (["simulate", "--stream", "--subjects", "1", "--repeats", "8"], "--subjects, --repeats are for a simulated"),
    (["simulate", "--out", "NEW", "--duration", "5"], "--duration is for --stream"),
    (["simulate", "--out", "NEW", "--subject", "1", "--markers", "m"], "--subject, --markers are for --stream"),
    (["simulate", "--stream", "--images", "0"], "--images must be >= 1"),
    (["simulate", "--demo", "--out", "NEW", "--preset", "realistic", "--images", "5"],  # wrote the demo world's
     "--images, --preset are not used by --demo"),
    (["train", "--data", "TESTS_WORLD", "--out", "NEW", "--markers", " "], "--markers is empty"),
    # a run that trains no generator dropped the generator's options without a word
    (["train", "--data", "TESTS_WORLD", "--out", "NEW", "--decoder-only", "--ae-steps", "5"],
     "--ae-steps is for the embedded generator and its stimulus classifier, which --decoder-only does not train"),
    (["train", "--data", "TESTS_WORLD", "--out", "NEW", "--decoder-only", "--generator-config", "tiny",
      "--classifier-epochs", "2"], "--generator-config, --classifier-epochs are for the embedded generator"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--stream", ""], "--stream is empty"),
    # an evaluation that makes no image built the generator anyway, and dropped its options without a word
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--no-reconstructions", "--steps", "2",
      "--classifier", "/c"], "--steps, --classifier are for the reconstructions, which --no-reconstructions skips"),
    # and one that runs no control dropped the high-pass variant's cutoff (and its Nyquist check) without a word
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--no-controls", "--controls-highpass", "200"],
     "--controls-highpass is for the confound controls, which --no-controls skips"),
    (["record", "--out", "NEW", "--wait", "-1"], "--wait must be a finite number > 0 s"),
    # a look of 0 s sees no stream: 0 was accepted, and eegviz went on looking 1 s at a time
    (["record", "--out", "NEW", "--wait", "0"], "--wait must be a finite number > 0 s (the length of one look for "
                                                "streams; a look of 0 s sees none)"),
    # csv's --sfreq and --unit, checked for every format: an XDF replay ran as if they were not given
    (["replay", "DEMO", "--headless", "--sfreq", "nan"], "--sfreq must be a finite number > 0 Hz"),
    (["replay", "DEMO", "--headless", "--unit", "furlongs"], "unknown --unit 'furlongs'; use one of V, mV, uV, nV"),
    (["bench", "--soak", "-1"], "--soak must be a finite number >= 0"),
    # a file where a folder must be: the operating system's reason and the path, one line
    (["simulate", "--out", "OLD_FILE/sub", "--images", "1"], "which is a regular file, not a folder"),
    # options that cannot take effect: each ran to exit 0 without a word (found by review)
    (["demo", "--headless", "--speed", "0", "--screenshot", "NEW/shot.png"], "--screenshot is for the window"),
    (["demo", "--headless", "--speed", "0", "--kiosk"], "--kiosk is for the window"),
    (["demo", "--headless", "--speed", "0", "--kiosk", "--screenshot", "x.png"],
     "--kiosk and --screenshot are for the window"),
    (["demo", "--headless", "--sd-model", "/nonexistent"], "--sd-model is read by the diffusers generator only"),
    # live decodes one source: the other was dropped (--simulate --stream amp decoded the simulator); the
    # --duration nan after it stops a run that let the pair through, instead of a session without end
    (["live", "--headless", "--simulate", "--stream", "amp", "--duration", "nan"],
     "--simulate and --stream cannot go together"),
    (["live", "--headless", "--simulate", "--markers", "stim", "--duration", "nan"],
     "--simulate and --markers cannot go together"),
    (["live", "--headless", "--board", "-1", "--simulate", "--duration", "nan"],
     "--board and --simulate cannot go together"),
    (["live", "--headless", "--board", "-1", "--stream", "amp", "--duration", "nan"],
     "--board and --stream cannot go together"),
    # live --simulate's class SNR (the window's box) from the command line, refused where it cannot apply
    (["live", "--headless", "--class-snr-db=-30", "--duration", "nan"], "give it with --simulate"),
    (["live", "--headless", "--simulate", "--class-snr-db=50", "--duration", "nan"], "at most 40"),
    (["replay", "DEMO", "--headless", "--generator", "embedded", "--sd-model", "/x"], "add --generator diffusers"),
    (["eval", "--data", "TESTS_WORLD", "--model", "/x", "--out", "NEW", "--sd-model", "/y"],
     "--sd-model is read by the diffusers generator only"),
])
def test_bad_input_is_one_line_and_nonzero(args, needle, tmp_path, capsys):
    """In-process (main() is the whole command, argv to exit code; the entry point itself is run as a process
    by test_the_entry_point_is_one_line_too), so two dozen cases cost seconds, not a minute of interpreters."""
    from eegviz.cli import main

    world = str(Path(__file__).parent / "world")  # a folder, but no dataset
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "metrics.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    names = {"DEMO": str(demo_recording()), "TESTS_WORLD": world, "NEW": str(tmp_path / "new"),
             "FULL_DIR": str(tmp_path / "full"), "OLD_FILE": str(tmp_path / "old.json")}
    args = [names.get(a, a) for a in args]
    args = [a.replace("OLD_FILE", str(tmp_path / "old.json")).replace("NEW/", str(tmp_path / "new") + "/")
            for a in args]
    code = main(args)
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.startswith("eegviz: error:")]
    assert len(lines) == 1 and needle in lines[0], err
    assert (tmp_path / "old.json").read_text() == "{}" and [f.name for f in (tmp_path / "full").iterdir()] == [
        "metrics.json"]  # untouched


def test_simulate_a_datasets_stream_options_name_subjects_only_for_subject(tmp_path, capsys):
    """`simulate --out D --markers m` (or --duration) was told "(its subjects are --subjects N)", an answer to
    --subject, which was not given: the user was sent to an option unrelated to their mistake."""
    from eegviz.cli import main

    for extra, subjects in ((["--markers", "m"], False), (["--duration", "5"], False), (["--subject", "1"], True)):
        assert main(["simulate", "--out", str(tmp_path / "new"), *extra]) == 2
        line = capsys.readouterr().err.strip()
        assert f"{extra[0]} is for --stream" in line and ("--subjects N" in line) == subjects, line
    assert not (tmp_path / "new").exists()


def test_simulate_demo_has_one_table_of_the_options_it_does_not_read(tmp_path, capsys):
    """Every option of simulate's is one --demo reads (--out, --seed), a mode switch, an everywhere option, or in
    _DEMO_UNUSED: the one table that refuses it, lets --demo replace a config file's value and knows its default
    (three copies before, which a new option had to be added to thrice)."""
    from eegviz.cli import _DEMO_UNUSED, _MODE_DEFAULTS, REPLACES, build_parser, main

    simulate = build_parser().eegviz_commands["simulate"]
    read = {"-h", "--out", "--seed", "--stream", "--demo", "--config", "-v", "--log-level", "--plugins"}
    for action in (a for a in simulate._actions if a.option_strings):
        assert action.option_strings[0] in read or action.option_strings[0] in _DEMO_UNUSED, action.option_strings
        if action.option_strings[0] in _DEMO_UNUSED:
            assert _DEMO_UNUSED[action.option_strings[0]] == (action.dest, action.default)
    assert REPLACES["simulate"]["demo"] == ("stream", *(dest for dest, _ in _DEMO_UNUSED.values()))
    assert _MODE_DEFAULTS["simulate"]["line_hz"] is None and _MODE_DEFAULTS["simulate"]["subjects"] == 2
    assert main(["simulate", "--demo", "--out", str(tmp_path / "d"), "--line-hz", "60", "--subjects", "3"]) == 2
    assert capsys.readouterr().err == (
        "eegviz: error: --subjects, --line-hz are not used by --demo, which writes the demo recording as shipped "
        "(its world from --seed alone); leave them out, or simulate a dataset without --demo (on the command line "
        "or in the --config file)\n")
    assert not (tmp_path / "d").exists()


def test_the_command_line_without_the_file_is_parsed_once_and_holds_only_what_it_gives(tmp_path):
    """_plain answers every question parse_args asks of the command line alone (which lists it gives, -v, which
    option replaces a file's, where a value came from): an option left out is no attribute, --no-X is False. Which
    options were given took a second parse of its own."""
    from eegviz.cli import _plain, parse_args

    plain = _plain(["live", "--no-simulate", "--sink", "osc:127.0.0.1:9000", "-v"])
    assert {k: v for k, v in vars(plain).items() if k != "fn"} == {
        "cmd": "live", "simulate": False, "sink": ["osc:127.0.0.1:9000"], "verbose": True}
    assert set(vars(_plain(["train"]))) == {"cmd", "fn"}  # its required --data may come from a config file
    assert _plain(["demo", "--help"]) is None and _plain(["demo", "--steps", "x"]) is None
    cfg = tmp_path / "s.toml"
    cfg.write_text("[demo]\nstrength = 0.5\nsteps = 2\n")
    origins: dict[str, str] = {}
    args = parse_args(["demo", "--config", str(cfg), "--strength", "0.25"], origins)
    assert (args.strength, args.steps) == (0.25, 2)
    assert origins == {"--steps": f"config file {cfg} [demo]: 'steps' = 2"}  # --strength: the command line's


@pytest.mark.parametrize("file, options, warned", [
    ("a.xdf", {"sfreq": 250.0, "unit": "mV"}, "--sfreq and --unit not used: a.xdf is read by the xdf reader"),
    ("a.edf", {"unit": "uV"}, "--unit not used: a.edf is read by the mne reader"),
    ("a.xdf", {}, None),
    ("a.csv", {"reader": "csv", "sfreq": 250.0, "unit": "mV"}, None),  # csv uses them
    # without --source csv a .csv goes to MNE: the warning says which reader would use them (found by review)
    ("a.csv", {"sfreq": 250.0}, "--sfreq not used: a.csv is given to the mne reader; a csv file is read with "
                                "--source csv"),
    # XDF stream names given for a file MNE reads were dropped without a word
    ("a.fif", {"stream": "EEG", "markers": "Stim"}, "--stream and --markers not used: a.fif is read by the mne reader"),
    ("a.xdf", {"stream": "EEG", "markers": "Stim"}, None),
    ("a.csv", {"reader": "csv", "sfreq": 250.0, "markers": "m"}, None),  # a plugin reader gets them
])
def test_replay_says_when_sfreq_and_unit_are_not_used(file, options, warned, caplog):
    """A valid --sfreq/--unit for a file that carries its own rate and unit is one warning line, not silence."""
    from eegviz.cli import _check_rate_and_unit
    from eegviz.settings import SourceSettings

    with caplog.at_level("WARNING", logger="eegviz"):
        _check_rate_and_unit(SourceSettings(command="replay", file=f"/data/{file}", **options))
    said = [r.getMessage() for r in caplog.records]
    if warned is None:
        assert said == []
    else:
        assert len(said) == 1 and said[0].startswith(warned) and "\n" not in said[0]


def test_the_entry_point_is_one_line_too(tmp_path):
    """`python -m eegviz.cli` as a user runs it: the same one line and exit 2 from a real interpreter."""
    r = run("simulate", "--out", str(tmp_path / "new"), "--seed", "-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "eegviz: error: --seed must be >= 0, not -1"


def test_corrupt_weights_one_line(tmp_path, capsys):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    (model / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 100)
    # in-process, as the one-line errors below (a subprocess paid ~5 s of imports); a traceback would be an
    # exception out of main() here
    from eegviz.cli import main

    code = main(["replay", str(demo_recording()), "--headless", "--model", str(model), "--speed", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "corrupt" in err and "Traceback" not in err


def test_demo_headless_every_marker_gets_a_line(tmp_path, capsys):
    import pyxdf

    from eegviz.cli import main

    out = tmp_path / "demo"
    # in-process (the entry point's own process is test_the_entry_point_is_one_line_too's): a subprocess paid
    # ~3-5 s of interpreter and torch/diffusers imports; capture stays on, as a user's demo runs
    code = main(["demo", "--headless", "--out", str(out), "--speed", "0"])
    assert code == 0, capsys.readouterr().err
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


def test_plugins_lists_builtins(capsys):
    from eegviz.cli import main

    assert main(["plugins"]) == 0  # in-process: `plugins` as a process is run by the two tests below
    out = capsys.readouterr().out
    for name in ("xdf", "lsl", "brainflow", "simulator", "embedded", "diffusers", "headless"):
        assert name in out


# -- one-line errors from in-process main(): exit 2, one "eegviz: error:" line, no traceback ------------------------
def _main_error(capsys, argv) -> str:
    from eegviz.cli import main

    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eegviz: error:"), err
    return lines[0]


def _one_class_recording(root):
    """3 channels at 10 Hz with four markers, all naming images of one class ('cat')."""
    import numpy as np

    from eegviz.record.xdf_writer import XdfWriter

    images = root / "images"
    images.mkdir(parents=True)
    for i in ("cat_1", "cat_2"):
        (images / f"{i}.png").write_bytes(b"")
    ts = 100 + np.arange(400) / 10.0
    with XdfWriter(root / "rec.xdf") as w:
        eeg = w.add_stream("amp", "EEG", 3, 10.0, "float32", ch_names=["O1", "Oz", "O2"], unit="microvolts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.zeros((400, 3), np.float32), ts)
        w.write_samples(mk, ["cat_1", "cat_2", "cat_1", "cat_2"], 101 + 2.0 * np.arange(4))
    return root / "rec.xdf", images


def test_train_on_xdf_without_usable_classes(tmp_path, capsys):
    xdf, images = _one_class_recording(tmp_path)
    line = _main_error(capsys, ["train", "--data", xdf, "--images-dir", images, "--out", tmp_path / "model",
                                "--epochs", 1, "--gan-steps", 1])
    assert "two" in line and "'cat'" in line and "class" in line
    assert not (tmp_path / "model" / "decoder.json").exists()


def _lab_recording(root):
    """A lab session recorded as the README says, every stream: EEG, the amplifier's own triggers (the EEG
    sender's) and the presenter's image ids; 3 classes of 4 images, each shown twice."""
    import numpy as np

    from eegviz.record.xdf_writer import XdfWriter

    from PIL import Image

    images = root / "stim"
    ids = [f"{c}_{k}" for c in ("cat", "dog", "cup") for k in range(4)] * 2
    for j, i in enumerate(ids[:12]):
        (images / i.split("_")[0]).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (20 * j, 100, 200 - 10 * j)).save(images / i.split("_")[0] / f"{i}.png")
    fs, n = 100.0, 3000
    rng = np.random.default_rng(0)
    times = 101 + 0.8 * np.arange(len(ids))
    with XdfWriter(root / "sub-02" / "session.xdf") as w:
        eeg = w.add_stream("amp", "EEG", 4, fs, "float32", source_id="amp-7", ch_names=["O1", "Oz", "O2", "Pz"],
                           unit="microvolts")
        trig = w.add_stream("amp-Markers", "Markers", 1, 0.0, "string", source_id="amp-7-markers")
        pres = w.add_stream("eegviz-presenter", "Markers", 1, 0.0, "string", source_id="pres-1")
        w.write_samples(eeg, rng.normal(0, 10, (n, 4)).astype(np.float32), 100 + np.arange(n) / fs)
        w.write_samples(trig, ["S  1"] * len(ids), times)
        w.write_samples(pres, ids, times)
    return root / "sub-02", images


def test_train_and_eval_take_markers_and_stream_for_xdf_sessions(tmp_path, capsys, monkeypatch):
    """train and eval had no --markers/--stream (replay and live have them), so a recording holding the
    amplifier's triggers beside the presenter's markers could not be trained on (review 2, finding 1). They
    reach the XDF loader, run.json records them (a --resume with others is refused) and so does the command
    the model card prints."""
    import eegviz.eval.report as report
    import eegviz.train.decoder as decoder_module
    from eegviz.cli import main

    data, images = _lab_recording(tmp_path)
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--images-dir", str(images), "--out", str(out), "--epochs", "1",
            "--gan-steps", "0", "--text-encoder", "hash", "--decoder-only", "--no-eval-controls"]
    # a named stream is the one read: the amplifier's triggers name no image
    assert "no epochs" in _main_error(capsys, args + ["--markers", "amp-Markers"]) and not out.exists()
    assert "no marker stream named 'nope'" in _main_error(capsys, args + ["--markers", "nope"])
    assert "no stream named 'eeg'" in _main_error(capsys, args + ["--stream", "eeg"])

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    assert main(args + ["--markers", "eegviz-presenter", "--stream", "amp"]) == 130
    run = json.loads((out / "checkpoints" / "run.json").read_text())
    assert run["options"]["data_options"] == {"images_dir": str(images), "marker_stream": "eegviz-presenter",
                                              "eeg_stream": "amp"}
    assert run["data"]["trials"] == 24
    capsys.readouterr()
    assert "options data_options differ" in _main_error(capsys, args + ["--resume", "--markers", "eegviz-presenter"])
    monkeypatch.undo()
    seen = {}

    def evaluate(data, model, out, **kw):
        seen.update(kw["data_opts"])
        return {"headline": {}}

    monkeypatch.setattr(report, "evaluate", evaluate)
    monkeypatch.setattr(report, "eval_generator", lambda *a, **k: None)
    assert main(["eval", "--data", str(data), "--images-dir", str(images), "--model", str(default_model_dir()),
                 "--out", str(tmp_path / "ev"), "--markers", "eegviz-presenter", "--stream", "amp"]) == 0
    assert seen == {"images_dir": str(images), "marker_stream": "eegviz-presenter", "eeg_stream": "amp"}


def test_train_without_markers_uses_the_presenters_and_records_markers_in_its_command(tmp_path, capsys, caplog):
    """Without --markers the stream naming the stimulus folder's images is trained on (the amplifier's
    triggers, the EEG sender's, ended in 'no epochs'); the model card's command names --markers as a flag."""
    from eegviz.cli import main

    data, images = _lab_recording(tmp_path)
    base = ["train", "--data", str(data), "--images-dir", str(images), "--epochs", "1", "--gan-steps", "0",
            "--text-encoder", "hash", "--decoder-only", "--no-eval-controls"]
    assert main(base + ["--out", str(tmp_path / "auto")]) == 0, capsys.readouterr().err
    assert "decoding 'eegviz-presenter' (its markers name 12 images" in caplog.text
    training = json.loads((tmp_path / "auto" / "training.json").read_text())
    assert training["dataset"]["trials"] == 24 and "--markers" not in training["command"]
    assert main(base + ["--out", str(tmp_path / "named"), "--markers", "eegviz-presenter"]) == 0
    training = json.loads((tmp_path / "named" / "training.json").read_text())
    assert training["dataset"]["trials"] == 24 and "--markers eegviz-presenter" in training["command"]
    assert "--markers eegviz-presenter" in (tmp_path / "named" / "README.md").read_text()


def test_stream_options_for_a_dataset_without_streams_are_refused(tmp_path, capsys):
    from eegviz.data.synthetic import simulate_dataset

    data = simulate_dataset(tmp_path / "data", subjects=1, n_per_class=1)
    line = _main_error(capsys, ["train", "--data", data, "--out", tmp_path / "model", "--markers", "eegviz-presenter"])
    assert "--markers pick streams inside XDF recordings" in line and not (tmp_path / "model").exists()


def test_train_refuses_a_bad_average_augment_before_creating_anything(tmp_path, capsys):
    line = _main_error(capsys, ["train", "--data", tmp_path / "data", "--out", tmp_path / "model",
                                "--average-augment", 2])
    assert "--average-augment must be in [0, 1]" in line
    assert not (tmp_path / "model").exists()


BAD_CONFIGS = [
    ("decoder.json", lambda c: [c], "must be a JSON object, not a list"),
    ("decoder.json", lambda c: {k: v for k, v in c.items() if k != "input"}, "lacks 'input'"),
    ("decoder.json", lambda c: {**c, "classes": "circle"}, "'classes' must be a list of strings"),
    ("decoder.json", lambda c: {**c, "input": {**c["input"], "sfreq": "fast"}}, "'sfreq' must be a number"),
    ("decoder.json", lambda c: {**c, "input": {**c["input"], "baseline": [0.0]}}, "'baseline' must be"),
    ("decoder.json", lambda c: {**c, "hparams": {**c["hparams"], "depth": 3}}, "unknown key(s) 'depth'"),
    ("decoder.json", lambda c: {**c, "hparams": {**c["hparams"], "feat_dim": 12.5}}, "'feat_dim' must be an integer"),
    ("decoder.json", lambda c: {**c, "hparams": {**c["hparams"], "feat_dim": -3}}, "cannot be built"),
    ("sampling.json", lambda c: "embedded", "must be a JSON object, not a string"),
    ("sampling.json", lambda c: {**c, "strength": "high"}, "'strength' must be a number, not a string"),
    ("sampling.json", lambda c: {**c, "image_size": [64]}, "'image_size' must be an integer, not a list"),
    ("sampling.json", lambda c: {**c, "steps": None}, "'steps' must be an integer, not null"),
]


def _corrupt_model(tmp_path, name, change):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model, ignore=shutil.ignore_patterns("report"))
    cfg = json.loads((model / name).read_text())
    (model / name).write_text(json.dumps(change(cfg)))
    return model


@pytest.mark.parametrize("name, change, needle", BAD_CONFIGS)
def test_demo_with_wrong_shaped_model_json(tmp_path, capsys, name, change, needle):
    model = _corrupt_model(tmp_path, name, change)
    line = _main_error(capsys, ["demo", "--headless", "--model", model, "--out", tmp_path / "out", "--speed", 0])
    assert str(model / name) in line and needle in line


@pytest.mark.parametrize("name, change, needle", [BAD_CONFIGS[1], BAD_CONFIGS[6], BAD_CONFIGS[10]])
def test_eval_with_wrong_shaped_model_json(tmp_path, capsys, name, change, needle):
    from eegviz.data.synthetic import simulate_dataset

    data = simulate_dataset(tmp_path / "data", subjects=1, n_per_class=1)
    model = _corrupt_model(tmp_path, name, change)
    line = _main_error(capsys, ["eval", "--data", data, "--model", model, "--out", tmp_path / "ev", "--no-controls"])
    assert str(model / name) in line and needle in line


def test_an_lsl_config_that_is_not_there_is_refused_not_silently_replaced(tmp_path):
    """liblsl falls back to other files or its site-wide defaults when LSLAPICFG names nothing: refuse."""
    import os

    r = subprocess.run([sys.executable, "-m", "eegviz.cli", "plugins"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "LSLAPICFG": str(tmp_path / "missing.cfg")})
    assert r.returncode == 2 and r.stderr.startswith("eegviz: error: LSLAPICFG=") and "Traceback" not in r.stderr


@pytest.mark.parametrize("before", [
    ["--plugins", "plugins"],  # a --plugins folder named like the `plugins` command
    ["--plugins=plugins", "-v"],
    ["--log-level", "info", "--plugins", "plugins"],
])
def test_config_table_of_the_command_that_runs_not_of_an_option_value(tmp_path, monkeypatch, before):
    """The command is found as argparse finds it, past the global options and their values: the value of
    `--plugins plugins` is not the `plugins` command, so the config's [demo] table still applies to demo."""
    from eegviz.cli import parse_args

    monkeypatch.chdir(tmp_path)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "sect.toml").write_text('[demo]\nmodel = "from-the-demo-table"\n')
    args = parse_args([*before, "--config", "sect.toml", "demo", "--headless"])
    assert (args.cmd, args.model, args.headless) == ("demo", "from-the-demo-table", True)


def _demo_with_nan_eeg(path, seconds=6.0):
    """The demo recording's first seconds, its EEG all NaN (an amplifier that sent nothing usable)."""
    import numpy as np

    from eegviz.record.xdf_writer import XdfWriter
    from eegviz.sources.xdf import load_xdf_session

    s = load_xdf_session(demo_recording())
    keep = s.timestamps < s.timestamps[0] + seconds
    markers = [m for m in s.markers if m.timestamp < s.timestamps[keep][-1] - 1.0]
    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", s.info.n_channels, s.info.sfreq, "float32", ch_names=s.info.ch_names,
                           unit="volts")
        mk = w.add_stream("stim", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.full((int(keep.sum()), s.info.n_channels), np.nan, np.float32), s.timestamps[keep])
        for m in markers:
            w.write_samples(mk, [m.payload], np.array([m.timestamp]))
    return len(markers)


def test_a_replay_that_makes_no_image_from_any_marker_exits_nonzero(tmp_path, capsys):
    """Every epoch NaN: the run records and says each marker's reason, but a script looping over files must not
    take it for a good run (it exited 0, the count only in the summary line)."""
    from eegviz.cli import main

    n = _demo_with_nan_eeg(tmp_path / "nan.xdf")
    assert n >= 2
    out = tmp_path / "out"
    # --no-capture: the generator's graph capture (4-8 s of tracing at warm-up) is not this test's subject, and no
    # image is generated after the warm-up here
    assert main(["replay", str(tmp_path / "nan.xdf"), "--headless", "--speed", "0", "--out", str(out),
                 "--no-capture"]) == 1
    said = capsys.readouterr()
    assert f"{n} markers, 0 reconstructions" in said.out
    assert said.err.strip().splitlines()[-1] == (f"eegviz: error: none of the {n} markers got a reconstruction "
                                                 f"(skipped: {n} with NaN samples; each marker's reason is in its line)")
    assert len((out / "results.jsonl").read_text().splitlines()) == n  # recorded and said all the same


def test_a_replay_of_a_recording_without_markers_exits_nonzero(tmp_path, capsys, caplog):
    """A recording with no marker stream: the replay warned at its start, played the whole file (at --speed 1, as
    long as it was recorded) and exited 0 with "0 markers", so a script over many files passed it as done. It now
    ends with a line saying there was nothing to decode, exit 1, as a replay that made no image from its markers."""
    import numpy as np

    from eegviz.cli import main
    from eegviz.record.xdf_writer import XdfWriter
    from eegviz.sources.xdf import load_xdf_session

    s = load_xdf_session(demo_recording())
    keep = s.timestamps < s.timestamps[0] + 3.0
    with XdfWriter(tmp_path / "eeg-only.xdf") as w:
        eeg = w.add_stream("amp", "EEG", s.info.n_channels, s.info.sfreq, "float32", ch_names=s.info.ch_names,
                           unit="volts")
        w.write_samples(eeg, s.data[keep].astype(np.float32), s.timestamps[keep])
    assert main(["replay", str(tmp_path / "eeg-only.xdf"), "--headless", "--speed", "0", "--no-capture"]) == 1
    said = capsys.readouterr()
    assert "0 markers, 0 reconstructions" in said.out
    assert said.err.strip().splitlines()[-1] == ("eegviz: error: the recording held no markers, so nothing was "
                                                 "decoded (an image is made from the EEG after each stimulus marker)")
    assert "no string marker stream: nothing will be decoded" in caplog.text  # said at the start as before


@pytest.mark.parametrize("args, flag", [
    (["eval", "--data", "DATA", "--model", "", "--out", "OUT"], "--model"),
    (["eval", "--data", "DATA", "--model", "MODEL", "--out", " "], "--out"),
    (["eval", "--data", "", "--model", "MODEL", "--out", "OUT"], "--data"),
    (["train", "--data", "DATA", "--out", ""], "--out"),
    (["train", "--data", "", "--out", "OUT"], "--data"),
    # dropped as not given: "pass the stimulus folder too (--images-dir ...)" for a folder of XDF recordings
    (["train", "--data", "DATA", "--out", "OUT", "--images-dir", ""], "--images-dir"),
    (["eval", "--data", "DATA", "--model", "MODEL", "--out", "OUT", "--images-dir", " "], "--images-dir"),
    (["eval", "--data", "DATA", "--model", "MODEL", "--out", "OUT", "--splits", ""], "--splits"),
    # record wrote session.xdf into the working directory; sweep its datasets (--images 0: were "" let through,
    # the sweep stops at that check instead of running)
    (["record", "--out", "", "--wait", "0"], "--out"),
    (["record", "--out", " ", "--wait", "0"], "--out"),
    (["sweep", "--snr-db=-10", "--images", "0", "--out", ""], "--out")])
def test_an_empty_path_is_refused_not_taken_for_the_working_directory_or_the_default_model(
        tmp_path, monkeypatch, capsys, args, flag):
    """`--model "$MODEL"` with MODEL unset: eval scored the shipped default model without a word, and an empty
    --out or --data was the working directory (train and eval wrote their folders into it)."""
    monkeypatch.chdir(tmp_path)
    args = [str(tmp_path / a) if a in ("DATA", "MODEL", "OUT") else a for a in args]
    line = _main_error(capsys, args)
    assert f"{flag} is empty" in line
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("command, flag", [
    ("demo", "--model"), ("demo", "--generator"), ("demo", "--images-dir"), ("demo", "--screenshot"),
    ("replay", "--sd-model"), ("replay", "--stream"), ("replay", "--markers"), ("replay", "--source"),
    ("live", "--stream"), ("live", "--markers"), ("config", "--model")])
def test_an_empty_session_option_is_refused_not_read_as_not_given(tmp_path, monkeypatch, capsys, command, flag):
    """`--model "$MODEL"` with MODEL unset ran the shipped default model, `--generator ""` the embedded one,
    `--stream ""` the first EEG stream on the machine, `--images-dir ""` the working directory: each without a
    word (found by review). A config file's `model = ""` is the same mistake. (--speed/--duration nan: were the
    empty value let through, the run stops at that check instead of running a whole session.)"""
    monkeypatch.chdir(tmp_path)
    if command == "config":
        (tmp_path / "s.toml").write_text('model = ""\n')
        argv = ["demo", "--headless", "--speed", "nan", "--config", str(tmp_path / "s.toml")]
    else:
        argv = {"demo": ["demo", "--speed", "nan"], "replay": ["replay", str(tmp_path / "none.xdf"), "--speed", "nan"],
                "live": ["live", "--simulate", "--duration", "nan"]}[command]
        argv = [*argv, "--headless", flag, ""]
    line = _main_error(capsys, argv)
    assert f"{flag} is empty" in line
    assert not any(tmp_path.iterdir()) or command == "config"


def test_replay_help_says_what_speed_means():
    """`eegviz replay --help` listed --speed with no word on its unit or on 0 (as fast as possible), which demo's
    help gave."""
    from eegviz.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    speed = next(a for a in sub.choices["replay"]._actions if "--speed" in a.option_strings)
    assert speed.help and "0 = as fast as possible" in speed.help and "real time" in speed.help


def test_replay_help_names_the_files_it_reads():
    """`eegviz replay --help` showed a bare positional "file" and no description (the subcommand's help is shown by
    `eegviz --help` only), so it named no format it reads; --stream and --markers said "in the file", of any."""
    from eegviz.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    replay = sub.choices["replay"]
    text = replay.format_help()
    assert "FIF, EDF/BDF, BrainVision, EEGLAB" in replay.description and "annotations" in replay.description
    file = next(a for a in replay._actions if a.dest == "file")
    assert file.help and all(s in file.help for s in (".xdf", ".fif", ".edf", ".bdf", ".vhdr", ".set", "--source"))
    assert "EEG stream name in an XDF file" in text and "marker stream name in an XDF file" in text


def test_session_help_says_model_takes_a_hub_id_and_where_out_writes():
    """The README gives demo, replay and live `--model DIR|HF_REPO_ID`, and a session resolves a Hub id as eval
    does, but their --help said "model folder" only; --out's help named three of the five things a session writes
    and not that a folder holding files gets a fresh session-NNN inside it."""
    from eegviz.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("demo", "replay", "live"):
        helps = {a.option_strings[0]: a.help for a in sub.choices[name]._actions if a.option_strings}
        assert "Hugging Face id" in helps["--model"], name
        assert all(f in helps["--out"] for f in ("session.json", "report.html", "session-NNN")), name


def test_every_commands_help_gives_each_options_default():
    """The README's CLI table sends readers to `eegviz CMD --help` for "every option of CMD, with its default", but
    train's --epochs, --gan-steps, --seed and --classifier-epochs were listed bare, and bench's --n, simulate's
    --subjects and --images, sweep's --gan-steps with no default: what a run without them does was not said."""
    from eegviz.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, command in sub.choices.items():
        formatter = command._get_formatter()
        for action in command._actions:
            default = action.default
            if (not action.option_strings or action.required or default in (None, False, "")
                    or default is argparse.SUPPRESS):
                continue
            shown = "on" if default is True else f"{default:g}" if isinstance(default, float) else str(default)
            text = formatter._expand_help(action) if action.help else ""
            if "default" not in text and f"({shown})" not in text:
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing
    train = sub.choices["train"].format_help()
    assert "(default: 30)" in train and "(default: 3000)" in train


def test_a_second_simulate_stream_under_a_taken_name_is_refused(capsys):
    """A second `simulate --stream` published beside the first under the same names without a word, and no
    reader can tell two streams of one name apart. Refused in one line naming the stream already there."""
    import uuid

    from eegviz.cli import main
    from eegviz.messages import StreamInfo
    from eegviz.sources.lsl_outlet import LslOutlets

    name = f"mk-{uuid.uuid4().hex[:8]}"
    first = LslOutlets(StreamInfo(f"first-{name}", ["Fz"], 100.0), marker_name=name)
    try:
        code = main(["simulate", "--stream", "--markers", name, "--duration", "1"])
    finally:
        first.close()
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "already on LSL under the name" in err and f"'{name}'" in err, err


def test_simulate_stream_publishes_the_eeg_under_the_name_given(capsys, monkeypatch):
    """The simulated EEG was always 'eegviz-sim', so two simulators (two test setups on one machine) could not
    stream side by side; --name names it, and a name already taken is refused saying --name."""
    import uuid

    from eegviz.cli import _SIM_STREAM, main
    from eegviz.messages import StreamInfo
    from eegviz.sources.lsl_outlet import LslOutlets
    from eegviz.sources.simulator import SIM_STREAM

    assert _SIM_STREAM == SIM_STREAM  # the CLI's default (kept apart: no numpy at start-up) is the source's
    tag = uuid.uuid4().hex[:8]
    # the first run's fresh uuid names cannot be taken: its check asks LSL for 0.05 s, not the 1 s it gives a rival
    # sender to answer; the refused run below keeps the full wait
    from eegviz.sources import lsl_outlet

    real = lsl_outlet.streams_named
    monkeypatch.setattr(lsl_outlet, "streams_named",
                        lambda names, wait_s=1.0: real(names, 0.05 if f"amp-{tag}" in names else wait_s))
    assert main(["simulate", "--stream", "--name", f"amp-{tag}", "--markers", f"mk-{tag}", "--duration", "0.2"]) == 0
    assert f"streaming 'amp-{tag}' (" in capsys.readouterr().out
    taken = LslOutlets(StreamInfo(f"amp2-{tag}", ["Fz"], 100.0), marker_name=f"other-{tag}")
    try:
        code = main(["simulate", "--stream", "--name", f"amp2-{tag}", "--markers", f"mk2-{tag}", "--duration", "1"])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 2 and f"'amp2-{tag}'" in err and "or give --name another name" in err, err


def test_simulate_stream_stops_on_sigterm_and_says_what_it_sent():
    """`kill PID` is how a script stops the simulator it started with `&` (a background job ignores Ctrl-C): it
    ended the process on the spot, status 143, outlets never closed. It stops as Ctrl-C does now, exit 0, and
    says what was published. The first line is flushed, so a script reading a pipe knows the outlets are up."""
    import select
    import signal
    import time
    import uuid

    name = f"mk-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-m", "eegviz.cli", "simulate", "--stream", "--markers", name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = select.select([proc.stdout], [], [], 60)[0]
        first = proc.stdout.readline() if ready else ""
        if not first and proc.poll() is not None and "already on LSL" in proc.stderr.read():
            pytest.skip("another simulator publishes 'eegviz-sim' on this machine")
        assert "streaming 'eegviz-sim'" in first and name in first, first
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "eegviz: stopped; published" in out and "published 0 samples" not in out, out


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe's closed reader is seen with poll()")
def test_stdout_piped_into_a_reader_that_has_gone_ends_quietly():
    """`eegviz plugins | head -1`: the reader closes the pipe, as head does after its line. That printed
    "eegviz: error: Broken pipe", exit 2 (after a headless demo too, whose results were all written), though no
    command failed. It ends quietly now, with the status of a tool ended by SIGPIPE, and no "Exception ignored"
    from Python's flush of stdout at exit."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        proc = subprocess.run([sys.executable, "-m", "eegviz.cli", "plugins"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == "", proc.stderr


def test_a_broken_pipe_that_is_not_stdout_is_still_an_error(monkeypatch, capsys):
    """Only stdout's reader going away is quiet: a broken connection elsewhere (a --sink) is said in one line."""
    from eegviz import cli

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_sys_info", broken)
    assert cli.main(["sys-info"]) == 2
    assert "eegviz: error: Broken pipe" in capsys.readouterr().err


def test_a_name_the_locale_could_not_decode_is_one_line(capsys, monkeypatch):
    """`eegviz simulate --stream --markers mk-ü` under an ASCII locale (LC_ALL=C, PYTHONUTF8=0): Python holds the
    argument's bytes as lone surrogates, and pylsl's UTF-8 encoding of the LSL name ended in a traceback. One line
    now, naming the argument and the fix (a UTF-8 locale)."""
    from eegviz.cli import main
    from eegviz.sources import lsl_outlet

    # no sender can publish a name that cannot be encoded: the taken-name check asks LSL for 0.05 s, not its 1 s
    real = lsl_outlet.streams_named
    monkeypatch.setattr(lsl_outlet, "streams_named", lambda names, wait_s=1.0: real(names, 0.05))
    assert main(["simulate", "--stream", "--markers", "mk-\udcc3\udcbc", "--duration", "1"]) == 2
    out, err = capsys.readouterr()
    assert "eegviz: error: 'mk-\u00fc' holds bytes this system's locale" in err and "PYTHONUTF8=1" in err, err
    assert "Traceback" not in err
    assert out == "", out  # pylsl's "StreamInfo deletion triggered error" of a half-built StreamInfo


def test_other_encoding_errors_keep_their_traceback(monkeypatch):
    """Only undecoded argv or file-name bytes are the locale's doing; any other encoding error is a defect."""
    from eegviz import cli

    def fails(args):
        "caf\u00e9".encode("ascii")

    monkeypatch.setattr(cli, "cmd_sys_info", fails)
    with pytest.raises(UnicodeEncodeError):
        cli.main(["sys-info"])


def test_a_closed_stdout_or_stderr_is_not_reused_for_the_sessions_files(tmp_path):
    """Run with stdout and stderr closed (`>&- 2>&-`), the next files opened took descriptors 1 and 2: a session's
    session.xdf became "stderr", where liblsl's and Qt's warnings would be written into the recording. They are
    pointed at /dev/null first now, so a file opened by the command gets a number above 2."""
    import os

    probe = tmp_path / "probe"
    code = ("import os, sys\nfrom eegviz import cli\n"
            "def opened(args):\n"
            f"    fd = os.open({str(probe)!r}, os.O_WRONLY | os.O_CREAT)\n"
            f"    os.write(fd, str(fd).encode())\n"
            "    return 0\n"
            "cli.cmd_sys_info = opened\nsys.exit(cli.main(['sys-info']))\n")

    def close_out_and_err():
        os.close(1)
        os.close(2)

    proc = subprocess.run([sys.executable, "-c", code], preexec_fn=close_out_and_err, timeout=120)
    assert proc.returncode == 0
    assert int(probe.read_text()) > 2


def test_no_command_says_where_to_start(capsys):
    """`eegviz` alone ended in argparse's "the following arguments are required: cmd", naming an internal name.
    It names a command to start with and where the others are listed, in one line after the usage."""
    from eegviz.cli import main

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: eegviz") and "required: cmd" not in err
    assert err.splitlines()[-1].startswith("eegviz: error: name a command: `eegviz demo`") and "--help" in err, err


def test_a_sessions_compile_without_a_cpp_compiler_is_refused_before_anything_loads(tmp_path, capsys, monkeypatch):
    """`eegviz demo --compile` on a machine without a C++ compiler loaded the recording and the model, then ended
    in torch's InductorError traceback at the first image (22 s in); bench refused the same up front. A session
    says it in one line before its source is built now (the source stands in for everything a session loads)."""
    import torch
    from torch._inductor import cpp_builder
    from torch._inductor.exc import InvalidCxxCompiler

    from eegviz.app import source_choice
    from eegviz.cli import main

    def no_compiler():
        raise InvalidCxxCompiler()

    def loads(*args, **kwargs):
        raise AssertionError("the session's source was built before --compile was checked")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # inductor writes C++ kernels on the CPU only
    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    monkeypatch.setattr(source_choice, "initial_source", loads)
    assert main(["demo", "--headless", "--compile", "--speed", "0", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "eegviz: error: --compile on the CPU needs a C++ compiler" in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_options_are_read_only_as_written_in_full(tmp_path, capsys):
    """argparse took any unique start of an option for it: `--co FILE` was read as --config (before the command's
    own parse, so demo's --compile did not even make it ambiguous), and a script's `--sin` meant --sink only until
    an option beginning the same was added. Every parser reads options in full now; the error names the options
    the word begins."""
    from eegviz.cli import parse_args

    cfg = tmp_path / "lab.toml"
    cfg.write_text("[demo]\nspeed = 3\n")
    assert parse_args(["demo", "--config", str(cfg)]).speed == 3.0
    assert parse_args(["demo", f"--config={cfg}"]).speed == 3.0
    for argv, tail in [
            (["demo", "--co", str(cfg)], f"--co {cfg} (options are not abbreviated: for --co write one of "
                                         "--compile, --config)"),
            # before the command: argparse took the file for the command ("invalid choice: '.../lab.toml'"), with
            # no word of the option meant
            (["--conf", str(cfg), "demo"], "--conf (options are not abbreviated: for --conf write --config)"),
            (["-v", "--log-lev", "info", "demo"], "--log-lev (options are not abbreviated: for --log-lev write "
                                                  "--log-level)"),
            (["demo", "--sin", "osc:127.0.0.1:9"], "--sin osc:127.0.0.1:9 (options are not abbreviated: for --sin "
                                                   "write --sink)"),
            (["demo", "--spee=3"], "--spee=3 (options are not abbreviated: for --spee write --speed)"),
            (["demo", "--nothing-like-it"], "--nothing-like-it")]:
        with pytest.raises(SystemExit) as exc:
            parse_args(argv)
        assert exc.value.code == 2
        last = capsys.readouterr().err.splitlines()[-1]
        assert last.startswith("eegviz: error: ") and "Traceback" not in last
        if tail is not None:
            assert last == f"eegviz: error: unrecognized arguments: {tail}", last


def test_the_module_scripts_read_options_only_in_full(capsys):
    """`python -m eegviz.record.run_report --he` printed the help (argparse read --help), as the stage scripts'
    `--mod M` ran as --model M: their parsers read options in full too."""
    from eegviz.record import run_report

    with pytest.raises(SystemExit) as exc:
        run_report.main(["--he", "session-001"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --he" in capsys.readouterr().err


def test_kiosk_help_says_what_its_operator_needs_and_the_readme_section_it_names_is_there(capsys):
    """`eegviz live --kiosk --help` said "full-screen demo mode": the screen blanking eegviz does not stop, the wait
    for an amplifier switched on later and the session folders never deleted were in the README only, scattered
    through a paragraph on the window. The help says them in short and names the README's list, which says each."""
    from pathlib import Path

    from eegviz.cli import build_parser

    for cmd in ("demo", "replay", "live"):
        kiosk = next(a for a in build_parser().eegviz_commands[cmd]._actions if "--kiosk" in a.option_strings)
        for said in ("unattended exhibition", "waits for a source that is not there yet", "SIGTERM or Ctrl-C",
                     "xset s off -dpms", "none is ever deleted: rotate them by age", "README: Running a kiosk"):
            assert said in kiosk.help, (cmd, said)
    readme = Path(__file__).resolve().parent.parent / "README.md"
    section = readme.read_text().split("**Running a kiosk**", 1)[1].split("![kiosk mode", 1)[0]
    for said in ("**Screen.**", "xset s off -dpms", "**Start and stop.**", "waits for it", "SIGTERM",
                 "**Disk.**", "-mmin +1440", "**Full disk.**"):
        assert said in section, said
