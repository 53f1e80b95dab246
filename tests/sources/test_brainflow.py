"""BrainFlowSource against BrainFlow's synthetic board (no hardware, no network)."""

from __future__ import annotations

import gc
import time
import uuid

import numpy as np
import pylsl
import pytest

from eegviz.errors import EegvizError, SourceNotFound
from eegviz.sources import brainflow as bf_module
from eegviz.sources.brainflow import MARKER_LOOK_S, BrainFlowSource


@pytest.fixture(autouse=True)
def no_marker_look(monkeypatch):
    """Every open() without --markers looks for LSL marker streams for MARKER_LOOK_S (0.3 s), only to say that it
    will not use them; no test here but the one about that notice (which sets the real look back) sees or asserts
    it, so the others waited it out for nothing. With 0 the look still runs (resolve_streams(0)) and finds none."""
    monkeypatch.setattr(bf_module, "MARKER_LOOK_S", 0.0)


@pytest.fixture
def one_answer_each(monkeypatch):
    """SETTLE_S = 0 for a test with one marker stream of the (uuid) name it gives with --markers: resolve_streams
    waits SETTLE_S after the stream showed up so that a choice among several of the name sees them all; with one,
    what is taken is the same without the wait. The test of two streams of one name keeps the real SETTLE_S."""
    from eegviz.sources import lsl as lsl_module

    monkeypatch.setattr(lsl_module, "SETTLE_S", 0.0)


@pytest.fixture
def source():
    src = BrainFlowSource()
    src.start()
    # until the board streams: a slow host's synthetic board starts a few hundred ms late, and a test timing its
    # reads from start() then saw too few samples, or a marker inserted before the stream ran (CI, 2026-12-06)
    t_end = time.monotonic() + 5.0
    while not src.read(timeout=0.05).chunks and time.monotonic() < t_end:
        pass
    yield src
    src.stop()
    src.stop()  # safe twice


def _read_for(src: BrainFlowSource, seconds: float):
    chunks, markers, t_end = [], [], time.monotonic() + seconds
    while time.monotonic() < t_end:
        r = src.read(timeout=0.05)
        chunks += r.chunks
        markers += r.markers
    return chunks, markers


def _wobble(source, sd_s: float, seed: int, then=None) -> None:
    """Make the board's stamps wobble (normal, sd_s seconds), as a driver that stamps samples when it hands them
    over does; `then(data)` may change each read further (take samples away)."""
    real = source.board.get_board_data
    rng = np.random.default_rng(seed)

    def wobbling():
        data = real()
        data[source._ts_row] += rng.normal(0, sd_s, data.shape[1])
        return data if then is None else then(data)

    source.board.get_board_data = wobbling


def _pushed_marker_arrives(src: BrainFlowSource, outlet: pylsl.StreamOutlet, seconds: float) -> bool:
    """Push "star_001" on the LSL marker outlet, read by read, until the source hands it out (or `seconds` pass)."""
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        outlet.push_sample(["star_001"])
        if "star_001" in [m.payload for m in src.read(timeout=0.1).markers]:
            return True
    return False


def _read_all(src: BrainFlowSource, seconds: float) -> dict:
    """Everything read for `seconds`: chunks, markers, notices, and how many reads said gap."""
    got = {"chunks": [], "markers": [], "notices": [], "gaps": 0}
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        r = src.read(timeout=0.05)
        got["chunks"] += r.chunks
        got["markers"] += r.markers
        got["notices"] += r.notices
        got["gaps"] += r.gap
    return got


def test_a_stopped_board_collected_late_leaves_the_next_board_running() -> None:
    """BrainFlow knows a session by board id and parameters, so a stopped board's BoardShim, collected later (a
    traceback or a cycle held it), used to release whichever board had them then: here the next session's, which
    failed with BOARD_NOT_CREATED on its next read."""
    first = BrainFlowSource()
    first.start()
    lingering = first.board  # what a traceback's frame would keep alive
    first.stop()
    second = BrainFlowSource()
    second.start()
    try:
        del lingering
        gc.collect()
        chunks, _ = _read_for(second, 0.3)
        assert sum(len(c.timestamps) for c in chunks) > 0
    finally:
        second.stop()


@pytest.mark.usefixtures("one_answer_each")
def test_an_lsl_marker_stream_it_does_not_use_is_named_once(monkeypatch) -> None:
    """A BrainFlow session takes the board's marker channel; a lab's stimulus program sending image ids on LSL was
    passed over without a word, and the session waited for markers that never came."""
    monkeypatch.setattr(bf_module, "MARKER_LOOK_S", MARKER_LOOK_S)  # the real look (no_marker_look)
    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name))
    src = BrainFlowSource()
    src.start()
    try:
        notices = src.read().notices + _read_all(src, 0.2)["notices"]
    finally:
        src.stop()
    said = [n for n in notices if name in n]
    assert len(said) == 1 and "is not used" in said[0] and "--markers NAME" in said[0], notices
    src = BrainFlowSource(marker_lsl_name=name)  # named: taken, nothing to say
    src.start()
    try:
        notices = src.read().notices + _read_all(src, 0.2)["notices"]
    finally:
        src.stop()
    assert not [n for n in notices if "is not used" in n]
    del outlet


def test_a_board_without_a_marker_stream_says_once_that_no_epochs_will_be_cut(monkeypatch) -> None:
    """Without --markers, and with no LSL marker stream to name, nothing fills the board's marker channel: the
    session recorded and decoded nothing, and said nothing about it."""
    from eegviz.sources import lsl as lsl_module

    monkeypatch.setattr(lsl_module, "marker_streams_seen", lambda wait_s, marker_type="Markers": [])
    src = BrainFlowSource()
    src.start()
    try:
        notices = src.read().notices + src.read().notices
    finally:
        src.stop()
    said = [n for n in notices if "no marker stream" in n]
    assert len(said) == 1 and "no epochs will be cut" in said[0] and "--markers NAME" in said[0], notices


def test_a_board_that_failed_to_prepare_and_is_collected_late_leaves_the_next_board_running(monkeypatch) -> None:
    """A board off or its port busy: prepare_session fails, so the board is never released, and the refusal's
    traceback can hold it. Collected after the user's retry with the same settings, it released the retry's
    session (BoardShim.__del__ asks by board id and parameters)."""
    from brainflow.board_shim import BrainFlowError

    from eegviz.sources import brainflow as bf

    kept = []

    def failing(self):
        kept.append(self)  # held, as the refusal's traceback may hold it
        raise BrainFlowError("unable to prepare streaming session", 2)

    with monkeypatch.context() as m:
        m.setattr(bf._Board, "prepare_session", failing)
        with pytest.raises(EegvizError, match="could not start"):
            BrainFlowSource().open()
    retry = BrainFlowSource()
    retry.start()
    try:
        kept.clear()
        gc.collect()
        chunks, _ = _read_for(retry, 0.3)
        assert sum(len(c.timestamps) for c in chunks) > 0
    finally:
        retry.stop()


def test_synthetic_one_second(source) -> None:
    assert source.info.sfreq > 0 and source.info.n_channels > 0
    assert len(set(source.info.ch_names)) == source.info.n_channels
    _read_for(source, 0.2)  # discard start-up
    chunks, _ = _read_for(source, 1.0)
    data = np.concatenate([c.samples for c in chunks])
    ts = np.concatenate([c.timestamps for c in chunks])
    assert data.dtype == np.float32 and data.shape[1] == source.info.n_channels
    assert abs(len(ts) - source.info.sfreq) < 0.3 * source.info.sfreq
    assert np.all(np.diff(ts) > 0)
    assert np.abs(data).max() < 1e-2
    assert abs(ts[-1] - pylsl.local_clock()) < 1.0  # mapped into the LSL clock


def test_insert_marker(source) -> None:
    _read_for(source, 0.1)
    source.board.insert_marker(3)
    _, markers = _read_for(source, 0.5)
    assert [m.payload for m in markers] == ["3"]
    assert abs(markers[0].timestamp - pylsl.local_clock()) < 1.0


def test_open_prepares_the_board_and_streams_nothing_until_start() -> None:
    """open() (before a session's warm-up) knows the channels and has the board prepared, so a board that is off
    is refused then; samples flow only from start() on."""
    from brainflow.board_shim import BrainFlowError

    src = BrainFlowSource()
    src.open()
    try:
        assert src.info.sfreq > 0 and src.info.n_channels > 0 and src.board.is_prepared()
        time.sleep(0.3)
        try:
            waiting = src.board.get_board_data_count()
        except BrainFlowError:  # BrainFlow has no buffer before start_stream()
            waiting = 0
        assert waiting == 0
        src.start()
        chunks, _ = _read_for(src, 0.5)
        assert sum(len(c.timestamps) for c in chunks) > 0
    finally:
        src.stop()
    assert src.board is None


@pytest.mark.usefixtures("one_answer_each")
def test_a_marker_stream_gone_before_start_is_one_line_and_leaves_no_board_running(monkeypatch) -> None:
    from eegviz.sources import brainflow as bf

    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name))
    src = BrainFlowSource(marker_lsl_name=name)
    src.open()
    with pytest.raises(EegvizError, match="read before start"):
        src.read()
    del outlet  # gone during the warm-up
    # it stays away: start()'s second look for it lasts all of MARKER_RESOLVE_S, and 1 s shows that as well as 5 s
    monkeypatch.setattr(bf, "MARKER_RESOLVE_S", 1.0)
    with pytest.raises(EegvizError, match=f"LSL marker stream '{name}' did not answer"):
        src.start()
    assert src.board is None


def test_unknown_param() -> None:
    with pytest.raises(EegvizError, match="unknown BrainFlow parameter 'bogus'"):
        BrainFlowSource(params={"bogus": 1}).start()


def test_board_error_is_one_line() -> None:
    # Cyton on a port name that is not a device path (so eegviz leaves it to BrainFlow, as it must COM3 on
    # Windows): prepare_session fails without touching the network.
    src = BrainFlowSource(board_id=0, params={"serial_port": "nonexistent-eegviz"})
    with pytest.raises(EegvizError) as err:
        src.start()
    assert "\n" not in str(err.value) and "nonexistent-eegviz" in str(err.value)


def test_a_board_without_eeg_or_unknown_to_brainflow_is_refused_as_the_source_is_made() -> None:
    """An EMG armband (Callibri EMG, 10) was refused with "BrainFlow does not support board id 10", which it does;
    it sends no EEG. An unknown id was said only once the model had loaded. Both now as the source is made."""
    with pytest.raises(EegvizError) as err:
        BrainFlowSource(board_id=10)
    assert "CALLIBRI_EMG_BOARD sends no EEG" in str(err.value) and "(only EMG channels)" in str(err.value)
    with pytest.raises(EegvizError, match="does not support board id 999"):
        BrainFlowSource(board_id=999)
    with pytest.raises(EegvizError, match="EMOTIBIT_BOARD sends no EEG"):  # a playback is described by its master
        BrainFlowSource(board_id=-3, params={"master_board": 47, "file": "rec.csv"})


def test_a_file_or_master_board_for_a_board_that_ignores_them_is_refused(tmp_path) -> None:
    """BrainFlow reads `file` for its playback board (-3) only, and `master_board` for it and the streaming
    board (-2): `--board -1 --board-file rec.csv` decoded the synthetic board's noise as if it were the
    recording, without a word. Refused in one line, naming what plays a recording."""
    cases = [(-1, {"file": "rec.csv"}, "--board-file is only", "SYNTHETIC_BOARD ignores it and sends its own"),
             (0, {"file": "rec.csv", "master_board": -1}, "--board-file is only", "and --master-board is only"),
             (-2, {"file": "rec.csv", "master_board": -1}, "--board-file is only", "STREAMING_BOARD ignores it;")]
    for board, params, *said in cases:
        with pytest.raises(EegvizError) as err:
            BrainFlowSource(board_id=board, params=params)
        assert all(s in str(err.value) for s in said) and "--board -3 --master-board ID --board-file FILE" in str(
            err.value) and "\n" not in str(err.value), str(err.value)
    recording = _synthetic_board_file(tmp_path / "synthetic.csv", 10)  # where they are used, taken
    BrainFlowSource(board_id=-3, params={"master_board": -1, "file": str(recording)})


def test_a_board_started_without_the_connection_parameters_it_needs_says_which_to_give() -> None:
    """`--board 0` alone (a Cyton, no --serial-port): BrainFlow says only INVALID_ARGUMENTS_ERROR, and eegviz
    added "check the port/address parameters", of which none had been given."""
    with pytest.raises(EegvizError) as err:
        BrainFlowSource(board_id=0).open()
    said = str(err.value)
    assert "could not start CYTON_BOARD:" in said and "none was given: --serial-port" in said, said
    assert "check the port/address" not in said and "\n" not in said


def test_a_brainflow_library_that_cannot_load_is_one_line(monkeypatch) -> None:
    """A brainflow wheel for another machine, or a system library its board library needs missing: ctypes'
    OSError came out as a traceback."""
    from eegviz.sources import brainflow as bf

    def broken():
        raise OSError("libgomp.so.1: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(bf.BoardControllerDLL, "get_instance", broken)
    with pytest.raises(EegvizError) as err:
        BrainFlowSource().open()
    said = str(err.value)
    assert "board library could not be loaded" in said and "libgomp.so.1" in said and "reinstall brainflow" in said
    assert "\n" not in said


def test_a_missing_serial_device_is_said_before_the_board_is_touched() -> None:
    """The dongle not plugged in: the source refuses as it is made, before a model loads or warms up; as
    SourceNotFound, which a kiosk waits out (it may be plugged in later)."""
    with pytest.raises(SourceNotFound, match="no serial port /dev/nonexistent-eegviz on this machine"):
        BrainFlowSource(board_id=0, params={"serial_port": "/dev/nonexistent-eegviz"})


def test_a_serial_port_the_user_may_not_open_is_said_with_its_group(tmp_path, monkeypatch) -> None:
    """Linux gives a dongle's port to the dialout group: a user not in it was told BrainFlow's "unable to prepare
    streaming session (check the port/address parameters)", though the port was the right one."""
    import grp
    import os
    from types import SimpleNamespace

    port = tmp_path / "ttyUSB0"
    port.touch()
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(port))
    monkeypatch.setattr(grp, "getgrgid", lambda gid: SimpleNamespace(gr_name="dialout"))
    with pytest.raises(EegvizError) as err:
        BrainFlowSource(board_id=0, params={"serial_port": str(port)})
    said = str(err.value)
    assert f"no permission to open the serial port {port}" in said and "usermod -aG dialout" in said, said
    assert "\n" not in said


@pytest.mark.usefixtures("one_answer_each")
def test_markers_from_an_lsl_stream_beside_the_board() -> None:
    """A stimulus program's LSL string markers arrive with a BrainFlow board's EEG (no LSL EEG stream exists)."""
    import uuid

    import pylsl

    name = f"bf-markers-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, f"sid-{name}"))
    src = BrainFlowSource(board_id=-1, marker_lsl_name=name)
    src.start()
    try:
        assert _pushed_marker_arrives(src, outlet, 8.0)
    finally:
        src.stop()
        del outlet


@pytest.mark.parametrize("names", [["Fz", "", "Cz"], ["Fz", "  ", "Cz"], ["Fz", "Fz", "Cz"], ["Fz", "Cz"]])
def test_board_names_with_a_blank_or_a_double_fall_back_to_numbered_names(monkeypatch, names):
    from brainflow.board_shim import BoardShim

    from eegviz.messages import usable_ch_names

    monkeypatch.setattr(BoardShim, "get_eeg_channels", staticmethod(lambda board_id: [1, 2, 3]))
    monkeypatch.setattr(BoardShim, "get_eeg_names", staticmethod(lambda board_id: names))
    src = BrainFlowSource()
    src.start()
    try:
        assert src.info.ch_names == ("ch1", "ch2", "ch3")
    finally:
        src.stop()
    assert usable_ch_names([" Fz", "Cz ", "Pz"], 3) == ["Fz", "Cz", "Pz"]


def test_nan_samples_are_delivered_with_one_notice_not_ending_the_session(source) -> None:
    """A flat or saturated electrode's NaN: the chunk (already taken from the board) reaches the recording and the
    epocher as it came, with one notice, as the LSL source does; the session used to end and lose the chunk."""
    real = source.board.get_board_data
    row = source._eeg_rows[2]

    def with_nan():
        data = real()
        data[row, ::3] = np.nan
        return data

    source.board.get_board_data = with_nan
    chunks, notices = [], []
    t_end = time.monotonic() + 5.0  # a slow host's board starts late: read until 0.3 s of samples came
    while sum(len(c.timestamps) for c in chunks) <= 0.3 * source.info.sfreq and time.monotonic() < t_end:
        r = source.read(timeout=0.05)
        chunks += r.chunks
        notices += r.notices
    data = np.concatenate([c.samples for c in chunks])
    assert len(data) > 0.3 * source.info.sfreq and np.isnan(data[:, 2]).any() and np.isfinite(data[:, 3]).all()
    assert len(notices) == 1 and "NaN" in notices[0]  # said once, not per chunk
    # in LSL's words (eegviz.sources.base.nan_notice): the electrode to fix, and what the session does with NaN in
    # the model's channels; it said every epoch holding them was skipped, where an electrode that sends only NaN is
    # marked bad and interpolated (eegviz.stream.epocher)
    bad = source.info.ch_names[2]
    assert notices[0].startswith(f"BrainFlow board {source.info.name} sends NaN/inf samples, first in {bad} (")
    assert notices[0].endswith("; an electrode the model uses whose NaN fills the first seconds or an epoch is "
                               "marked bad and interpolated, and an epoch they reach only in part is skipped")


def test_epochs_are_cut_in_dejittered_stamps_the_recording_keeps_the_boards(source) -> None:
    """The board stamps samples as its driver hands them over (here sd 0.5 ms more at 250 Hz): the chunks carry a
    steady clock recovered from them (a Dejitter line, as the LSL source does), where the board's own stamps left
    holes the epocher skipped markers in; raw_timestamps keep the board's stamps for the recording, and a
    marker sits on its sample's steady stamp."""
    _wobble(source, 0.5e-3, seed=0)
    _read_for(source, 0.3)  # the line settles
    source.board.insert_marker(7)
    chunks, markers = _read_for(source, 0.6)
    period = 1.0 / source.info.sfreq
    ts = np.concatenate([c.timestamps for c in chunks])
    assert len(ts) > 0.3 * source.info.sfreq
    # (90th percentiles: a busy machine can delay the board's stamps past a gap, where the line restarts)
    assert np.percentile(np.abs(np.diff(ts) - period), 90) < 0.05 * period  # the steady clock the epocher cuts in
    raw = np.concatenate([c.raw_timestamps for c in chunks])
    assert np.percentile(np.abs(np.diff(raw) - period), 90) > 0.15 * period  # the board's stamps, as they came
    assert abs(np.median(ts - raw)) < 0.5 * period  # the same clock (LSL's), only smoothed
    assert [m.payload for m in markers] == ["7"] and markers[0].timestamp in set(ts.tolist())


def test_a_sample_the_board_lost_is_told_by_its_counter_and_later_samples_keep_their_place(source) -> None:
    """A radio link drops packets. One lost sample moves the board's stamps by a period, inside their wobble (here
    sd 3 ms at 250 Hz), so only its sample counter says it went missing. The line counts it: the steady stamps
    step by two periods there (a hole the epocher refuses windows across), it is said once, and the samples
    after it keep their place instead of sitting a period early."""
    row = source._counter_row
    dropped, losing = [], []  # the counter value of the sample taken away; whether to take one now

    def lose_one(data):
        if losing and not dropped and data.shape[1] and 10 <= data[row, 0] < 200:  # not across its wrap (256)
            dropped.append(float(data[row, 0]))
            return data[:, 1:]
        return data

    _wobble(source, 3e-3, seed=0, then=lose_one)
    before, _ = _read_for(source, 1.0)  # the counter's step is learnt (64 steps), the line settles
    assert source._counter.step == 1.0 and source.lost_samples == 0
    losing.append(True)
    got = _read_all(source, 0.6)
    assert len(dropped) == 1 and source.lost_samples == 1 and got["gaps"] >= 1
    assert len(got["notices"]) == 1 and "lost 1 sample(s)" in got["notices"][0]
    period = 1.0 / source.info.sfreq
    steps = np.diff(np.concatenate([c.timestamps for c in before[-1:] + got["chunks"]])) / period
    big = np.flatnonzero(steps > 1.5)
    assert len(big) == 1 and 1.7 < steps[big[0]] < 2.5  # the lost period, where it was lost
    assert np.percentile(np.abs(steps - 1.0), 90) < 0.05  # the rest on the steady clock


def test_stamps_that_wobble_by_a_period_cut_no_holes_where_nothing_was_lost(source) -> None:
    """Without a counter to ask (a board that has none), the line's own learnt jitter decides, as for LSL: a step
    of over 2 periods in the board's stamps used to restart the line, which on stamps this wobbly (sd 3 ms at
    250 Hz) cut a hole into most epochs."""
    source._counter = None
    _wobble(source, 3e-3, seed=1)
    _read_for(source, 0.6)  # the line learns the jitter
    got = _read_all(source, 0.6)
    steps = np.diff(np.concatenate([c.timestamps for c in got["chunks"]])) * source.info.sfreq
    assert got["gaps"] == 0 and np.abs(steps - 1.0).max() < 0.05


def test_a_loss_told_in_a_read_that_also_holds_an_untold_wrap_still_reaches_the_line() -> None:
    """Sample 253 lost 3 samples before the counter's first wrap, whose modulus is not learnt yet: the read held
    a told loss and an untold wrap. The loss was counted and said, but the line was not told of it, so no gap
    was flagged and the samples after it sat a period early."""
    from eegviz.sources.base import ReadResult
    from eegviz.stream.counter import SampleCounter
    from eegviz.stream.dejitter import Dejitter

    src = BrainFlowSource.__new__(BrainFlowSource)  # the read's clock logic alone, no board
    src.info = type("Info", (), {"sfreq": 250.0, "name": "fake"})()
    src._counter, src._counter_row, src._dejitter = SampleCounter(most=250), 0, Dejitter(250.0)
    src._last_ts, src.lost_samples, src._told_lost = None, 0, False
    n = np.arange(600)
    n = n[n != 253]
    t = 100 + n / 250.0 + np.random.default_rng(0).normal(0, 3e-3, len(n))
    gaps, out = [], []
    for a in range(0, len(n), 12):
        ts, gap = src._steady(t[a:a + 12], (n[a:a + 12] % 256).astype(float)[None, :], ReadResult())
        gaps.append(gap)
        out.append(ts)
        src._last_ts = t[a:a + 12][-1]
    ts = np.concatenate(out)
    i = int(np.flatnonzero(n == 254)[0])
    assert src.lost_samples == 1 and any(gaps)
    assert 1.7 < (ts[i] - ts[i - 1]) * 250 < 2.3  # the lost period, where it was lost


def test_a_read_holding_both_sides_of_a_long_jump_keeps_each_side_in_place() -> None:
    """The board's stamps jump by a second (a stall, the system clock stepped) inside one read, as when the
    acquisition thread reads late. The line restarted for the whole read and was fitted through the jump, which
    stamped the read's samples evenly around their mean: those before the jump half a second late, those after
    it half a second early. Each side keeps its place, with the jump between them."""
    from eegviz.sources.base import ReadResult
    from eegviz.stream.dejitter import Dejitter

    src = BrainFlowSource.__new__(BrainFlowSource)  # the read's clock logic alone, no board
    src.info = type("Info", (), {"sfreq": 250.0, "name": "fake"})()
    src._counter, src._counter_row, src._dejitter = None, None, Dejitter(250.0)
    src._last_ts, src.lost_samples, src._told_lost = None, 0, False
    t = 100 + np.arange(300) / 250.0
    t[280:] += 1.0  # samples 280.. a second later than the count says
    out, gaps = [], []
    for a, b in ((0, 100), (100, 200), (200, 300)):  # the last read holds both sides of the jump
        ts, gap = src._steady(t[a:b], np.zeros((1, b - a)), ReadResult())
        out.append(ts)
        gaps.append(gap)
        src._last_ts = float(t[b - 1])
    ts = np.concatenate(out)
    assert gaps == [False, False, True]
    np.testing.assert_allclose(ts, t, atol=1e-3)


def test_a_board_that_goes_silent_and_comes_back_is_said_both_times(source, monkeypatch) -> None:
    """A Cyton switched off or out of its dongle's range: BrainFlow returns no samples and no error. The session
    went on without a word, its markers waiting for EEG that never came; the silence and the return are said once
    each, as an LSL stream's loss and return are."""
    import eegviz.sources.brainflow as bf

    monkeypatch.setattr(bf, "SILENT_S", 0.3, raising=False)
    real = source.board.get_board_data
    quiet = {"on": True}
    source.board.get_board_data = lambda: real()[:, :0] if quiet["on"] else real()  # what the board sends is lost
    silent = _read_all(source, 0.8)
    assert not silent["chunks"] and len(silent["notices"]) == 1
    assert "no samples for 0.3 s" in silent["notices"][0] and source.info.name in silent["notices"][0]
    quiet["on"] = False
    back = _read_all(source, 0.5)
    assert back["chunks"] and len(back["notices"]) == 1 and "samples again after" in back["notices"][0]
    assert back["gaps"] >= 1  # the silence is a gap: no epoch is cut across it


def test_a_marker_that_is_no_integer_keeps_its_value(source) -> None:
    """insert_marker takes any non-zero number: 2.5 was cut to image "2" (and recorded so), the id of another
    marker; integral ones still read without '.0', as an XDF file's numeric markers do."""
    _read_for(source, 0.1)
    source.board.insert_marker(2.5)
    time.sleep(0.1)
    source.board.insert_marker(4.0)
    _, markers = _read_for(source, 0.5)
    assert [m.payload for m in markers] == ["2.5", "4"]


@pytest.mark.usefixtures("one_answer_each")
def test_a_marker_stream_that_goes_and_comes_back_is_said_and_read_again() -> None:
    """A stimulus program restarted during a board session. Its stream has no source_id (pylsl's default), which
    liblsl's own recovery cannot find again: its markers never came again, and nothing said so. The stream is
    looked for by name in the background, as an LSL session's is, and its loss and return are said."""
    name = f"bf-mk-{uuid.uuid4().hex[:8]}"

    def outlet():
        return pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, ""))

    def until(what, seconds, push=None):
        got = {"markers": [], "notices": []}
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end and not what(got):
            if push is not None:
                push.push_sample(["star_001"])
            r = src.read(timeout=0.05)
            got["markers"] += [m.payload for m in r.markers]
            got["notices"] += r.notices
        return got

    first = outlet()
    src = BrainFlowSource(marker_lsl_name=name)
    src.start()
    try:
        assert until(lambda g: g["markers"], 5.0, first)["markers"]
        del first  # the stimulus program ends
        gone = until(lambda g: g["notices"], 5.0)
        assert any("lost" in n and name in n for n in gone["notices"])
        second = outlet()  # and starts again
        back = until(lambda g: g["markers"], 10.0, second)
        assert back["markers"] and any("is back" in n for n in back["notices"])
    finally:
        src.stop()


def test_a_board_slow_to_start_is_said_late_not_back_from_a_silence(monkeypatch) -> None:
    """A Bluetooth headset may stream seconds after start_stream: said as a late start, not as samples "again
    after a silence" whose epochs were skipped (no sample, and no epoch, came before)."""
    import eegviz.sources.brainflow as bf

    monkeypatch.setattr(bf, "SILENT_S", 0.3)
    src = BrainFlowSource()
    src.start()
    try:
        real = src.board.get_board_data
        quiet = {"on": True}
        src.board.get_board_data = lambda: real()[:, :0] if quiet["on"] else real()
        late = _read_all(src, 0.8)
        said = [n for n in late["notices"] if "samples" in n]  # (not an LSL marker stream elsewhere on the machine)
        assert not late["chunks"] and len(said) == 1 and "since its stream was started" in said[0]
        quiet["on"] = False
        now = _read_all(src, 0.5)
        assert now["chunks"] and len(now["notices"]) == 1
        assert "sends samples now" in now["notices"][0] and "skipped" not in now["notices"][0]
    finally:
        src.stop()


@pytest.mark.usefixtures("one_answer_each")
def test_the_board_streams_before_the_marker_streams_clock_offset_is_measured(monkeypatch) -> None:
    """The first clock-offset measurement blocks ~0.65 s. Taken before the board's stream started, the markers
    received meanwhile had no EEG to cut from (each skipped as "the stream began mid-trial")."""
    import eegviz.sources.lsl_reconnect as reconnect

    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name))
    order = []
    real_offset = reconnect.first_offset
    monkeypatch.setattr(reconnect, "first_offset", lambda *a: (order.append("offset"), real_offset(*a))[1])
    src = BrainFlowSource(marker_lsl_name=name)
    src.open()
    real_start = src.board.start_stream
    src.board.start_stream = lambda *a: (order.append("board"), real_start(*a))[1]
    try:
        src.start()
        assert order == ["board", "offset"]
    finally:
        src.stop()
        del outlet


@pytest.mark.parametrize("step", [5.0, -3.0])
def test_a_system_clock_step_leaves_the_samples_on_the_lsl_clock(source, monkeypatch, step) -> None:
    """BrainFlow stamps samples by the system clock, moved onto LSL's steady clock by an offset taken at start().
    Stepped (NTP, a time set by hand), every later sample was stamped `step` seconds off the clock LSL markers
    are stamped in, so every later epoch was cut that far from its marker. They stay on the LSL clock, in one
    line with the samples before (nothing was lost), and the step is said once."""
    real_data, real_time = source.board.get_board_data, time.time
    _read_for(source, 0.3)

    def stepped():
        data = real_data()
        data[source._ts_row] += step
        return data

    source.board.get_board_data = stepped
    monkeypatch.setattr(time, "time", lambda: real_time() + step)
    got = _read_all(source, 0.6)
    ts = np.concatenate([c.timestamps for c in got["chunks"]])
    raw = np.concatenate([c.raw_timestamps for c in got["chunks"]])
    assert len(ts) > 0.2 * source.info.sfreq
    assert abs(ts[-1] - pylsl.local_clock()) < 0.5 and abs(raw[-1] - pylsl.local_clock()) < 0.5
    said = [n for n in got["notices"] if "clock" in n]
    assert len(said) == 1 and f"{step:+.2f} s" in said[0] and got["gaps"] == 0


def test_a_thread_descheduled_between_the_two_clocks_reads_no_step(source, monkeypatch) -> None:
    """On a busy machine the reading thread can lose the processor between reading LSL's clock and the system
    clock: that must not read as a step of the system clock (the samples would be moved by the delay)."""
    real_time, late = time.time, {"once": True}

    def descheduled():
        if late.pop("once", False):
            time.sleep(0.15)
        return real_time()

    _read_for(source, 0.2)
    monkeypatch.setattr(time, "time", descheduled)
    got = _read_all(source, 0.3)
    assert not late and not [n for n in got["notices"] if "clock" in n]


def _synthetic_board_file(path, n: int, markers: dict[int, float] | None = None):
    """n rows of the synthetic board (-1) as BrainFlow's playback board reads them: a sample a line, tab
    separated, the package counter in row 0, 16 EEG channels of noise, stamps at 250 Hz from now in row 30, and
    `markers` ({line: value}) in its marker channel, row 31."""
    rows = np.zeros((n, 32))
    rows[:, 0] = np.arange(n) % 256
    rows[:, 1:17] = np.random.default_rng(0).normal(0, 10, (n, 16))
    rows[:, 30] = time.time() + np.arange(n) / 250
    for line, value in (markers or {}).items():
        rows[line, 31] = value
    np.savetxt(path, rows, delimiter="\t", fmt="%.6f")
    return path


def test_a_playback_sends_its_recordings_markers_on_their_samples(tmp_path) -> None:
    """BrainFlow's playback sends the marker channel empty: a recording's markers were lost without a word, and a
    playback session never decoded an epoch. They are put back on the samples they were recorded on, counting
    only the lines BrainFlow plays (a heading line and a line of another length are skipped, by it and here)."""
    path = _synthetic_board_file(tmp_path / "marked.csv", 100, {10: 3, 60: 2.5})
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("time\tFz\n" + "".join(lines[:30]) + "1\t2\n" + "".join(lines[30:]))
    recorded = np.loadtxt(tmp_path / "marked.csv", delimiter="\t", skiprows=1, usecols=range(1, 17),
                          max_rows=30)[10] * 1e-6
    src = BrainFlowSource(board_id=-3, params={"master_board": -1, "file": str(path)})
    src.start()
    try:
        got = {"chunks": [], "markers": []}
        t_end = time.monotonic() + 5.0  # 0.4 s of samples; a slow host starts the playback late
        while sum(len(c.timestamps) for c in got["chunks"]) < 100 and time.monotonic() < t_end:
            r = src.read(timeout=0.05)
            got["chunks"] += r.chunks
            got["markers"] += r.markers
    finally:
        src.stop()
    ts = np.concatenate([c.timestamps for c in got["chunks"]])
    eeg = np.concatenate([c.samples for c in got["chunks"]])
    assert len(ts) == 100 and [m.payload for m in got["markers"]] == ["3", "2.5"]
    first = int(np.flatnonzero(ts == got["markers"][0].timestamp)[0])
    assert first == 10 and np.allclose(eeg[first], recorded, atol=1e-11)
    assert ts[60] == got["markers"][1].timestamp


def test_a_playback_of_a_board_recording_is_described_by_its_master_board(tmp_path) -> None:
    """BrainFlow's playback board (-3) streams a recording of another board, whose rows and rate it has: asked
    for its own, BrainFlow has none, and the session was refused with "BrainFlow does not support board id -3".
    --master-board names the recorded board; without it, one line says so."""
    from eegviz.cli import build_parser
    from eegviz.sources.brainflow_params import brainflow_params

    args = build_parser().parse_args(["live", "--board", "-3", "--master-board", "-1", "--board-file", "r.csv"])
    assert brainflow_params(vars(args)) == {"master_board": -1, "file": "r.csv"}
    with pytest.raises(EegvizError, match="--master-board") as err:
        BrainFlowSource(board_id=-3, params={"file": "r.csv"})
    assert "\n" not in str(err.value)
    path = _synthetic_board_file(tmp_path / "synthetic.csv", 500)  # 2 s
    src = BrainFlowSource(board_id=-3, params={"master_board": -1, "file": str(path)})
    src.start()
    try:
        assert src.info.sfreq == 250 and src.info.n_channels == 16 and src.info.ch_names[0] == "Fz"
        chunks, _ = _read_for(src, 1.0)
        assert sum(len(c.timestamps) for c in chunks) > 100
    finally:
        src.stop()


def test_a_playback_ends_when_its_file_is_played_and_its_pauses_are_not_a_board_switched_off(tmp_path,
                                                                                             monkeypatch) -> None:
    """BrainFlow's playback sends nothing once its file is played: the session waited for ever, told the board
    had fallen silent ("its file played to its end?"). It ends as a replay does, with the read that delivers the
    file's last sample; a pause within the recording (BrainFlow plays its stamps' gaps) is said as one, not as a
    board switched off or out of range."""
    import eegviz.sources.brainflow as bf

    monkeypatch.setattr(bf, "SILENT_S", 0.3)
    path = _synthetic_board_file(tmp_path / "paused.csv", 50)  # 0.2 s, with a pause of 0.5 s after line 25
    rows = np.loadtxt(path, delimiter="\t")
    rows[25:, 30] += 0.5
    np.savetxt(path, rows, delimiter="\t", fmt="%.6f")
    src = BrainFlowSource(board_id=-3, params={"master_board": -1, "file": str(path)})
    src.start()
    try:
        n, said, t_end = 0, [], time.monotonic() + 5.0
        while time.monotonic() < t_end:
            r = src.read(timeout=0.05)
            n += sum(len(c.timestamps) for c in r.chunks)
            said += [note for note in r.notices if "no samples" in note]
            if r.finished:
                break
    finally:
        src.stop()
    assert r.finished and n == 50
    assert len(said) == 1 and "a pause in the recording" in said[0] and "switched off" not in said[0]


def test_a_board_at_another_rate_than_brainflow_describes_ends_the_session_in_one_line(monkeypatch) -> None:
    """BrainFlow describes each board by its default rate; a board set to another (here a quarter of it: every
    fourth sample comes) had every epoch cut at the wrong length without a word, where an LSL stream whose rate
    its samples contradict ends the session with one line."""
    import eegviz.sources.brainflow as bf

    monkeypatch.setattr(bf, "RATE_CHECK_S", 1.0, raising=False)
    src = BrainFlowSource()
    src.start()
    try:
        real = src.board.get_board_data
        kept = {"n": 0}

        def quarter():
            data = real()
            keep = (kept["n"] + np.arange(data.shape[1])) % 4 == 0
            kept["n"] += data.shape[1]
            return data[:, keep]

        src.board.get_board_data = quarter
        with pytest.raises(EegvizError) as err:
            _read_for(src, 5.0)
        assert "\n" not in str(err.value) and "250 Hz" in str(err.value) and "another rate" in str(err.value)
    finally:
        src.stop()


@pytest.mark.usefixtures("one_answer_each")
def test_a_marker_stream_of_several_channels_is_said_to_be_read_by_its_first() -> None:
    """A stimulus program's [image id, condition]: the first channel is the id, and the rest is not kept; an LSL
    session says so, a board session took the first channel without a word."""
    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 2, 0, pylsl.cf_string, name))
    src = BrainFlowSource(marker_lsl_name=name)
    src.start()
    try:
        notices = _read_all(src, 0.2)["notices"]
        assert [n for n in notices if name in n and "2 channels" in n and "first" in n]
    finally:
        src.stop()
        del outlet


def test_two_marker_streams_of_the_name_given_are_said_with_the_one_taken() -> None:
    """Two stimulus programs publishing one marker stream name (a second copy left running): one is taken, and an
    LSL session says which and how to choose; a board session took one without a word (the notice was dropped)."""
    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, f"{name}-{i}"))
               for i in range(2)]
    src = BrainFlowSource(marker_lsl_name=name)
    src.start()
    try:
        notices = src.read().notices
    finally:
        src.stop()
        del outlets
    said = [n for n in notices if n.startswith("2 LSL marker streams fit")]
    assert len(said) == 1 and f"'{name}-0'" in said[0] and "stop the others" in said[0], notices


@pytest.mark.usefixtures("one_answer_each")
def test_a_marker_stream_restarted_during_the_warm_up_is_found_again() -> None:
    """The stimulus program restarted between open() and start() (the model warms up in between; a PsychoPy script
    makes a new outlet each run): the inlet open() made was bound to the old outlet, and the session was refused,
    "did not answer", though the stream was there. It is looked for once more, as the LSL source does."""
    name = f"bf-mk-{uuid.uuid4().hex[:8]}"
    stream = pylsl.StreamInfo(name, "Markers", 1, 0, pylsl.cf_string, name)
    outlet = pylsl.StreamOutlet(stream)
    src = BrainFlowSource(marker_lsl_name=name)
    src.open()
    del outlet
    outlet = pylsl.StreamOutlet(stream)  # the same stream, started again
    try:
        src.start()
        assert _pushed_marker_arrives(src, outlet, 5.0)
    finally:
        src.stop()
        del outlet
