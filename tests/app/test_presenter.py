"""The stimulus presenter: schedules, image discovery, and a real offscreen run with its markers read back over LSL.

LSLAPICFG (set by conftest) keeps discovery on loopback; every stream name carries a uuid so leftovers from
other tests are never matched. Runs use 50 ms on / 50 ms blank so the whole file takes a few seconds.
"""

from __future__ import annotations

import argparse
import csv
import json
import uuid
from itertools import groupby

import numpy as np
import pylsl
import pytest
from PySide6 import QtCore, QtGui

from eegviz.app.presenter import (
    ImageFile,
    PresentationPlan,
    Presenter,
    add_arguments,
    class_of,
    find_images,
    main_from_args,
    make_schedule,
    run_presenter,
    schedule_duration,
    write_stimulus_folder,
)
from eegviz.errors import EegvizError

IDS = [f"{c}_{k:03d}" for c in ("star", "ring", "boat") for k in range(4)]  # 3 classes x 4 images


# ----------------------------------------------------------------------------------------------- schedule
def test_rapid_counts_and_no_immediate_repeats():
    for seed in range(20):
        trials = make_schedule(IDS, repeats=5, seed=seed)
        ids = [t.image_id for t in trials]
        assert len(ids) == 60
        assert {i: ids.count(i) for i in IDS} == dict.fromkeys(IDS, 5)
        assert all(a != b for a, b in zip(ids, ids[1:]))
        assert [t.index for t in trials] == list(range(60))
    # each repeat is one full pass, so images stay balanced over time
    ids = [t.image_id for t in make_schedule(IDS, repeats=3, seed=1)]
    assert all(sorted(ids[i:i + 12]) == sorted(IDS) for i in (0, 12, 24))


def test_rapid_is_interleaved_and_no_shuffle_keeps_order():
    ids = [t.image_id for t in make_schedule(IDS, seed=3)]
    assert ids != IDS and sorted(ids) == sorted(IDS)
    assert [t.image_id for t in make_schedule(IDS, repeats=2, shuffle=False)] == IDS + IDS


def test_onsets_follow_on_and_blank():
    trials = make_schedule(IDS, on_s=0.2, blank_s=0.3)
    assert [t.onset_s for t in trials] == pytest.approx([0.5 * i for i in range(12)])
    assert all(t.duration_s == 0.2 and t.blank_s == 0.3 for t in trials)
    assert schedule_duration(trials) == pytest.approx(6.0)
    assert [t.class_name for t in trials] == [class_of(t.image_id) for t in trials]


def test_block_design_keeps_classes_contiguous():
    for seed in range(10):
        trials = make_schedule(IDS, design="block", seed=seed)
        runs = [k for k, _ in groupby(t.class_name for t in trials)]
        assert sorted(runs) == ["boat", "ring", "star"]  # one contiguous run per class
    orders = {tuple(k for k, _ in groupby(t.class_name for t in make_schedule(IDS, design="block", seed=s)))
              for s in range(10)}
    assert len(orders) > 1  # block order is randomised


def test_block_design_with_repeats_and_block_size():
    trials = make_schedule(IDS, design="block", repeats=3, block_size=2, seed=4)
    ids = [t.image_id for t in trials]
    assert len(ids) == 36 and all(a != b for a, b in zip(ids, ids[1:]))
    classes = [t.class_name for t in trials]
    blocks = [classes[i:i + 2] for i in range(0, 36, 2)]
    assert all(b[0] == b[1] for b in blocks)  # every block is one class
    assert all(a[0] != b[0] for a, b in zip(blocks, blocks[1:]))  # and neighbouring blocks differ
    plain = make_schedule(IDS, design="block", repeats=2, shuffle=False)
    assert [k for k, _ in groupby(t.class_name for t in plain)] == ["star", "ring", "boat"] * 2


def test_block_classes_come_from_subfolders():
    images = [ImageFile(f"img{i}", "faces" if i % 2 else "houses", f"x/img{i}.png") for i in range(6)]
    trials = make_schedule(images, design="block", seed=2)
    assert len([k for k, _ in groupby(t.class_name for t in trials)]) == 2
    assert {t.class_name for t in trials} == {"faces", "houses"}


def test_jitter_bounds_and_seeded_determinism():
    trials = make_schedule(IDS, repeats=10, on_s=0.1, blank_s=0.4, jitter_s=0.2, seed=7)
    blanks = np.array([t.blank_s for t in trials])
    assert blanks.min() >= 0.4 and blanks.max() <= 0.6 + 1e-12
    assert blanks.std() > 0.03  # actually jittered
    onsets = np.array([t.onset_s for t in trials])
    assert np.allclose(np.diff(onsets), 0.1 + blanks[:-1])
    assert make_schedule(IDS, repeats=10, jitter_s=0.2, seed=7) == make_schedule(IDS, repeats=10, jitter_s=0.2, seed=7)
    assert make_schedule(IDS, repeats=10, jitter_s=0.2, seed=7) != make_schedule(IDS, repeats=10, jitter_s=0.2, seed=8)


@pytest.mark.parametrize("kwargs, words", [
    ({"on_s": 0}, "on_s"), ({"on_s": -1}, "on_s"), ({"on_s": float("nan")}, "on_s"),
    ({"blank_s": -0.1}, "blank_s"), ({"jitter_s": float("inf")}, "jitter_s"), ({"repeats": 0}, "repeats"),
    ({"repeats": 1.5}, "repeats"), ({"design": "random"}, "design"),
    ({"design": "block", "block_size": 0}, "block_size"), ({"block_size": 2}, "block design"),
])
def test_bad_arguments_are_one_line_errors(kwargs, words):
    with pytest.raises(EegvizError, match=words) as info:
        make_schedule(IDS, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_image_lists():
    with pytest.raises(EegvizError, match="non-empty"):
        make_schedule([])
    with pytest.raises(EegvizError, match="twice"):
        make_schedule(["a_1", "a_1"])
    with pytest.raises(EegvizError):
        PresentationPlan(on_s=True)


# ----------------------------------------------------------------------------------------------- images
def _png(path, rgb=(200, 40, 40), w=40, h=20):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(*rgb))
    assert img.save(str(path))
    return path


def test_find_images_flat_and_class_folders(tmp_path):
    _png(tmp_path / "star_001.png")
    _png(tmp_path / "faces" / "f1.JPG")
    _png(tmp_path / "faces" / "f2.bmp")
    _png(tmp_path / "houses" / "h1.jpeg")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "captions.json").write_text("{}")
    _png(tmp_path / ".hidden" / "x.png")
    found = find_images(tmp_path)
    assert [(i.image_id, i.class_name) for i in found] == [
        ("star_001", "star"), ("f1", "faces"), ("f2", "faces"), ("h1", "houses")]


def test_find_images_errors(tmp_path):
    with pytest.raises(EegvizError, match="does not exist"):
        find_images(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(EegvizError, match="no images"):
        find_images(tmp_path)
    _png(tmp_path / "a" / "dup.png")
    _png(tmp_path / "b" / "dup.png")
    with pytest.raises(EegvizError, match="share the id 'dup'"):
        find_images(tmp_path)


def test_write_stimulus_folder(tmp_path):
    paths = write_stimulus_folder(tmp_path, n_per_class=2, size=32, classes=["star", "ring"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == [
        "ring/ring_000.png", "ring/ring_001.png", "star/star_000.png", "star/star_001.png"]
    captions = json.loads((tmp_path / "captions.json").read_text())
    assert set(captions) == {"star_000", "star_001", "ring_000", "ring_001"} and "star" in captions["star_000"]
    assert QtGui.QImage(str(paths[0])).size() == QtCore.QSize(32, 32)
    assert {(i.image_id, i.class_name) for i in find_images(tmp_path)} == {
        ("star_000", "star"), ("star_001", "star"), ("ring_000", "ring"), ("ring_001", "ring")}
    with pytest.raises(EegvizError, match="unknown stimulus class"):
        write_stimulus_folder(tmp_path, classes=["unicorn"])


# ----------------------------------------------------------------------------------------------- presenting
@pytest.fixture(scope="module")
def stim_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("stimuli")
    write_stimulus_folder(d, n_per_class=2, size=64, classes=["star", "boat"])
    return d


def _rgb(qimage) -> np.ndarray:
    img = qimage.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    rows = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(img.height(), -1)
    return rows[:, :img.width() * 3].reshape(img.height(), img.width(), 3)


def _presenter(qtbot, stim_dir, **kw):
    images = find_images(stim_dir)
    trials = make_schedule(images, on_s=kw.pop("on_s", 0.05), blank_s=0.05, seed=1)
    p = Presenter(trials, {i.image_id: i.path for i in images}, name=f"eegviz-test-{uuid.uuid4().hex[:10]}",
                  windowed=True, lead_in_s=0.05, **kw)
    qtbot.addWidget(p)
    return p, trials


def test_markers_arrive_over_lsl_in_schedule_order(qtbot, stim_dir, tmp_path):
    p, trials = _presenter(qtbot, stim_dir, log_path=tmp_path / "log.csv")
    streams = pylsl.resolve_byprop("name", p.name, 1, 3.0)
    assert len(streams) == 1 and streams[0].type() == "Markers"
    assert streams[0].channel_format() == pylsl.cf_string and streams[0].nominal_srate() == pylsl.IRREGULAR_RATE
    inlet = pylsl.StreamInlet(streams[0])
    inlet.open_stream(timeout=3.0)
    onsets = []
    p.onset.connect(lambda i, image_id, ts: onsets.append((image_id, ts)))
    with qtbot.waitSignal(p.finished, timeout=5000) as done:
        p.start()  # waits for the consumer, which is already connected
    assert done.args == [True]

    got = []
    for _ in range(len(trials)):
        sample, ts = inlet.pull_sample(timeout=2.0)
        assert sample is not None
        got.append((sample[0], ts))
    assert [g[0] for g in got] == [t.image_id for t in trials]
    assert [g[0] for g in onsets] == [t.image_id for t in trials]
    stamps = np.array([g[1] for g in got])
    assert np.allclose(stamps, [o[1] for o in onsets], atol=1e-6)  # the receiver sees the pushed timestamps
    gaps = np.diff(stamps)
    assert np.all(gaps > 0)
    assert np.all(np.abs(gaps - 0.1) < 0.06)  # planned 100 ms apart; loose for a loaded CI machine
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image_id"] for r in rows] == [t.image_id for t in trials]
    assert [r["class"] for r in rows] == [t.class_name for t in trials]
    planned = np.array([float(r["intended_lsl"]) for r in rows])
    assert np.allclose(np.diff(planned), 0.1)
    late = np.array([float(r["late_ms"]) for r in rows])
    assert late.min() >= 0 and late.max() < 60  # never early: the marker goes after the frame
    p.close_stream()


def test_image_is_drawn_at_onset_and_blank_is_black(qtbot, stim_dir):
    p, trials = _presenter(qtbot, stim_dir, wait_for_consumer=False)
    shots = []
    p.onset.connect(lambda i, image_id, ts: shots.append(_rgb(p.grab().toImage())) if i == 0 else None)
    with qtbot.waitSignal(p.finished, timeout=5000):
        p.start()
    assert len(shots) == 1
    shot = shots[0]
    assert shot.max() > 100  # the stimulus, not a black frame
    h, w, _ = shot.shape
    assert shot[h // 2, w // 2].max() > 0  # centred and scaled up from 64 px to fill the height
    assert shot[:, : (w - h) // 2 - 2].max() == 0  # letterboxed: aspect ratio kept, sides black
    assert _rgb(p.grab().toImage()).max() == 0  # nothing shown after the last blank
    p.close_stream()


def test_escape_aborts_and_keeps_the_log(qtbot, stim_dir, tmp_path):
    p, trials = _presenter(qtbot, stim_dir, on_s=2.0, log_path=tmp_path / "log.csv")
    p.start()
    assert p.state == "waiting"  # nobody listens yet
    qtbot.keyClick(p, QtCore.Qt.Key.Key_Space)  # start anyway
    qtbot.waitSignal(p.onset, timeout=3000).wait()
    with qtbot.waitSignal(p.finished, timeout=1000) as done:
        qtbot.keyClick(p, QtCore.Qt.Key.Key_Escape)
    assert done.args == [False] and p.state == "done"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].startswith("trial,image_id") and len(rows) == 2 and trials[0].image_id in rows[1]
    p.close_stream()


def test_presenter_rejects_unknown_or_unreadable_images(qtbot, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    trials = make_schedule(["bad"])
    with pytest.raises(EegvizError, match="no image file"):
        Presenter(trials, {}, windowed=True)
    with pytest.raises(EegvizError, match="cannot read image"):
        Presenter(trials, {"bad": bad}, windowed=True)


def test_cli_arguments_and_run(qtbot, stim_dir, tmp_path, monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(stim_dir), "--design", "block", "--on", "0.05", "--blank", "0.02",
                              "--jitter", "0.01", "--repeats", "2", "--no-shuffle", "--seed", "3",
                              "--name", "n", "--log", str(tmp_path / "l.csv"), "--windowed"])
    assert (args.design, args.on_s, args.blank_s, args.jitter_s, args.repeats, args.shuffle, args.seed,
            args.name, args.windowed) == ("block", 0.05, 0.02, 0.01, 2, False, 3, "n", True)
    assert args.fn is main_from_args
    defaults = parser.parse_args(["d"])
    assert (defaults.design, defaults.on_s, defaults.blank_s, defaults.jitter_s, defaults.repeats, defaults.shuffle,
            defaults.name, defaults.log, defaults.windowed) == ("rapid", 0.5, 0.5, 0.0, 1, True, "eegviz-presenter",
                                                                None, False)

    seen = {}
    monkeypatch.setattr("eegviz.app.presenter.run_presenter", lambda d, **kw: seen.update(kw, images_dir=d) or 0)
    assert main_from_args(args) == 0
    assert seen["images_dir"] == str(stim_dir) and seen["design"] == "block" and seen["log_path"].endswith("l.csv")
    monkeypatch.undo()

    name = f"eegviz-test-{uuid.uuid4().hex[:10]}"
    assert run_presenter(stim_dir, on_s=0.03, blank_s=0.02, name=name, log_path=tmp_path / "run.csv",
                         windowed=True, lead_in_s=0.0, wait_for_consumer=False) == 0
    assert len((tmp_path / "run.csv").read_text().splitlines()) == 1 + 4
    assert "done, 4 of 4 trials shown" in capsys.readouterr().out
    with pytest.raises(EegvizError, match="does not exist"):
        run_presenter(tmp_path / "nope", windowed=True)


def test_cli_exposes_fixation_lead_in_no_wait_and_block_size(monkeypatch):
    """Every option run_presenter takes reaches it from `eegviz present` (here through the real eegviz parser)."""
    from eegviz.cli import build_parser

    seen = {}
    monkeypatch.setattr("eegviz.app.presenter.run_presenter", lambda d, **kw: seen.update(kw, images_dir=d) or 0)
    args = build_parser().parse_args(["present", "stim", "--design", "block", "--block-size", "3", "--fixation",
                                      "--lead-in", "0.5", "--no-wait"])
    assert args.fn(args) == 0
    assert seen["images_dir"] == "stim"
    assert (seen["block_size"], seen["fixation"], seen["lead_in_s"], seen["wait_for_consumer"]) == (3, True, 0.5,
                                                                                                   False)
    seen.clear()
    args = build_parser().parse_args(["present", "stim"])
    assert args.fn(args) == 0
    assert (seen["block_size"], seen["fixation"], seen["lead_in_s"], seen["wait_for_consumer"]) == (None, False, 2.0,
                                                                                                   True)
    import inspect

    taken = set(inspect.signature(run_presenter).parameters) - {"images_dir"}
    assert taken <= set(seen)  # no option of run_presenter is left unreachable from the command line
    with pytest.raises(EegvizError, match="lead-in"):
        main_from_args(build_parser().parse_args(["present", "stim", "--lead-in", "-1"]))
    with pytest.raises(EegvizError, match="needs an images folder"):
        main_from_args(build_parser().parse_args(["present"]))


def test_cli_write_demo_folder_then_present_it(tmp_path, capsys):
    """`eegviz present --write-demo-folder DIR --per-class N` writes a folder `eegviz present DIR` can show."""
    from eegviz.cli import build_parser

    out = tmp_path / "stimuli"
    args = build_parser().parse_args(["present", "--write-demo-folder", str(out), "--per-class", "3", "--size", "24",
                                      "--classes", "star,boat"])
    assert args.fn(args) == 0
    assert "wrote 6 stimuli" in capsys.readouterr().out
    found = find_images(out)
    assert sorted(i.class_name for i in found) == ["boat"] * 3 + ["star"] * 3
    assert QtGui.QImage(str(found[0].path)).size() == QtCore.QSize(24, 24)
    assert json.loads((out / "captions.json").read_text()).keys() == {i.image_id for i in found}
    with pytest.raises(EegvizError, match="not both"):
        main_from_args(build_parser().parse_args(["present", str(out), "--write-demo-folder", str(tmp_path / "x")]))
    with pytest.raises(EegvizError, match="unknown stimulus class"):
        main_from_args(build_parser().parse_args(["present", "--write-demo-folder", str(tmp_path / "y"),
                                                  "--classes", "unicorn"]))
