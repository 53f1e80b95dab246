import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.messages import Chunk, Marker, SkipKind
from eegviz.stream.epocher import Epocher, RingBuffer
from eegviz.stream.preprocess import InputSpec, Preprocessor, prepare_epochs
from ten_twenty import MODEL, SOURCE, ten_twenty

CH = ("Oz", "O1", "O2", "Pz")


def _stream(sfreq=250.0, seconds=4.0, t0=100.0):
    n = int(seconds * sfreq)
    t = t0 + np.arange(n) / sfreq
    data = np.zeros((n, len(CH)), np.float32)
    data[:, 0] = (t - t0) * 1e-6  # a ramp on Oz: value tells which sample landed where
    return t, data


def test_epoch_is_cut_at_marker_time_in_marker_clock():
    spec = InputSpec(ch_names=("Oz",), sfreq=250.0, tmin=-0.1, tmax=0.5, baseline=(-0.1, 0.0), scale=1.0)
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    t, data = _stream()
    ep.add_marker(Marker(101.0, "star_001"))
    out = []
    for s in range(0, len(t), 10):
        out += ep.add_chunk(Chunk(data[s : s + 10], t[s : s + 10]))
    assert len(out) == 1 and out[0].epoch is not None
    e = out[0].epoch
    assert e.data.shape == (1, spec.n_times) == (1, 150)
    # ramp minus its baseline mean: at t_marker (index 25) value is 1e-6 * (0 + half a sample) above baseline mean
    ramp = (t[225:375] - 100.0) * 1e-6
    expected = ramp - ramp[:25].mean()
    np.testing.assert_allclose(e.data[0], expected, atol=1e-9)
    assert e.marker.payload == "star_001"


def test_epoch_waits_for_last_sample():
    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    t, data = _stream()
    ep.add_marker(Marker(101.0, "x"))
    end = int((1.0 + 0.5) * 250) - 1  # index of the sample at t_marker + tmax - 1/sfreq
    assert ep.add_chunk(Chunk(data[:end], t[:end])) == []
    got = ep.add_chunk(Chunk(data[end : end + 1], t[end : end + 1]))
    assert len(got) == 1 and got[0].epoch is not None


def test_gap_inside_window_is_reported_not_guessed():
    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    t, data = _stream()
    keep = np.ones(len(t), bool)
    keep[260:300] = False  # 160 ms lost inside the window
    ep.add_marker(Marker(101.0, "x"))
    out = ep.add_chunk(Chunk(data[keep], t[keep]))
    assert len(out) == 1 and out[0].epoch is None and "gap" in out[0].reason


def test_a_window_starting_before_the_first_sample_says_so():
    """The first marker of a live session whose window began before eegviz received anything: skipped as a gap,
    with the reason a user can act on rather than 'falls in a gap'."""
    from eegviz.messages import SkipKind

    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    t, data = _stream()
    ep.add_marker(Marker(100.05, "x"))  # its window starts 50 ms before the stream's first sample
    out = ep.add_chunk(Chunk(data, t))
    assert len(out) == 1 and out[0].kind == SkipKind.GAP and "before the first sample" in out[0].reason



def test_windows_reaching_a_break_are_skipped_as_gaps_and_only_those():
    """A break the source names (a file's pause, a join, a BAD_ span) leaves no hole in the stamps: a window
    across a join, one inside a bad span and one reaching into it are skipped as gaps, naming the break; one
    that starts on the first sample after the join, or ends on the last before the span, is cut."""
    from eegviz.messages import Break, SkipKind

    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    t, data = _stream(seconds=6.0)
    ep.add_break(Break(float(t[249]), float(t[250]), "'BAD boundary' at 101.000 s"))  # a join before sample 250
    ep.add_break(Break(float(t[874]), float(t[1000]), "the span 'BAD_x'"))  # samples 875..999 bad
    marks = {"across": t[260], "after": t[275], "inside": t[950], "into": t[760], "before": t[750]}
    for name, when in marks.items():
        ep.add_marker(Marker(float(when), name))
    out = {r.marker.payload: r for r in ep.add_chunk(Chunk(data, t))}
    assert out["after"].epoch is not None and out["before"].epoch is not None  # windows 250..399 and 725..874
    assert out["across"].kind == SkipKind.GAP and "'BAD boundary' at 101.000 s, a break" in out["across"].reason
    assert out["inside"].kind == out["into"].kind == SkipKind.GAP and "'BAD_x'" in out["into"].reason


@pytest.mark.parametrize("rate", [1000.0, 2048.0])  # 2048: BioSemi's rate, 125/1024 of the model's
def test_resampling_and_channel_mapping_by_name(rate):
    spec = InputSpec(ch_names=("O2", "Oz"), sfreq=250.0, tmin=-0.1, tmax=0.5)
    src_ch = ("oz", "Fz", "o2")
    pre = Preprocessor(spec, src_ch, rate)
    ep = Epocher(pre, src_ch)
    n = int(4 * rate)
    t = 50.0 + np.arange(n) / rate
    data = np.zeros((n, 3), np.float32)
    data[:, 2] = 5e-6 * np.sin(2 * np.pi * 5 * t)  # 5 Hz on O2 survives the resampling
    ep.add_marker(Marker(51.5, "m"))
    out = ep.add_chunk(Chunk(data, t))
    e = out[0].epoch
    assert e.data.shape == (2, 150) and e.ch_names == ("O2", "Oz")
    tt = 51.5 + spec.tmin + np.arange(150) / 250.0
    ref = prepare_epochs(5e-6 * np.sin(2 * np.pi * 5 * tt)[None], spec)[0]
    assert np.corrcoef(e.data[0], ref)[0, 1] > 0.99
    assert np.abs(e.data[1]).max() < 1e-6


@pytest.mark.parametrize("rate", [500.0, 1000.0])
def test_resampled_epoch_starts_at_tmin_as_at_the_model_rate(rate):
    """An impulse at the marker lands on the same model sample as for 250 Hz input, and a ramp through zero at
    the marker crosses zero at that sample: the resampled window used to start half a model sample late."""
    spec = InputSpec(ch_names=("Oz", "Pz"), sfreq=250.0, tmin=-0.1, tmax=0.5, baseline=(-1.0, -0.5), scale=1.0)

    def epoch(sfreq):
        t, data = _stream(sfreq)
        k = int(2 * sfreq)  # the marker sits on the sample at t = 102 s
        data[:, 0] = (t - t[k]) * 1e-3  # no baseline correction (window outside the epoch): the ramp as it was
        data[k, 3] = 1e-4
        ep = Epocher(Preprocessor(spec, CH, sfreq), CH)
        ep.add_marker(Marker(float(t[k]), "m"))
        (res,) = ep.add_chunk(Chunk(data, t))
        return res.epoch.data

    at_model_rate, resampled = epoch(250.0), epoch(rate)
    marker_sample = int(round(-spec.tmin * spec.sfreq))
    assert int(np.argmax(at_model_rate[1])) == marker_sample
    assert int(np.argmax(resampled[1])) == marker_sample
    mid = np.arange(10, 140)  # away from the resampling filter's edges
    slope, icept = np.polyfit(mid, resampled[0][mid], 1)
    assert abs(-icept / slope - marker_sample) < 0.02

@pytest.mark.parametrize("rate", [0.0, float("inf"), float("nan")])
def test_a_stream_without_a_regular_rate_is_one_line(rate):
    """An XDF header's nominal_srate is text: 'inf' was a NaN-to-integer traceback (found by review)."""
    with pytest.raises(EegvizError, match="no regular sampling rate"):
        Preprocessor(InputSpec(ch_names=("Oz",), sfreq=250.0), CH, rate)


def test_a_rate_too_low_for_an_epoch_is_one_line_and_dejitter_takes_it():
    """--sfreq 0.5 on a CSV replay was a broadcast traceback in the dejitter line (found by review)."""
    from eegviz.stream.dejitter import dejitter_recording

    with pytest.raises(EegvizError, match="0.5 Hz, gives fewer than 2 samples per 0.7 s epoch"):
        Preprocessor(InputSpec(ch_names=("Oz",), sfreq=250.0), CH, 0.5)
    stamps = 100 + np.arange(20) * 2.0  # 0.5 Hz
    np.testing.assert_allclose(dejitter_recording(stamps, 0.5), stamps)


def test_missing_channels_and_nan_are_clear_errors():
    spec = InputSpec(ch_names=("Oz", "Iz"), sfreq=250.0)
    with pytest.raises(EegvizError, match="lacks 1 of the model's 2 channels"):
        Preprocessor(spec, CH, 250.0)
    pre = Preprocessor(InputSpec(ch_names=("Oz",), sfreq=250.0), CH, 250.0)
    bad = np.zeros((4, 175))
    bad[0, 3] = np.nan
    with pytest.raises(EegvizError, match="NaN"):
        pre(bad)


def test_ring_buffer_wraps_and_keeps_latest():
    rb = RingBuffer(1, 100)
    t = np.arange(250) / 100.0
    rb.append(np.arange(250, dtype=np.float32)[:, None], t)
    w = rb.window(t[200], 10, 100.0)
    np.testing.assert_array_equal(w[0], np.arange(200, 210))
    assert rb.window(t[100], 10, 100.0) is None  # overwritten
    # the seconds judged for dead electrodes: the n held up to a stamp, that one included, every step-th back from it
    np.testing.assert_array_equal(rb.last(t[240], 91, step=8)[0], np.arange(152, 241, 8))
    np.testing.assert_array_equal(rb.last(t[240], 91)[0], np.arange(150, 241))
    assert rb.last(t[240], 92) is None  # 150 .. 240 only are held


def test_a_few_lost_samples_inside_the_window_are_a_gap_at_any_true_rate():
    """Two samples lost inside a 0.6 s window at 250 Hz: the old span rule (5 % and two periods to spare) cut it
    and put every sample after the hole 8 ms early; a sender 3 % off its nominal rate (cheap boards) is no gap."""
    from eegviz.messages import SkipKind

    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    t, data = _stream()
    keep = np.ones(len(t), bool)
    keep[300:302] = False  # 8 ms lost, 0.2 s after the marker
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    ep.add_marker(Marker(101.0, "x"))
    out = ep.add_chunk(Chunk(data[keep], t[keep])) + ep.poll(flush=True)
    assert len(out) == 1 and out[0].epoch is None and out[0].kind == SkipKind.GAP and "gap" in out[0].reason
    slow = 100.0 + np.arange(len(t)) / (250.0 * 0.97)  # the sender's true rate 3 % below its nominal 250 Hz
    ep = Epocher(Preprocessor(spec, CH, 250.0), CH)
    ep.add_marker(Marker(float(slow[250]), "x"))
    out = ep.add_chunk(Chunk(data, slow)) + ep.poll(flush=True)
    assert len(out) == 1 and out[0].epoch is not None


def test_stamps_that_wobble_cut_at_the_nearest_sample_never_a_gap():
    """Stamps not dejittered (sd 0.5 ms at 250 Hz): where no sample lies within half a period of marker + tmin,
    the window starts at the nearest one within a period; such markers used to be skipped for good as a gap."""
    from eegviz.messages import SkipKind

    sf = 250.0
    spec = InputSpec(ch_names=CH, sfreq=sf, tmin=-0.1, tmax=0.5, baseline=(-1.0, -0.5), scale=1.0)  # data as is
    rng = np.random.default_rng(3)
    t, data = _stream(sfreq=sf, seconds=60.0)
    stamps = np.sort(t + rng.normal(0, 0.5e-3, len(t)))
    data[:, 1] = np.arange(len(t)) * 1e-6  # O1 holds the sample number
    marks = list(range(100, len(t) - 200, 77))
    ep = Epocher(Preprocessor(spec, CH, sf), CH)
    at = {s: float(t[s] + rng.uniform(-0.5, 0.5) / sf) for s in marks}  # anywhere within its sample's period
    for s in marks:
        ep.add_marker(Marker(at[s], str(s)))
    out = []
    for a in range(0, len(t), 5):
        out += ep.add_chunk(Chunk(data[a : a + 5], stamps[a : a + 5]))
    out += ep.poll(flush=True)
    assert len(out) == len(marks) and not [r for r in out if r.kind is SkipKind.GAP]
    starts = {int(r.marker.payload): int(round(r.epoch.data[1, 0] * 1e6)) for r in out}
    for s, k in starts.items():
        assert abs(stamps[k] - (at[s] - 0.1)) <= 1.0 / sf  # the nearest sample, never a period off


def test_window_is_the_nearest_sample_and_refuses_a_lost_start():
    """The rule shared with training data (eegviz.stream.epocher.find_window, used by eegviz.data.xdf_dataset):
    the sample nearest t0 when none lies within half a period, and no window where t0's own sample was lost
    (its neighbours a period away either side)."""
    sf = 100.0
    t = np.arange(50) / sf
    late = t.copy()
    late[20] += 0.6 / sf  # one stamp late by 0.6 period: the old rule found nothing within half a period
    for stamps, want in ((t, 20), (late, 20), (np.delete(t, 20), None)):
        rb = RingBuffer(1, 100)
        rb.append(np.arange(len(stamps), dtype=np.float32)[:, None], stamps)
        w = rb.window(t[20], 10, sf)
        assert (None if w is None else int(w[0, 0])) == want


@pytest.mark.parametrize("late_ms, chunks_late", [(8.0, 1), (60.0, 6)], ids=["one-late-chunk", "60-ms-stall"])
def test_late_chunks_and_stalls_cost_no_epoch_live(late_ms, chunks_late):
    """A sender's chunk pushed late (a scheduler hiccup), or a stall whose chunks are pushed together at its end,
    loses no sample: through the live line (Dejitter.follow) and the Epocher every epoch is cut. The held
    samples used to be stamped where they arrived, off the line, which the epocher took for a hole."""
    from eegviz.stream.dejitter import Dejitter

    sf, rng = 500.0, np.random.default_rng(1)
    ch = tuple(f"E{i}" for i in range(4))
    n = int(24 * sf)
    t = 10 + np.arange(n) / sf
    stamps, pushed = np.empty(n), np.empty(n)
    for a in range(0, n, 10):
        push = t[a + 9] + 0.002 + abs(rng.normal(0, 3e-4))
        if int(12 * sf) <= a < int(12 * sf) + 10 * chunks_late:  # late, or held back until the stall ends
            push = max(push, t[int(12 * sf) + 10 * chunks_late - 1] + 0.002) + late_ms / 1e3 * (chunks_late == 1)
        pushed[a : a + 10] = push
        stamps[a : a + 10] = push - (9 - np.arange(10)) / sf  # liblsl: stamped at the push, back-dated
    spec = InputSpec(ch_names=ch, sfreq=250.0, tmin=-0.2, tmax=0.8, baseline=(-0.2, 0.0))
    ep, line = Epocher(Preprocessor(spec, ch, sf), ch), Dejitter(sf)
    marks, results, a = list(np.arange(11.0, 32.0, 0.25)), [], 0
    for now in np.arange(pushed[0], pushed[-1] + 0.01, 0.01):  # pulled every 10 ms
        while marks and marks[0] < now:
            ep.add_marker(Marker(float(marks.pop(0)), "m"))
        b = int(np.searchsorted(pushed, now, side="right"))
        if b > a:
            s, lost = line.follow(stamps[a:b])
            assert not lost
            results += ep.add_chunk(Chunk(np.zeros((b - a, 4), np.float32), s))
            a = b
    results += ep.poll(flush=True)
    cut = [r for r in results if r.epoch is not None]
    assert not [r.reason for r in results if r.epoch is None and "gap" in str(r.reason)]
    assert len(cut) >= 80  # markers from 11 s to 31.75 s whose windows lie inside the 10-34 s stream


def _clock_epocher():
    spec = InputSpec(ch_names=CH, sfreq=250.0, tmin=-0.1, tmax=0.5)
    return Epocher(Preprocessor(spec, CH, 250.0), CH)


@pytest.mark.parametrize("stamp", [1.7e9 + 101.0, 1.0])  # time.time() (Unix seconds); seconds since its start
def test_a_marker_in_another_clock_is_skipped_as_such_with_one_warning(stamp, caplog):
    """A sender that stamps its markers with time.time() instead of LSL's local_clock: the Epocher waited for
    EEG at 1.7e9 s for ever, and every marker ended "stopped" by --duration with exit 0; a marker stamped
    in its own seconds (1.0 against the EEG's 100 s + 5000 s uptime) was "a gap". Now each is skipped as in
    another clock, and one warning names the offset."""
    import logging

    from eegviz.messages import SkipKind

    ep = _clock_epocher()
    t, data = _stream(t0=5100.0)
    out = ep.add_chunk(Chunk(data[:500], t[:500]))
    ep.add_marker(Marker(stamp, "a"))
    ep.add_marker(Marker(stamp + 1.0, "b"))
    with caplog.at_level(logging.WARNING, logger="eegviz.stream.epocher"):
        out += ep.add_chunk(Chunk(data[500:], t[500:]))
    assert [r.kind for r in out] == [SkipKind.CLOCK] * 2 and not ep.pending
    assert "another clock" in out[0].reason and f"{stamp - t[-1]:+.0f}"[:6] in out[0].reason
    warned = [r for r in caplog.records if "another clock" in r.getMessage()]
    assert len(warned) == 1 and "'a'" in warned[0].getMessage()
    assert ep.poll(flush=True, ended=True) == []


def test_markers_ahead_of_their_eeg_or_during_a_stall_are_not_another_clock():
    """What a live session sees in the same clock: a marker stamped before its EEG arrives (mne-lsl's player,
    LabRecorder-style senders push markers ahead of the EEG's chunks), a marker sent 90 s into an EEG stall
    (its stamp is 90 s past the newest sample, but so is the clock: the wall time since that sample came), and
    one sent 90 s before a late-started amplifier's first sample: each is cut, or skipped as before, never
    taken for another clock."""
    from eegviz.messages import SkipKind

    ep = _clock_epocher()
    t, data = _stream(seconds=200.0)
    ep.add_marker(Marker(101.0, "ahead"))  # arrives before any EEG, then 1 s before its window's end
    out = ep.add_chunk(Chunk(data[:100], t[:100]))
    out += ep.add_chunk(Chunk(data[100:1000], t[100:1000]))  # EEG to 104 s
    assert [(r.marker.payload, r.epoch is not None) for r in out] == [("ahead", True)]
    ep.latest_wall -= 90.0  # the EEG stalls for 90 s; a marker stamped now, in the EEG's clock
    ep.add_marker(Marker(194.0, "stall"))
    assert ep.add_chunk(Chunk(data[1000:1000], t[1000:1000])) == [] and len(ep.pending) == 1
    out = ep.add_chunk(Chunk(data[23250:24000], t[23250:24000]))  # it comes back at 193 s
    assert [(r.marker.payload, r.epoch is not None) for r in out] == [("stall", True)]

    late = _clock_epocher()
    late.add_marker(Marker(10.0, "early"))
    late.pending[0] = (late.pending[0][0], late.pending[0][1] - 90.0)  # came 90 s before the first sample
    (r,) = late.add_chunk(Chunk(data[:1000], t[:1000]))
    assert r.kind is SkipKind.GAP and "before the first sample" in r.reason


def test_markers_whose_eeg_stopped_coming_are_not_said_to_be_cut_short_by_the_stop(monkeypatch):
    """An LSL outlet that vanished (or came back with other channels, which is waited out) leaves the markers sent
    meanwhile without EEG. When the session stopped they were "cut short by the stop" (skip "stopped"), and a
    --duration session whose amplifier was gone exited 0 as if only its end had come. Now a window the EEG never
    came for, the EEG silent for over STALLED_S, is a gap naming the silence; one the stop came before is still
    "stopped"."""
    from eegviz.messages import SkipKind
    from eegviz.stream import epocher as epocher_mod

    ep = _clock_epocher()
    t, data = _stream()
    ep.add_chunk(Chunk(data[:500], t[:500]))  # up to 102 s
    ep.add_marker(Marker(101.8, "before-the-loss"))  # its window ends after the last sample that came
    ep.add_marker(Marker(105.0, "during-the-loss"))
    assert ep.poll() == []
    now = ep.latest_wall + 8.0  # nothing came for 8 s
    monkeypatch.setattr(epocher_mod.time, "perf_counter", lambda: now)
    out = ep.poll(flush=True, ended=True)
    assert [r.kind for r in out] == [SkipKind.GAP, SkipKind.GAP]
    assert all("no EEG sample arrived in the 8.0 s before the session stopped" in r.reason for r in out)

    fresh = _clock_epocher()  # the EEG flowing to the end (a sender's blocks 3 s apart): the stop cut it short
    fresh.add_chunk(Chunk(data[:500], t[:500]))
    now = fresh.latest_wall + 3.0
    fresh.add_marker(Marker(101.8, "cut-short"))
    assert [(r.kind, r.reason) for r in fresh.poll(flush=True, ended=True)] == [
        (SkipKind.STOPPED, "session stopped before the epoch window was complete")]


def test_markers_of_an_eeg_stream_that_never_sent_a_sample_are_a_gap(monkeypatch):
    from eegviz.messages import SkipKind
    from eegviz.stream import epocher as epocher_mod

    ep = _clock_epocher()
    ep.add_marker(Marker(101.0, "a"))
    now = ep.started + 6.0
    monkeypatch.setattr(epocher_mod.time, "perf_counter", lambda: now)
    (r,) = ep.poll(flush=True, ended=True)
    assert r.kind == SkipKind.GAP and "no EEG sample arrived in the 6.0 s" in r.reason


def test_electrodes_dead_at_the_start_are_marked_bad_and_interpolated(caplog):
    """An electrode streaming NaN (disconnected) made every epoch be skipped for NaN, a flat or railed one was fed
    to the model and spread into the channels interpolated from it, without a word. From the EEG held before the
    first epoch they are marked bad, the model's channels they fed interpolated from the others, and one line
    names them and why."""
    model, source = MODEL, SOURCE
    spec, t, data = ten_twenty(150)
    data[:, source.index("C3")] = np.nan  # disconnected
    data[:, source.index("Cz")] = 0.0  # flat: feeds only interpolation
    data[20:, source.index("O2")] = 0.1875  # railed at a Cyton's +187.5 mV after a moment
    notices = []
    ep = Epocher(Preprocessor(spec, source, 100.0), source, check_electrodes=True, on_notice=notices.append)
    ep.add_marker(Marker(50.5, "x"))
    with caplog.at_level("WARNING"):
        out = ep.add_chunk(Chunk(data, t))
    assert len(out) == 1 and out[0].epoch is not None and np.isfinite(out[0].epoch.data).all()
    assert ep.pre.channel_map.replaced == ("C3", "O2")
    assert notices == [r.getMessage() for r in caplog.records if "dead" in r.getMessage()] and len(notices) == 1
    assert notices[0].startswith("montage: electrodes marked bad, as they look dead in the first 1.5 s of EEG: "
                                 "C3 (no finite sample, NaN/inf), O2 (railed, 87% of samples at 187.5 mV), "
                                 "Cz (flat, 0.00 uV peak to peak); the model's C3, O2 are interpolated from the "
                                 "other 8 electrodes")
    unplaced = InputSpec(ch_names=model, sfreq=100.0, tmin=-0.1, tmax=0.4, montage=None)  # nowhere to interpolate
    ep = Epocher(Preprocessor(unplaced, source, 100.0), source, check_electrodes=True, on_notice=notices.append)
    ep.add_marker(Marker(50.5, "x"))
    assert ep.add_chunk(Chunk(data, t))[0].kind == SkipKind.NAN  # C3's NaN, as before
    assert notices[-1].endswith("; the model records no montage to interpolate its channels on, so they are used as "
                                "they are")


def test_an_electrode_that_disconnects_mid_session_is_marked_bad_from_its_first_nan_window():
    """An electrode that came off after the start streamed NaN, and every later epoch was skipped for it, to the
    end of the session. Once its NaN fills a whole epoch's window while the others are finite, it is marked bad
    from there on and interpolated, and that epoch and the later ones are decoded."""
    source = SOURCE
    spec, t, data = ten_twenty(600)
    data[300:, source.index("C3")] = np.nan  # off at 53 s
    notices = []
    ep = Epocher(Preprocessor(spec, source, 100.0), source, check_electrodes=True, on_notice=notices.append)
    for m in (Marker(51.0, "a"), Marker(53.5, "b"), Marker(54.5, "c")):
        ep.add_marker(m)
    out = [r for s in range(0, len(t), 50) for r in ep.add_chunk(Chunk(data[s:s + 50], t[s:s + 50]))]
    assert [r.epoch is not None and np.isfinite(r.epoch.data).all() for r in out] == [True, True, True]
    assert notices == ["montage: electrodes marked bad, as they look dead through the window of marker 'b' (at "
                       "53.500 s), from there on: C3 (no finite sample, NaN/inf); the model's C3 is interpolated "
                       "from the other 10 electrodes"]
    data[:200] = 0.0  # an amplifier that sends zeros before it acquires: every electrode "dead", none marked
    notices.clear()
    ep = Epocher(Preprocessor(spec, source, 100.0), source, check_electrodes=True, on_notice=notices.append)
    ep.add_marker(Marker(53.5, "b"))
    out = [r for s in range(0, len(t), 50) for r in ep.add_chunk(Chunk(data[s:s + 50], t[s:s + 50]))]
    assert out[0].epoch is not None and len(notices) == 2 and "C3 (no finite sample" in notices[1]


def test_the_line_of_a_later_marking_names_only_the_channels_it_made_interpolated():
    """An electrode marked bad after others (--bads, or dead at the start) was said with every model channel
    interpolated so far, the earlier ones' included, as if it had replaced them; it names its own now."""
    source = SOURCE
    spec, t, data = ten_twenty(400)
    data[:, source.index("C3")] = np.nan  # dead from the start
    data[:, source.index("Cz")] = 0.0  # dead from the start, no model channel in its place
    notices = []
    ep = Epocher(Preprocessor(spec, source, 100.0, bads=("Pz",)), source, check_electrodes=True,
                 on_notice=notices.append)
    ep.add_marker(Marker(52.5, "a"))
    assert ep.add_chunk(Chunk(data, t))[0].epoch is not None
    assert notices[0].endswith("; the model's C3 is interpolated from the other 8 electrodes")  # Pz is --bads'


def test_an_epoch_skipped_for_nan_names_the_electrodes_that_held_them():
    """The marker's line (results.jsonl, report.html) said only how many samples held NaN/inf: a lab reading it later
    could not tell which electrode to fix or name with --bads. It names them, those the model's channels use."""
    t, data = _stream()
    data[:, 2] = 1e-6 * np.sin(t)  # O2 and Pz live, O1 (not the model's) NaN throughout: no matter
    data[:, 1] = np.nan
    data[(t > 100.9) & (t < 101.0), 3] = np.nan  # a short dropout in Pz
    pre = Preprocessor(InputSpec(ch_names=("Oz", "O2", "Pz"), sfreq=250.0, tmin=-0.1, tmax=0.5), CH, 250.0)
    ep = Epocher(pre, CH)
    ep.add_marker(Marker(101.0, "x"))
    (r,) = ep.add_chunk(Chunk(data, t))
    assert r.kind == SkipKind.NAN and r.reason.endswith(" samples, in Pz (kept in the recording, not decoded)")


def _marked_mid_session(data, t, markers, **kw):
    """(the results, the notices, the on_bads records) of the 10-20 world's EEG streamed in 0.5 s chunks."""
    notices, records = [], []
    ep = Epocher(Preprocessor(ten_twenty(1)[0], SOURCE, 100.0), SOURCE, check_electrodes=True,
                 on_notice=notices.append, on_bads=records.append, **kw)
    for m in markers:
        ep.add_marker(Marker(m, f"m{m:g}"))
    out = [r for s in range(0, len(t), 50) for r in ep.add_chunk(Chunk(data[s:s + 50], t[s:s + 50]))]
    return ep, out, notices, records


def test_an_electrode_that_goes_flat_or_rails_mid_session_is_marked_bad_from_the_epoch_it_is_found_at(caplog):
    """Only NaN was judged after the first seconds: an electrode that came off later and went flat (an amplifier
    that zeroes it) or railed was fed to the model, and into every channel interpolated from it, to the end of the
    session. Judged over the 5 s up to each epoch's end by the rule of the first seconds, it is marked bad from the
    epoch where it looks dead, said and recorded as the other markings are; a 2 s clip is not."""
    spec, t, data = ten_twenty(1400)  # 50 .. 64 s
    data[200:400, SOURCE.index("Fp1")] = 0.1875  # a 2 s clip at a Cyton's rail (52 .. 54 s): 40% of 5 s, kept
    data[600:, SOURCE.index("O2")] = 0.1875  # railed from 56 s: half of the 5 s up to an epoch's end by 58.49 s
    data[700:, SOURCE.index("C4")] = 0.0  # zeroed from 57 s: all of the 5 s by an epoch ending at 62 s
    markers = np.arange(51.0, 63.5, 0.5)
    with caplog.at_level("WARNING"):
        ep, out, notices, records = _marked_mid_session(data, t, markers)
    assert [r.marker.timestamp for r in out] == list(markers) and all(r.epoch is not None for r in out)
    assert notices == [r.getMessage() for r in caplog.records if "dead" in r.getMessage()] == [
        "montage: electrodes marked bad, as they look dead in the 5 s of EEG through the window of marker 'm58.5' "
        "(at 58.500 s), from there on: O2 (railed, 58% of samples at 187.5 mV); the model's O2 is interpolated from "
        "the other 10 electrodes",
        "montage: electrodes marked bad, as they look dead in the 5 s of EEG through the window of marker 'm62' "
        "(at 62.000 s), from there on: C4 (flat, 0.00 uV peak to peak); the model's C4 is interpolated from the "
        "other 9 electrodes"]
    assert records == [  # session.json's "bads"
        {"electrodes": {"O2": "railed, 58% of samples at 187.5 mV"}, "from": {"marker": "m58.5", "t_marker": 58.5},
         "replaced": ["O2"]},
        {"electrodes": {"C4": "flat, 0.00 uV peak to peak"}, "from": {"marker": "m62", "t_marker": 62.0},
         "replaced": ["C4"]}]
    assert ep.pre.channel_map.replaced == ("C4", "O2")

    def decoded(m, bads=()):  # the epoch of marker m as a Preprocessor leaving out `bads` makes it
        s = int(round((m - 0.1 - 50.0) * 100))
        return Preprocessor(spec, SOURCE, 100.0, bads=bads)(data[s:s + 50].T)
    by_marker = {r.marker.timestamp: r.epoch.data for r in out}
    np.testing.assert_allclose(by_marker[58.0], decoded(58.0), atol=1e-6)  # O2 as it came, up to its marking
    np.testing.assert_allclose(by_marker[58.5], decoded(58.5, ("O2",)), atol=1e-6)  # interpolated from there
    np.testing.assert_allclose(by_marker[61.5], decoded(61.5, ("O2",)), atol=1e-6)
    np.testing.assert_allclose(by_marker[62.0], decoded(62.0, ("O2", "C4")), atol=1e-6)


def test_every_electrode_going_flat_mid_session_is_the_amplifier_and_marks_none():
    """An amplifier that stops acquiring (or zero-fills what it lost) zeroes every electrode at once: that is no
    electrode come off, and marking them all would leave nothing to interpolate from. None is marked, nor said."""
    _, t, data = ten_twenty(1400)
    data[500:] = 0.0
    ep, out, notices, records = _marked_mid_session(data, t, np.arange(51.0, 63.5, 0.5))
    assert len(out) == 25 and notices == records == [] and ep.pre.channel_map.replaced == ()


def test_healthy_eeg_marks_no_electrode_bad_mid_session():
    """The mid-session judgment must not fire on EEG: 30 s of the realistic simulator's 128 channels (1/f
    background, alpha, blinks, EMG bursts, mains), each on a DC offset of up to 30 mV as DC-coupled amplifiers
    give, in a 14-bit headset's coarse 0.51 uV steps (where the EEG's extremes could tie), with an epoch every
    0.75 s: every epoch decoded, no electrode marked."""
    import dataclasses

    from eegviz.world.artefacts import add_continuous_artefacts, line_topography
    from eegviz.world.eeg_sim import EEGSimulator
    from eegviz.world.sim_config import REALISTIC

    config = dataclasses.replace(REALISTIC, class_snr_db=None)
    sim, rng, sfreq = EEGSimulator(config=config), np.random.default_rng(5), 250.0
    x = sim.background(int(30 * sfreq), rng)
    counts = add_continuous_artefacts(x, config, sim.ch_names, sfreq, 0.0, 1 / 0.75, rng, line_topography(128, rng))
    assert counts == {"blinks": 2, "emg_bursts": 1}  # the biggest swings healthy EEG makes
    x = x + rng.uniform(-0.03, 0.03, (len(x), 1)).astype(np.float32)
    data = (np.round(x / 0.51e-6) * 0.51e-6).T.astype(np.float32)
    t = 1000.0 + np.arange(len(data)) / sfreq
    spec = InputSpec(ch_names=sim.ch_names[::8], sfreq=sfreq, tmin=-0.1, tmax=0.5, montage="biosemi128")
    notices, records = [], []
    ep = Epocher(Preprocessor(spec, sim.ch_names, sfreq), sim.ch_names, check_electrodes=True,
                 on_notice=notices.append, on_bads=records.append)
    markers = np.arange(1001.0, 1029.0, 0.75)
    for m in markers:
        ep.add_marker(Marker(m, "x"))
    out = [r for s in range(0, len(t), 25) for r in ep.add_chunk(Chunk(data[s:s + 25], t[s:s + 25]))]
    assert len(out) == len(markers) and all(r.epoch is not None for r in out)
    assert notices == records == [] and ep.pre.channel_map.replaced == ()
