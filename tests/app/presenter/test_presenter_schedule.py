"""Presentation schedules (no Qt): rapid and block designs, repeats, jitter, seeds, bad parameters, onset events."""

import random
from itertools import groupby

import numpy as np
import pytest

from eegviz.app.presenter.schedule import PresentationPlan, make_schedule, onset_events, schedule_duration
from eegviz.data.images import ImageFile, class_of
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
    ({"on_s": 0}, "--on "), ({"on_s": -1}, "--on "), ({"on_s": float("nan")}, "--on "),
    ({"blank_s": -0.1}, "--blank "), ({"jitter_s": float("inf")}, "--jitter "), ({"repeats": 0}, "--repeats "),
    ({"repeats": 1.5}, "--repeats "), ({"design": "random"}, "design"),
    ({"design": "block", "block_size": 0}, "--block-size "), ({"block_size": 2}, "block design"),
    # beyond a Qt timer's int milliseconds these used to overflow inside the event loop and hang the presenter
    ({"on_s": 3e6}, "--on "), ({"blank_s": 1e10}, "--blank "), ({"jitter_s": 3600.001}, "--jitter "),
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



def test_onset_events_turn_trials_into_on_off_end():
    trials = make_schedule(["a_1", "b_1"], on_s=0.2, blank_s=0.3, shuffle=False)
    assert onset_events(trials) == [(0.0, "on", 0), (0.2, "off", 0), (0.5, "on", 1), (0.7, "off", 1), (1.0, "end", -1)]
    no_blank = make_schedule(["a_1", "b_1"], on_s=0.2, blank_s=0.0, shuffle=False)
    assert [kind for _, kind, _ in onset_events(no_blank)] == ["on", "on", "end"]


def test_check_seconds_takes_finite_durations_up_to_an_hour():
    from eegviz.app.presenter.schedule import MAX_SECONDS, check_seconds

    assert MAX_SECONDS == 3600 and MAX_SECONDS * 1000 < 2**31 - 1  # an hour, in range of a QTimer's int ms
    assert check_seconds("--on", 3600) == 3600.0 and check_seconds("--lead-in", 0) == 0.0
    for bad in (3600.5, float("inf"), float("nan"), -1, True, "1"):
        with pytest.raises(EegvizError, match=r"--lead-in must be a finite number >= 0 and at most 3600 seconds"):
            check_seconds("--lead-in", bad)
    with pytest.raises(EegvizError, match="> 0"):
        check_seconds("--on", 0, zero_ok=False)


def test_check_stream_name_refuses_what_liblsl_cannot_name():
    from eegviz.app.presenter.schedule import check_stream_name

    assert check_stream_name("eegviz-presenter") == "eegviz-presenter"
    for bad in ("", "   ", None, "\udcff"):
        with pytest.raises(EegvizError, match="--name"):
            check_stream_name(bad)


def test_a_utf8_name_under_an_ascii_locale_names_the_locale():
    """`present --name mk-ü` under an ASCII locale (LC_ALL=C, PYTHONUTF8=0) reaches Python as lone surrogates: it
    was refused as "must be UTF-8 text", which it is. The refusal names the locale and the fix now; bytes that are
    no UTF-8 are still refused as before."""
    from eegviz.app.presenter.schedule import check_stream_name

    with pytest.raises(EegvizError, match=r"is UTF-8 that this system's locale .* PYTHONUTF8=1"):
        check_stream_name("mk-\udcc3\udcbc")
    with pytest.raises(EegvizError, match="--name must be UTF-8 text"):
        check_stream_name("mk-\udcfc")


def test_a_schedule_longer_than_a_day_is_refused_before_it_is_built():
    """--repeats 100000000 built its trial list for minutes, memory growing; now one line at once."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(EegvizError, match="would present for at least .* h; a session is at most 24 h"):
        make_schedule(["a_1", "b_1", "c_1"], repeats=100_000_000)
    assert time.perf_counter() - t0 < 1.0
    assert len(make_schedule(["a_1", "b_1", "c_1"], repeats=1000)) == 3000  # 50 min: fine


def test_blocks_of_a_class_that_outnumbers_the_others_meet_as_rarely_as_the_counts_allow():
    """Block design with one class holding more blocks than all others together: some of its blocks must meet,
    but only max - rest - 1 of them (A B A A for 3 A and 1 B). The greedy used to pick the first block among all
    labels alike, and a sequence that began with the minority one (B A A A) put one pair more back to back."""
    from eegviz.app.presenter.schedule import _spread

    for seed in range(40):
        for counts in ({"a": 3, "b": 1}, {"a": 6, "b": 2, "c": 1}, {"a": 5, "b": 0, "c": 2}):
            out = _spread(counts, random.Random(seed))
            assert sorted(out) == sorted(k for k, n in counts.items() for _ in range(n))
            most, total = max(counts.values()), sum(counts.values())
            assert sum(a == b for a, b in zip(out, out[1:])) == most - (total - most) - 1, (counts, out)
    images = [ImageFile(f"a{i}", "a", f"x/a{i}.png") for i in range(6)] + [ImageFile("b0", "b", "x/b0.png")]
    for seed in range(20):  # 3 blocks of 2 a's, 1 block of b: a a | b | a a | a a, not b | a a | a a | a a
        classes = [t.class_name for t in make_schedule(images, design="block", block_size=2, seed=seed)]
        assert len([k for k, _ in groupby(classes)]) == 3


def test_resume_point_checks_a_log_without_a_session_file_by_its_images(tmp_path):
    """A log from before session files (or whose file was lost) is checked trial by trial against the rebuilt
    schedule: another seed shows other images at the logged trials and is refused; the same one goes on after
    the last logged trial. A CSV that is not an onset log is refused in one line."""
    from eegviz.app.presenter.schedule import LOG_FIELDS, remaining, resume_point

    ids = [f"cat_{i}" for i in range(6)]
    plan = PresentationPlan(seed=1)
    trials = plan.schedule(ids)
    log = tmp_path / "old.csv"
    log.write_text(",".join(LOG_FIELDS) + "\n" + "".join(f"{t.index},{t.image_id},cat,1.0,1.0,0.1\n"
                                                        for t in trials[:2]))
    assert resume_point(log, plan, trials) == 2
    rest = remaining(trials, 2)
    assert [t.index for t in rest] == [2, 3, 4, 5] and rest[0].onset_s == 0.0
    assert rest[1].onset_s == trials[3].onset_s - trials[2].onset_s
    other = PresentationPlan(seed=3)
    with pytest.raises(EegvizError, match=r"its trial \d showed cat_\d, this schedule shows cat_\d there"):
        resume_point(log, other, other.schedule(ids))
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(EegvizError, match="is not an `eegviz present --log` onset log"):
        resume_point(tmp_path / "x.csv", plan, trials)
    with pytest.raises(EegvizError, match="no such onset log"):
        resume_point(tmp_path / "none.csv", plan, trials)


def test_resume_reads_onset_logs_with_and_without_the_offset_columns(tmp_path):
    """Logs now end each row with the image's offset (schedule.LOG_FIELDS); --resume reads them, and still the logs
    of earlier versions (ONSET_FIELDS, no offsets). A last row whose offset never came (the run was killed while its
    image was up) is an onset shown all the same."""
    from eegviz.app.presenter.schedule import resume_point

    plan = PresentationPlan(seed=1)
    trials = plan.schedule([f"cat_{i}" for i in range(6)])
    t0, t1 = trials[:2]
    onsets = "trial,image_id,class,onset_lsl,intended_lsl,late_ms"  # the columns logs had before offsets
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    new.write_text(f"{onsets},offset_lsl,on_ms,intended_on_ms,offset_by\n"
                   f"0,{t0.image_id},cat,1.0,1.0,0.1,1.5,500.0,500.000,blank\n1,{t1.image_id},cat,2.0,2.0,0.1,,,500.000,\n")
    old.write_text(f"{onsets}\n0,{t0.image_id},cat,1.0,1.0,0.1\n")
    assert (resume_point(new, plan, trials), resume_point(old, plan, trials)) == (2, 1)
