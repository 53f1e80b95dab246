"""Nothing recorded is ever overwritten: --out reuse, refused runs, bad --out paths."""

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from eegviz.errors import EegvizError
from eegviz.paths import demo_recording
from eegviz.record.session_folder import SessionOutput, check_out_dir, new_session_folder
from eegviz.record.xdf_writer import XdfWriter


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fresh_or_empty_folder_is_used_then_numbered(tmp_path):
    first = new_session_folder(tmp_path / "run")
    assert first == tmp_path / "run"
    (first / "results.jsonl").write_text("x")
    assert new_session_folder(tmp_path / "run") == tmp_path / "run" / "session-002"
    assert new_session_folder(tmp_path / "run") == tmp_path / "run" / "session-003"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert new_session_folder(empty) == empty


def test_a_new_folder_is_numbered_after_the_highest_not_in_a_gap(tmp_path):
    """A kiosk records a folder per loop, and an exhibition rotating them deletes the oldest: the next session took
    the lowest free number (session-002 again), among the oldest, so the newest went at the next rotation by name.
    An archive left in place of a folder (session-004.tar.gz) keeps its number taken too."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text("x")
    for n in (3, 5, 6):
        (out / f"session-{n:03d}").mkdir()
    (out / "session-007.tar.gz").write_text("x")
    (out / "session-2026-12-07").mkdir()  # an operator's own folder is no session number
    assert new_session_folder(out) == out / "session-008"
    assert new_session_folder(out) == out / "session-009"
    # a kiosk's day (a folder every 35 s) passes session-999: numbers, not names, are compared, so session-1000
    # (which sorts before session-101 as text) is after it, and the next after that
    (out / "session-999").mkdir()
    assert new_session_folder(out) == out / "session-1000"
    (out / "session-101.tar.gz").write_text("x")
    assert new_session_folder(out) == out / "session-1001"


def test_check_creates_nothing_and_names_the_problem(tmp_path):
    check_out_dir(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []  # the write probe is gone too
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    with pytest.raises(EegvizError, match="regular file"):
        check_out_dir(f)
    with pytest.raises(EegvizError, match=r"under .*file.txt, which is a regular file"):
        check_out_dir(f / "sub")
    assert f.read_text() == "keep me"


def test_unwritable_place_is_refused_before_anything_runs(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        places = [Path("/sys/eegviz-test-out")]  # refused even to root (sysfs)
        if os.geteuid() != 0:
            places.append(ro / "out")
        for place in places:
            with pytest.raises(EegvizError, match="cannot write in"):
                SessionOutput(place)
    finally:
        ro.chmod(0o755)


def test_writers_never_truncate_an_existing_file(tmp_path):
    path = tmp_path / "session.xdf"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        XdfWriter(path)
    assert path.read_bytes() == b"precious"


def test_second_run_into_the_same_out_keeps_the_first_untouched(tmp_path, capsys):
    from eegviz.cli import main

    out = tmp_path / "demo"
    # in-process: what is checked is the folder --out names, not the process (tests/test_cli.py starts
    # `python -m eegviz.cli`); two subprocesses cost ~5 s of imports each.
    # --no-capture: graph capture costs each run 4-8 s of tracing and is not what this test is about
    # (tests/test_cli.py runs the demo as shipped; tests/generators/test_lean_img2img.py checks capture itself)
    argv = ["demo", "--headless", "--out", str(out), "--speed", "0", "--no-capture"]
    assert main(argv) == 0, capsys.readouterr().err
    # the demo's record names the recording it replayed (it gave no file, so the record named none)
    assert json.loads((out / "session.json").read_text())["source"]["file"] == str(demo_recording())
    before = _digest(out)
    capsys.readouterr()
    assert main(argv) == 0
    assert f"results in {out / 'session-002'}" in capsys.readouterr().out
    after = {k: v for k, v in _digest(out).items() if not k.startswith("session-002")}
    assert after == before  # the first session byte for byte
    lines = (out / "session-002" / "results.jsonl").read_text().splitlines()
    assert len(lines) == len((out / "results.jsonl").read_text().splitlines()) == 40
    assert all(json.loads(l)["marker"] for l in lines)


def _three_channel_recording(path: Path) -> Path:
    import numpy as np

    with XdfWriter(path) as w:
        eeg = w.add_stream("amp", "EEG", 3, 250.0, "float32", ch_names=["Fz", "Cz", "Pz"], unit="microvolts")
        mk = w.add_stream("mk", "Markers", 1, 0.0, "string")
        t = 10 + np.arange(500) / 250.0
        w.write_samples(eeg, np.zeros((500, 3), np.float32), t)
        w.write_samples(mk, ["circle_0001"], np.array([11.0]))
    return path


@pytest.mark.parametrize("bad", ["model", "channels", "under-file", "sysfs"])
def test_refused_runs_leave_nothing_behind(tmp_path, bad, capsys, caplog, recwarn):
    out = tmp_path / "out"
    args = ["replay", str(demo_recording()), "--headless", "--speed", "0", "--out", str(out), "--no-capture"]
    if bad == "channels":  # refused after the source opened: the model's channels are not in the file
        args[1] = str(_three_channel_recording(tmp_path / "three.xdf"))
    elif bad == "model":
        args += ["--model", str(tmp_path / "no-model")]
    elif bad == "under-file":
        (tmp_path / "f").write_text("x")
        args[args.index(str(out))] = str(tmp_path / "f" / "out")
    else:
        args[args.index(str(out))] = "/sys/eegviz-test-out"
    # in-process (each subprocess paid ~5 s of imports): what a subprocess's stderr would also have shown, a
    # logged warning or a Python warning, is read from caplog and recwarn; a traceback would be an exception here
    from eegviz.cli import main

    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert bad != "channels" or "lacks" in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("eegviz: error:"), err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    shown = [w for w in recwarn if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning,
                                                                   ImportWarning, ResourceWarning))]
    assert not shown, [str(w.message) for w in shown]
    assert not out.exists()


def test_a_home_of_no_user_is_one_line(capsys):
    """`eegviz record --out ~nosuchuser/s01` (a typo the shell leaves as it is) ended in pathlib's traceback
    "RuntimeError: Could not determine home directory."; it is one line naming --out now."""
    from eegviz.cli import main

    assert main(["record", "--out", "~no-such-user-eegviz/s01"]) != 0
    err = capsys.readouterr().err
    assert err.strip() == ("eegviz: error: --out ~no-such-user-eegviz/s01: ~no-such-user-eegviz is no user's home "
                           "folder on this machine; choose another --out")


@pytest.mark.parametrize("fails", ["session.xdf", "results"])
def test_a_claim_that_fails_on_a_full_disk_takes_back_what_it_made(tmp_path, monkeypatch, fails):
    """A full disk at session.xdf's header left DIR/session-002 with a 0-byte session.xdf (and a kiosk retrying
    its session one more such folder every retry): the claim takes back its files and the folders it made, and
    leaves every folder that was there before as it was."""
    import errno

    from eegviz.messages import StreamInfo
    from eegviz.record import results, xdf_writer

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fails == "session.xdf":
        monkeypatch.setattr(xdf_writer.XdfWriter, "add_stream", full_disk)  # after the file header was written
    else:
        def no_room_for_results(self, out_dir, *args, **kwargs):
            (Path(out_dir) / "saliency").mkdir()
            full_disk()

        monkeypatch.setattr(results.ResultsWriter, "__init__", no_room_for_results)
    info = StreamInfo("amp", ("Fz", "Cz"), 250.0)
    used = tmp_path / "used"
    used.mkdir()
    (used / "results.jsonl").write_text("an earlier session")
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "new" / "deeper", used, empty):
        claim = SessionOutput(out)
        with pytest.raises(EegvizError, match="No space left on device"):
            claim.open(info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "used"]
    assert list(empty.iterdir()) == []
    assert [p.name for p in used.iterdir()] == ["results.jsonl"]
    assert (used / "results.jsonl").read_text() == "an earlier session"


def test_each_session_folder_gets_its_own_record_and_an_earlier_one_is_kept(tmp_path):
    """session.json: what produced the folder, one per session; a second session into the same --out gets its own
    in session-002, and the first record is left as it was."""
    from eegviz.messages import StreamInfo
    from eegviz.settings import SessionSettings, SourceSettings

    info = StreamInfo("amp-hS", ("Fz", "Cz"), 250.0, source_id="sn-42")
    settings = SessionSettings(source=SourceSettings("live", stream="amp-hS")).with_output_folder(tmp_path / "o")
    records = []
    for _ in range(2):
        claim = SessionOutput(tmp_path / "o", settings)
        recorder, results = claim.open(info)
        results.close()
        recorder.close()
        records.append(json.loads((claim.folder / "session.json").read_text()))
    first = (tmp_path / "o" / "session.json").read_bytes()
    assert (tmp_path / "o" / "session-002" / "session.json").exists()
    assert (tmp_path / "o" / "session.json").read_bytes() == first
    for rec in records:
        assert rec["source"]["stream"] == "amp-hS" and rec["source"]["opened"]["source_id"] == "sn-42"
        assert rec["source"]["opened"]["channels"] == ["Fz", "Cz"] and "started_utc" in rec
        assert "environ" not in json.dumps(rec) and set(rec) == {
            "eegviz", "commit", "started_utc", "command_line", "working_directory", "source", "model", "settings",
            "bads"}
        assert rec["working_directory"] == os.getcwd()  # a relative FILE or --model on the command line


def test_a_record_that_cannot_be_written_takes_the_claim_back(tmp_path, monkeypatch):
    """A full disk at session.json is one line, and the folder it would have made is gone, as for session.xdf."""
    from eegviz.messages import StreamInfo

    def full(self, info):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SessionOutput, "record", full)
    with pytest.raises(EegvizError, match="session.json.*No space"):
        SessionOutput(tmp_path / "o").open(StreamInfo("amp", ("Fz",), 250.0))
    assert not (tmp_path / "o").exists()


def test_a_live_lsl_session_records_the_hosts_its_streams_came_from(tmp_path):
    """Two amplifiers of one model send the same stream name; the record names the machine each stream came
    from, read from the headers their senders declared (no LSL traffic here: the headers are given)."""
    from eegviz.sources.lsl import LslStreamInfo

    head = "<?xml version='1.0'?><info><name>{}</name><source_id>{}</source_id><hostname>{}</hostname></info>"
    info = LslStreamInfo("amp-hS", ("Fz",), 250.0, source_id="sn-1", eeg_header=head.format("amp-hS", "sn-1", "rig-a"),
                         marker_header=head.format("mk-hS", "pres-1", "stim-pc"))
    claim = SessionOutput(tmp_path / "o")
    recorder, results = claim.open(info)
    results.close()
    recorder.close()
    rec = json.loads((claim.folder / "session.json").read_text())
    assert rec["source"]["opened"]["hostname"] == "rig-a"
    assert rec["source"]["opened_markers"] == {"name": "mk-hS", "source_id": "pres-1", "hostname": "stim-pc"}


def test_the_model_digest_is_taken_before_the_claim_and_once_per_folder(tmp_path, monkeypatch):
    """The digest reads every weight file (gigabytes for a diffusers folder): taken by set_model, before the
    source opens, and kept for the window's next Start; open() runs once the source is running and must not."""
    import eegviz.modelio as modelio
    import eegviz.sysinfo as sysinfo
    from eegviz.messages import StreamInfo
    from eegviz.paths import default_model_dir

    calls = []
    digest = modelio.model_digest
    monkeypatch.setattr(modelio, "model_digest", lambda folder: calls.append(folder) or digest(folder))
    claims = [SessionOutput(tmp_path / "o") for _ in range(2)]
    for claim in claims:
        claim.set_model(default_model_dir())
    assert len(calls) <= 1  # the second folder's identity is the first's
    monkeypatch.setattr(modelio, "model_digest", lambda folder: pytest.fail("hashed at the claim"))
    monkeypatch.setattr(sysinfo, "git_commit", lambda: pytest.fail("git asked at the claim"))
    recorder, results = claims[0].open(StreamInfo("amp", ("Fz",), 250.0))
    results.close()
    recorder.close()
    rec = json.loads((claims[0].folder / "session.json").read_text())
    assert rec["model"]["digest"] == digest(default_model_dir())
    assert rec["model"]["sampling_json"] == json.loads((default_model_dir() / "sampling.json").read_text())


def test_an_sd_model_pipeline_is_recorded_with_its_own_folder_and_digest(tmp_path, monkeypatch):
    """--sd-model was recorded as given only, beside the eegviz model folder's digest and sampling.json, which
    did not draw the images: weights replaced under the same path left no trace. Now model.sd_model names the
    pipeline's folder and the digest bench writes as sd_model_digest (of the weights, so it follows them); a Hub
    id that is not cached is recorded without either, and nothing is fetched."""
    from eegviz.generators.options import GeneratorOptions
    from eegviz.messages import StreamInfo
    from eegviz.modelio import model_digest
    from eegviz.paths import default_model_dir
    from eegviz.settings import GeneratorSettings, ModelSettings, SessionSettings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sd = tmp_path / "sd"
    (sd / "unet").mkdir(parents=True)
    (sd / "model_index.json").write_text('{"_class_name": "StableDiffusionImg2ImgPipeline"}')
    weights = sd / "unet" / "diffusion_pytorch_model.safetensors"

    def record(sd_model):
        options = GeneratorOptions(sd_model=sd_model)
        settings = SessionSettings(model=ModelSettings(generator=GeneratorSettings("diffusers", options)))
        claim = SessionOutput(tmp_path / "o", settings)
        claim.set_model(default_model_dir())
        recorder, results = claim.open(StreamInfo("amp", ("Fz",), 250.0))
        results.close()
        recorder.close()
        return json.loads((claim.folder / "session.json").read_text())["model"]

    digests = []
    for content in (b"weights one", b"weights two, replaced"):
        weights.write_bytes(content)
        rec = record(str(sd))
        assert rec["sd_model"] == {"folder": str(sd.resolve()), "digest": model_digest(sd)}
        assert rec["digest"] == model_digest(default_model_dir())  # the eegviz model's own stays beside it
        digests.append(rec["sd_model"]["digest"])
    assert digests[0] != digests[1]
    assert record("no-such-owner/no-such-sd-model")["sd_model"] == {"folder": None, "digest": None}


def test_a_password_or_token_in_a_sink_url_is_not_written_to_the_record(tmp_path):
    """A sink plugin's URL may carry credentials (from a --config file's $NAME): session.json is shared with the
    data, so they are written as ***; the rest of the spec stays."""
    from eegviz.messages import StreamInfo
    from eegviz.settings import OutputSettings, SessionSettings

    settings = SessionSettings(output=OutputSettings(sinks=("hook:https://lab:hunter2@example.org/x?token=abc123&n=1",
                                                            "osc:127.0.0.1:9000")))
    claim = SessionOutput(tmp_path / "o", settings)
    recorder, results = claim.open(StreamInfo("amp", ("Fz",), 250.0))
    results.close()
    recorder.close()
    text = (claim.folder / "session.json").read_text()
    assert "hunter2" not in text and "abc123" not in text
    assert json.loads(text)["settings"]["output"]["sinks"] == [
        "hook:https://lab:***@example.org/x?token=***&n=1", "osc:127.0.0.1:9000"]


def test_an_out_inside_the_package_or_the_model_folder_is_refused_in_one_line(tmp_path):
    """A session kept among eegviz's own files is deleted by the next upgrade (and sits among a checkout's
    sources); one kept in the model folder becomes part of the model's digest (session.json is a .json), so every
    later session and benchmark named another model. Both were taken without a word; nothing is created."""
    import eegviz

    package = Path(eegviz.__file__).resolve().parent
    with pytest.raises(EegvizError, match=r"^--out .* is inside eegviz's own package folder .*; choose another --out$"):
        check_out_dir(package / "hG-session")
    assert not (package / "hG-session").exists()

    model = tmp_path / "model"
    model.mkdir()
    (model / "decoder.json").write_text("{}")
    out = SessionOutput(model / "sessions")
    with pytest.raises(EegvizError, match=r"^--out .* is inside the model folder .*: a session recorded there changes"):
        out.set_model(model)
    assert sorted(p.name for p in model.iterdir()) == ["decoder.json"]
    SessionOutput(tmp_path / "elsewhere").set_model(model)  # beside it is fine


def test_a_window_is_refused_an_out_inside_its_model_folder_before_it_opens(tmp_path):
    """A kiosk found it only at its first session, when its model had loaded, and retried that for ever."""
    from eegviz.cli import _check_session, parse_args, session_settings

    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(EegvizError, match=r"is inside the model folder"):
        _check_session(session_settings(parse_args(["demo", "--kiosk", "--model", str(model),
                                                    "--out", str(model / "sessions")])))
    assert list(model.iterdir()) == []


def test_session_json_and_the_report_name_every_electrode_marked_bad_why_and_from_when(tmp_path, monkeypatch):
    """Electrodes found dead at the start or mid-session were said only in the log and the window's notices: a lab
    reading the session folder later could not tell which of the model's channels had been interpolated. Each
    marking is now in session.json's "bads" (written again at each) and in report.html."""
    import numpy as np

    from eegviz.messages import Chunk, Marker, StreamInfo
    from eegviz.stream.epocher import Epocher
    from eegviz.stream.preprocess import Preprocessor
    from ten_twenty import SOURCE, ten_twenty

    source = SOURCE
    spec, t, data = ten_twenty(600)
    data[:, source.index("C3")] = np.nan  # dead from the start
    data[300:, source.index("O1")] = np.nan  # off at 53 s
    claim = SessionOutput(tmp_path / "o")
    recorder, results = claim.open(StreamInfo("hH-amp", source, 100.0))
    started = json.loads((claim.folder / "session.json").read_text())["started_utc"]
    import eegviz.record.session_folder as session_folder  # written again, the record stays the claim's

    monkeypatch.setattr(session_folder, "run_provenance", lambda key: {key: "a later time"})
    claim.add_bads({"electrodes": {"Pz": "--bads"}, "from": "start", "replaced": ["Pz"]})  # as the pipeline does
    ep = Epocher(Preprocessor(spec, source, 100.0, bads=("Pz",)), source, check_electrodes=True,
                 on_bads=claim.add_bads)
    for m in (Marker(51.0, "a"), Marker(53.5, "b")):
        ep.add_marker(m)
    out = [r for s in range(0, len(t), 50) for r in ep.add_chunk(Chunk(data[s:s + 50], t[s:s + 50]))]
    assert [r.epoch is not None for r in out] == [True, True]
    rec = json.loads((claim.folder / "session.json").read_text())  # written again mid-session, before the end
    assert rec["started_utc"] == started
    assert rec["bads"] == [
        {"electrodes": {"Pz": "--bads"}, "from": "start", "replaced": ["Pz"]},
        {"electrodes": {"C3": "no finite sample, NaN/inf"}, "from": "start", "replaced": ["C3"]},
        {"electrodes": {"O1": "no finite sample, NaN/inf"}, "from": {"marker": "b", "t_marker": 53.5},
         "replaced": ["O1"]}]
    results.close()
    recorder.close()
    report = (claim.folder / "report.html").read_text()
    assert "<h2>Electrodes marked bad</h2>" in report
    assert ("<tr><td>O1</td><td>found dead: no finite sample, NaN/inf</td><td>marker b (at 53.500 s) on</td>"
            "<td>O1</td>") in report
    assert "<tr><td>Pz</td><td>named by --bads</td><td>the start</td><td>Pz</td>" in report
