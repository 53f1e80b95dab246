"""TwoBranchDecoder.load on edited decoder.json files: values of the right JSON type that no decoder can have are
refused in one line naming the field, before anything is built (no OverflowError, no gigabyte allocations)."""

import json
import shutil

import pytest

from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.errors import EegvizError
from eegviz.stream.preprocess import InputSpec


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A toy decoder (4 channels, 50 samples, small widths) saved once; each test edits a copy."""
    root = tmp_path_factory.mktemp("decoder")
    spec = InputSpec(ch_names=("O1", "Oz", "O2", "Pz"), sfreq=100.0, tmin=-0.1, tmax=0.4)
    TwoBranchDecoder(spec, ["cat", "dog"], feat_dim=8, z_dim=2, saliency_size=8, n_tokens=2, text_dim=4).save(root)
    return root


def _edited(saved, tmp_path, change):
    model = tmp_path / "model"
    shutil.copytree(saved, model)
    cfg = json.loads((model / "decoder.json").read_text())
    change(cfg)
    (model / "decoder.json").write_text(json.dumps(cfg))  # json writes NaN / Infinity as Python reads them
    return model


@pytest.mark.parametrize("change, needle", [
    (lambda c: c["input"].update(sfreq=float("inf")), "'sfreq' must be a finite number, not inf"),
    (lambda c: c["input"].update(scale=float("nan")), "'scale' must be a finite number, not nan"),
    (lambda c: c["input"].update(scale=0), "'scale' must be > 0"),
    (lambda c: c["input"].update(highpass=-5.0), "'highpass' must be in [0, 50) Hz"),
    (lambda c: c["input"].update(baseline=[5.0, 6.0]), "'baseline' must be [start, end]"),  # after the epoch
    (lambda c: c["input"].update(baseline=[0.0, -0.1]), "'baseline' must be [start, end]"),  # reversed
    (lambda c: c["input"].update(tmax=c["input"]["tmin"]), "'tmax' must be after 'tmin'"),
    # refused before building: the encoder's head alone would be 10^9 x 512 floats
    (lambda c: c["hparams"].update(feat_dim=10**9), "'feat_dim' must be 1 to 4096, not 1000000000"),
    (lambda c: c["hparams"].update(text_dim=10**6), "'text_dim' must be 1 to 4096"),
    # read only when a source lacked channels (the interpolation), as an unknown-montage error about the source
    (lambda c: c["input"].update(montage="biosemi129"), "'montage' must be a montage MNE knows"),
    (lambda c: c["input"].update(montage=5), "'montage' must be an MNE montage name or null, not 5"),
    (lambda c: c.update(kind="ridge"), "'kind' is 'ridge'; this eegviz reads 'two_branch' decoders"),
    (lambda c: c["input"].update(ch_names=[]), "'ch_names' must name each of the model's channels once (none)"),
    (lambda c: c["input"].update(ch_names=["O1", "O1", "O2", "Pz"]), "once ('O1' labels 2 channels)"),
], ids=["sfreq_inf", "scale_nan", "scale_zero", "highpass_negative", "baseline_after_epoch", "baseline_reversed",
        "empty_window", "feat_dim_huge", "text_dim_huge", "montage_unknown", "montage_number", "kind_other",
        "no_channels", "doubled_channel"])
def test_values_no_decoder_can_have_are_one_line_errors(saved, tmp_path, change, needle):
    model = _edited(saved, tmp_path, change)
    with pytest.raises(EegvizError) as err:
        TwoBranchDecoder.load(model)
    message = str(err.value)
    assert needle in message and str(model / "decoder.json") in message and "\n" not in message


@pytest.mark.parametrize("montage", [None, "", "standard_1020", "biosemi128"])
def test_a_montage_mne_knows_or_none_loads(saved, tmp_path, montage):
    """null (unknown), "" (guessed from the names) and MNE's names, its deprecated aliases among them."""
    model = _edited(saved, tmp_path, lambda c: c["input"].update(montage=montage))
    assert TwoBranchDecoder.load(model).spec.montage in (montage, None)


def test_a_baseline_wholly_before_the_epoch_still_loads(saved, tmp_path):
    """EEG-ImageNet's epochs start at +0.02 s, after the default -0.1..0 s baseline: a model trained on them saves
    that window and means "no baseline correction" (eegviz.stream.preprocess.baseline_samples)."""
    model = _edited(saved, tmp_path, lambda c: c["input"].update(tmin=0.02, tmax=0.52))
    assert TwoBranchDecoder.load(model).spec.baseline == (-0.1, 0.0)
