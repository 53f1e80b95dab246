"""Artefact rejection (--reject-uv): an epoch over the threshold is skipped with its worst channel named, a clean one
is decoded, and electrodes already marked bad reject nothing."""

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.messages import Chunk, Marker, SkipKind
from eegviz.stream.epocher import Epocher
from eegviz.stream.preprocess import InputSpec, Preprocessor
from eegviz.stream.reject import channel_words, check_reject_uv
from ten_twenty import SOURCE, ten_twenty

MARKERS = (Marker(51.0, "clean"), Marker(52.0, "blink"), Marker(53.0, "after"))


def _blink(t, data, at=52.2, uv=300.0):
    """A blink as the simulator draws them (eegviz.world.artefacts: Gaussian, ~100 ms wide, frontal), `uv` at Fp1,
    0.8 of it at Fp2 and 0.3 at F3/F4, centred `at` s."""
    wave = uv * 1e-6 * np.exp(-0.5 * ((t - at) / 0.1) ** 2)
    for name, w in (("Fp1", 1.0), ("Fp2", 0.8), ("F3", 0.3), ("F4", 0.3)):
        data[:, SOURCE.index(name)] += (w * wave).astype(np.float32)


def _epochs(data, t, reject_uv, bads=(), check_electrodes=False):
    spec = ten_twenty(1)[0]
    ep = Epocher(Preprocessor(spec, SOURCE, 100.0, bads=bads), SOURCE, reject_uv=reject_uv,
                 check_electrodes=check_electrodes)
    for m in MARKERS:
        ep.add_marker(m)
    return [r for s in range(0, len(t), 50) for r in ep.add_chunk(Chunk(data[s:s + 50], t[s:s + 50]))]


def test_a_blink_epoch_is_rejected_naming_its_worst_electrode_and_a_clean_one_is_decoded():
    """A blink went into the decoder and its reconstruction was shown as a reading of what was seen; over
    --reject-uv it is skipped as 'rejected' (index not taken), naming the electrode and its peak to peak."""
    _, t, data = ten_twenty(500)
    _blink(t, data)
    out = _epochs(data, t, 150.0)
    assert [r.marker.payload for r in out] == ["clean", "blink", "after"]
    assert [r.kind for r in out] == [None, SkipKind.REJECTED, None]
    assert out[1].epoch is None
    assert out[1].reason.startswith("epoch rejected: Fp1 3") and out[1].reason.endswith(
        " uV peak to peak > 150 uV (--reject-uv; kept in the recording, not decoded)")
    ptp = float(out[1].reason.split()[3])
    assert 290 <= ptp <= 360  # the blink's 300 uV on ~10 uV noise
    assert [r.epoch.index for r in (out[0], out[2])] == [0, 1]  # numbered (and seeded) as without the blink
    # off (None, the default): every epoch decoded, as before the option existed
    assert [r.epoch is not None for r in _epochs(data, t, None)] == [True, True, True]
    # a threshold above the blink keeps it
    assert [r.kind for r in _epochs(data, t, 400.0)] == [None, None, None]


def test_electrodes_marked_bad_or_not_used_by_the_model_reject_nothing():
    """Judged as the decoder reads the epoch: an electrode left out as bad (--bads, or dead at the start and marked
    then) is interpolated from the others, so its own swings reject no epoch, nor do those of an electrode the
    model does not read; without the marking, the same swing rejects every epoch it reaches."""
    _, t, data = ten_twenty(500)
    jolt = np.where(np.arange(len(t)) % 60 < 30, 2e-3, -2e-3).astype(np.float32)  # a loose cable: 4 mV swings
    data[:, SOURCE.index("C3")] += jolt
    data[:, SOURCE.index("Oz")] += jolt  # not one of the model's channels (only --bads' interpolation reads it)
    refused = _epochs(data, t, 150.0)
    assert [r.kind for r in refused] == [SkipKind.REJECTED] * 3
    assert refused[0].reason.startswith("epoch rejected: C3 40")  # 4 mV, and the noise on it
    data[:, SOURCE.index("Oz")] -= jolt
    assert [r.kind for r in _epochs(data, t, 150.0, bads=("C3",))] == [None, None, None]
    # railed at +187.5 mV but for a moment in every 0.4 s: found dead at the start, marked bad and interpolated
    _, t, data = ten_twenty(500)
    data[np.arange(len(t)) % 40 >= 10, SOURCE.index("O2")] = 0.1875
    assert [r.kind for r in _epochs(data, t, 150.0, check_electrodes=True)] == [None, None, None]
    # unmarked, it was; in mV, as the line marking an electrode railed gives it
    assert _epochs(data, t, 150.0)[0].reason.startswith("epoch rejected: O2 187.5 mV peak to peak > 150 uV")


def test_a_rejected_channel_is_named_so_a_lab_can_find_its_electrode():
    """The model's channel, with the source's own name where it differs, or, where it is interpolated, the electrode
    it weighs most: a lab must know which electrode on its cap to look at."""
    spec = ten_twenty(1)[0]
    pre = Preprocessor(spec, SOURCE, 100.0, bads=("Fp1",))
    assert channel_words(pre, spec.ch_names.index("Fp1")) == "Fp1 (interpolated, weighted most on Fp2)"
    assert channel_words(pre, spec.ch_names.index("O2")) == "O2"
    # a 64-electrode BioSemi cap names its 10-20 electrodes A1..B32 (eegviz.stream.montage): Fp1 is its A1
    biosemi = tuple(f"{bank}{i}" for bank in "AB" for i in range(1, 33))
    pre = Preprocessor(InputSpec(ch_names=("Fp1", "Cz"), sfreq=100.0, tmin=-0.1, tmax=0.4, montage="biosemi64"),
                       biosemi, 100.0)
    assert [channel_words(pre, i) for i in range(2)] == ["Fp1 (the source's A1)", "Cz (the source's B16)"]


@pytest.mark.parametrize("value", [0.0, -150.0, float("nan"), float("inf"), 150e-6, 1e7])
def test_a_nonsense_threshold_is_one_line(value):
    """0 or less, NaN and infinity mean nothing; MNE's volts (150e-6) would reject every epoch, a value in
    nanovolts none, while the option seemed on."""
    with pytest.raises(EegvizError, match=r"^--reject-uv must be a peak to peak amplitude in microvolts from 1 to "
                                          r"100000, not .* \(e\.g\. 150, MNE's reject=dict\(eeg=150e-6\)") as err:
        check_reject_uv(value)
    assert "\n" not in str(err.value)
    assert check_reject_uv(150) == 150.0 and check_reject_uv(None) is None
