"""A dataset's artefact epochs dropped for `eegviz train|eval --reject-uv` (eegviz.data.artefacts): the live rule on
the epochs as the model reads them, counted per split, and a threshold that would leave a split or a class empty
refused."""

import numpy as np
import pytest

from eegviz.data.artefacts import drop_artefacts, dropped_words
from eegviz.data.dataset import EEGDataset
from eegviz.errors import EegvizError
from eegviz.stream.preprocess import InputSpec, Preprocessor
from eegviz.stream.reject import rejection
from ten_twenty import MODEL

SPLIT = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
BLINKS = (1, 5, 9, 13, 14)  # 2 of 8 train, 1 of 4 val, 2 of 4 test
DRIFT = 3  # a slow 1 mV drift, which a 1 Hz high-pass removes


def _dataset(blinks=BLINKS, split=SPLIT):
    """16 epochs of 10 uV noise on the 9-channel 10-20 model (-0.1..0.4 s at 100 Hz), two classes alternating; a
    300 uV blink on Fp1 in `blinks`, and a 1 mV ramp over epoch DRIFT's 0.5 s on every channel."""
    rng = np.random.default_rng(0)
    n = len(split)
    eeg = rng.standard_normal((n, len(MODEL), 50)) * 1e-5
    t = -0.1 + np.arange(50) / 100.0
    for i in blinks:
        eeg[i, 0] += 300e-6 * np.exp(-0.5 * ((t - 0.2) / 0.05) ** 2)
    eeg[DRIFT] += np.linspace(0, 1e-3, 50)
    return EEGDataset(eeg=eeg.astype(np.float32), labels=np.arange(n) % 2, image_ids=np.array([f"im{i}" for i in
                      range(n)]), subjects=np.ones(n, int), split=np.array(split), ch_names=MODEL, sfreq=100.0,
                      tmin=-0.1, classes=["cup", "dog"], captions={}, blocks=np.arange(n) // 4)


def _spec(highpass=0.0):
    return InputSpec(ch_names=MODEL, sfreq=100.0, tmin=-0.1, tmax=0.4, highpass=highpass)


def test_epochs_over_the_threshold_are_dropped_from_every_split_as_a_live_session_skips_them():
    """Each epoch is judged by the live rule (eegviz.stream.reject.rejection on the Preprocessor's output) on the
    epoch as the model prepares it: the blinks go from train, val and test alike, counted per split; the drift goes
    only where the model's own high-pass does not remove it. Off, the dataset is the one loaded, untouched."""
    ds = _dataset()
    for highpass, drift_dropped in ((0.0, True), (1.0, False)):
        spec = _spec(highpass)
        kept, record = drop_artefacts(ds, spec, 150.0, "the data")
        expected = sorted({*BLINKS, *([DRIFT] if drift_dropped else [])})
        assert record == {"reject_uv": 150.0, "epochs": {"train": 8, "val": 4, "test": 4},
                          "dropped": {"train": 2 + drift_dropped, "val": 1, "test": 2}}
        assert list(kept.image_ids) == [f"im{i}" for i in range(16) if i not in expected]
        assert np.array_equal(kept.eeg, ds.eeg[[i for i in range(16) if i not in expected]])
        assert list(kept.blocks) == [i // 4 for i in range(16) if i not in expected]  # every per-trial array
        # the same epochs a session with this model would skip, one by one through its Preprocessor
        pre = Preprocessor(spec, MODEL, 100.0, montage="standard_1020", warn=False)
        live = [i for i in range(16) if rejection(pre(ds.eeg[i]), pre, 150.0) is not None]
        assert live == expected
        # a model saved and loaded again (eval's spec) drops the very same epochs as the run that trained it
        again, _ = drop_artefacts(ds, InputSpec.from_dict(spec.to_dict()), 150.0, "the data")
        assert list(again.image_ids) == list(kept.image_ids)
    assert dropped_words(record) == ("--reject-uv 150: 2 of 8 train, 1 of 4 val, 2 of 4 test epochs dropped as "
                                     "artefacts")
    assert drop_artefacts(ds, _spec(), None, "the data") == (ds, None) and dropped_words(None) is None
    assert drop_artefacts(ds, _spec(), 2000.0, "the data")[0] is ds  # nothing over it: nothing copied


@pytest.mark.parametrize("blinks, says", [
    (range(12, 16), "--reject-uv 150 would drop every one of the 4 test epochs of the data (the smallest peak to "
                    "peak among them is "),
    ((0, 2, 4, 6), "--reject-uv 150 would drop every one of the 4 train epochs of class 'cup' in the data, so the "
                   "decoder could not learn it")])
def test_a_threshold_that_empties_a_split_or_a_class_is_refused_in_one_line(blinks, says):
    with pytest.raises(EegvizError) as e:
        drop_artefacts(_dataset(blinks), _spec(1.0), 150.0, "the data")
    assert str(e.value).startswith(says) and "\n" not in str(e.value), str(e.value)
    assert str(e.value).endswith("raise it, or leave it out to keep every epoch")
    # a split with no epochs to begin with (a dataset without a test split) is nothing to refuse
    kept, record = drop_artefacts(_dataset((1,), SPLIT[:12]), _spec(1.0), 150.0, "the data")
    assert record["epochs"]["test"] == 0 and len(kept.labels) == 11
