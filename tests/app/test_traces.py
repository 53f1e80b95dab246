"""TraceBuffer and TraceView through the window, offscreen: ring buffer, throttled refresh, markers, scale bar."""

import numpy as np
from app_fakes import SFREQ, make_chunk

from eegviz.messages import Marker


def test_traces_fill_ring_buffer_and_cap_at_window(window):
    assert len(window.traces.curves) == 16
    window.on_chunk(make_chunk(0.0, 30))
    window.traces.refresh()
    x, y = window.traces.curves[0].getData()
    assert len(x) == 30 and len(y) == 30
    for k in range(1, 80):  # 80 * 10 samples = 8 s > the 5 s window
        window.on_chunk(make_chunk(0.3 + k * 0.1, 10))
    window.traces.refresh()
    x, _ = window.traces.curves[0].getData()
    assert len(x) == int(5 * SFREQ)
    assert np.all(np.diff(x) > 0)  # time order survives the wrap-around


def test_refresh_is_throttled_not_per_chunk(window, qtbot):
    window.on_chunk(make_chunk(0.0, 10))
    assert window.traces.curves[0].getData()[0] is None or len(window.traces.curves[0].getData()[0]) == 0
    qtbot.waitUntil(lambda: window.traces.curves[0].getData()[0] is not None
                    and len(window.traces.curves[0].getData()[0]) == 10, timeout=1000)


def test_marker_lines_added_and_pruned(window):
    window.on_chunk(make_chunk(0.0, 50))
    for i in range(3):
        window.on_marker(Marker(timestamp=0.1 * i, payload=f"m{i}"))
    window.traces.refresh()
    assert len(window.traces.marker_lines) == 3
    assert window.traces.marker_lines[1].label.format == "m1"
    window.on_chunk(make_chunk(10.0, 10))  # marker times now far outside the last 5 s
    window.traces.refresh()
    assert len(window.traces.marker_lines) == 0


def test_time_axis_starts_at_the_session_and_has_a_microvolt_scale_bar(window):
    window.on_chunk(make_chunk(5000.0, 100))  # an LSL clock far from zero
    window.on_marker(Marker(timestamp=5000.5, payload="m"))
    window.traces.refresh()
    x, _ = window.traces.curves[0].getData()
    assert x[0] == 0.0 and abs(x[-1] - 0.99) < 1e-9
    assert abs(window.traces.marker_lines[0].value() - 0.5) < 1e-9
    # traces are 10 uV noise: one trace spacing is 6 standard deviations (60 uV); the bar is a 1-2-5 value below
    assert window.traces.scale_uv == 20.0 or window.traces.scale_uv == 50.0
    assert window.traces.scale_text.toPlainText() == f"{window.traces.scale_uv:g} µV"
    bx, by = window.traces.scale_bar.getData()
    spacing_uv = 1 / (by[1] - by[0]) * window.traces.scale_uv
    assert 40 < spacing_uv < 80


def test_a_new_stream_starts_the_time_axis_over(window):
    """Cleared for a new session (the window's Start), the plot kept the last session's time axis ("27 ... 31.5 s
    since the session started") over no traces until the new session's first chunk."""
    window.on_chunk(make_chunk(0.0, 10))
    window.on_chunk(make_chunk(30.0, 10))
    window.traces.refresh()
    assert window.traces.viewRange()[0][1] > 30
    window.set_stream_info(None)
    assert window.traces.viewRange()[0] == [-5.0, 0.0]


def test_nan_samples_leave_holes_not_blank_traces(window):
    chunk = make_chunk(0.0, 100)
    chunk.samples[40:60, 0] = np.nan  # an amplifier dropout on the first drawn channel
    window.on_chunk(chunk)
    window.traces.refresh()
    _, y0 = window.traces.curves[0].getData()
    _, y1 = window.traces.curves[1].getData()
    assert np.isnan(y0[40:60]).all() and np.isfinite(y0[:40]).all()
    assert np.isfinite(y1).all() and window.traces.scale_uv > 0  # the others keep their scale


def test_marker_labels_at_a_rapid_pace_do_not_overlap(window, qtbot):
    """A marker every 0.2 s (a rapid design) drew each label over the one before: every id cut to a few letters.
    Now a label is shown only where the last one leaves room; every marker still gets its line."""
    window.resize(1280, 860)
    window.show()
    qtbot.waitExposed(window)
    names = ("crescent", "frame", "cup", "bottle", "bolt", "mushroom")
    for k in range(40):
        window.on_chunk(make_chunk(0.2 * k, 20))
        window.on_marker(Marker(timestamp=0.2 * k, payload=f"{names[k % 6]}_{k:03d}"))
    window.traces.refresh()
    qtbot.wait(50)  # the labels move to their lines when the view's new range is drawn
    lines = window.traces.marker_lines
    assert len(lines) >= 24  # the last 5 s: every marker has its line
    shown = [line.label.sceneBoundingRect() for line in lines if line.label.isVisible()]
    assert len(shown) >= 6  # ... and a good share of them a label
    assert all(not a.intersects(b) for a, b in zip(shown, shown[1:]))


def test_a_marker_in_another_clock_does_not_hide_the_labels_after_it(window, qtbot):
    """A marker stamped an hour away (another clock: the pipeline still shows its line) set the last label's place
    there, and every later label, a second apart, was hidden as overlapping it for the rest of the session."""
    window.resize(1280, 860)
    window.show()
    qtbot.waitExposed(window)
    window.on_chunk(make_chunk(0.0, 20))
    window.on_marker(Marker(timestamp=0.0, payload="first"))
    window.on_marker(Marker(timestamp=3600.0, payload="other_clock"))
    for k in range(1, 10):
        window.on_chunk(make_chunk(1.0 * k, 20))
        window.on_marker(Marker(timestamp=1.0 * k, payload=f"img_{k:03d}"))
    shown = [line.label.format for line in window.traces.marker_lines if line.label.isVisible()]
    assert sum(s.startswith("img_") for s in shown) >= 8, shown


def test_markers_without_eeg_do_not_pile_up(window):
    """Marker lines are pruned as the EEG scrolls past them; while no EEG came (the amplifier lost for an hour,
    the presenter still sending a marker a second) every marker's line was kept and added to the plot."""
    from eegviz.app.traces import MAX_MARKER_LINES

    window.on_chunk(make_chunk(0.0, 100))
    window.traces.refresh()
    n_items = len(window.traces.getPlotItem().items)
    for k in range(MAX_MARKER_LINES + 300):
        window.on_marker(Marker(timestamp=1.0 + k, payload=f"m{k}"))
        window.traces.refresh()
    lines = window.traces.marker_lines
    assert len(lines) == MAX_MARKER_LINES and lines[-1].label.format == f"m{MAX_MARKER_LINES + 299}"
    assert len(window.traces.getPlotItem().items) == n_items + MAX_MARKER_LINES  # the dropped ones left the plot


def test_an_outage_is_a_hole_in_the_traces_not_a_flat_line(window):
    """An LSL stream back after 7 s away was joined to its last samples by straight lines across the outage:
    the traces looked as if the amplifier had sent a flat signal all along."""
    for k in range(30):
        window.on_chunk(make_chunk(k * 0.1, 10))
    ts, data = window.traces.buffer.arrays()
    assert np.isfinite(data).all()  # chunks one after the other: no hole
    for k in range(15):
        window.on_chunk(make_chunk(10 + k * 0.1, 10))
    window.traces.refresh()
    x, y = window.traces.curves[0].getData()
    assert np.isnan(y[(x > 2.9) & (x < 10)]).any()  # the curve breaks between 2.99 s and 10 s
    assert np.isnan(y).sum() == 1  # one hole, nothing drawn lost


def test_live_channels_are_scaled_when_most_drawn_channels_are_flat(window):
    """Unplugged electrodes (or an amplifier's unused inputs) send zeros: with 9 of the 16 drawn channels flat,
    the median spread was 0, and the 7 live channels were drawn flat at one volt per row, with no scale bar."""
    chunk = make_chunk(0.0, 200)
    drawn = window.traces.buffer.channels
    chunk.samples[:, drawn[7:]] = 0.0
    window.on_chunk(chunk)
    window.traces.refresh()
    _, y0 = window.traces.curves[0].getData()
    _, y15 = window.traces.curves[15].getData()
    assert np.ptp(y0) > 0.2  # a live channel fills a good part of its row
    assert np.ptp(y15) == 0  # a flat one stays a flat line
    assert window.traces.scale_uv > 0


def test_a_floating_electrode_stays_in_its_own_rows(window):
    """An electrode left floating (5 mV of mains hum, 500 times the others' spread) was drawn across every other
    row at the shared scale, a block that hid all the traces; it is now cut off a row above and below its own."""
    chunk = make_chunk(0.0, 200)
    drawn = window.traces.buffer.channels
    t = np.asarray(chunk.timestamps)
    chunk.samples[:, drawn[3]] = 5e-3 * np.sin(2 * np.pi * 50 * t + 0.3)
    window.on_chunk(chunk)
    window.traces.refresh()
    _, y3 = window.traces.curves[3].getData()
    assert -3 - 1.0 <= y3.min() and y3.max() <= -3 + 1.0  # its own row, plus one either side
    assert np.ptp(y3) >= 1.9  # still the widest band
    _, y0 = window.traces.curves[0].getData()
    assert 0.2 < np.ptp(y0) < 2.0 and window.traces.scale_uv > 0  # the others keep their scale
