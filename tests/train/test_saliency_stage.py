"""eegviz.train.saliency_stage: the saliency GAN retrained alone inside a model folder, the rest left as it was."""

from __future__ import annotations

import json
import shutil

import pytest

from eegviz.data.loaders import open_dataset
from eegviz.data.synthetic import simulate_dataset
from eegviz.decoders.two_branch import PARTS, TwoBranchDecoder
from eegviz.errors import EegvizError
from eegviz.eval.model_card import describe_dataset
from eegviz.paths import default_model_dir
from eegviz.train.saliency_stage import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("sal") / "d", subjects=1, n_per_class=3)


def _decoder_copy(root, data=None):
    """The shipped decoder's files, its training.json saying it was trained on `data` (when given)."""
    root.mkdir()
    for name in ("decoder.json", "prototypes.safetensors", "training.json"):
        shutil.copy(default_model_dir() / name, root / name)
    for folder, _cls in PARTS.values():
        shutil.copytree(default_model_dir() / folder, root / folder)
    if data is not None:
        training = json.loads((root / "training.json").read_text())
        training["dataset"] = describe_dataset(open_dataset(data), data)
        (root / "training.json").write_text(json.dumps(training))
    return root


def test_a_saliency_generator_that_no_longer_fits_is_retrained_and_the_rest_kept(tmp_path, data, capsys):
    model = _decoder_copy(tmp_path / "m", data)
    cfg = model / "saliency_generator" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "width": 40}))  # weights of another shape
    with pytest.raises(EegvizError, match="saliency_generator"):
        TwoBranchDecoder.load(model)
    kept = {f: (model / f / "diffusion_pytorch_model.safetensors").read_bytes()
            for f in ("eeg_encoder", "attribute_encoder", "semantic_regressor", "saliency_generator")}
    old_config = cfg.read_text()
    assert main(["--model", str(model), "--data", str(data), "--gan-steps", "2", "--seed", "3"]) == 0
    dec = TwoBranchDecoder.load(model)  # loads again, with the generator's own config restored
    assert dec.saliency.config.width == json.loads((default_model_dir() / "saliency_generator" / "config.json")
                                                   .read_text())["width"]
    old = kept.pop("saliency_generator")
    for f, blob in kept.items():
        assert (model / f / "diffusion_pytorch_model.safetensors").read_bytes() == blob
    rec = json.loads((model / "training.json").read_text())["decoder"]["saliency_stage_retrained"]
    replaced = model / rec["replaced_kept_as"]  # the generator it replaced is kept, byte for byte
    assert replaced.name.startswith("saliency_generator.previous-")
    assert (replaced / "diffusion_pytorch_model.safetensors").read_bytes() == old
    assert (replaced / "config.json").read_text() == old_config
    assert (model / "saliency_generator" / "diffusion_pytorch_model.safetensors").read_bytes() != old
    assert rec["gan_steps"] == 2 and rec["seed"] == 3 and 0 <= rec["val_saliency_iou"] <= 1
    assert "--gan-steps 2 --seed 3" in rec["command"]
    assert "validation mask IoU" in capsys.readouterr().out
    assert not [p.name for p in model.iterdir() if "partial" in p.name]  # the atomic write left no partial


def test_bad_input_is_one_line_and_exit_2(tmp_path, data, capsys):
    assert main(["--model", str(tmp_path / "nowhere"), "--data", str(data)]) == 2
    model = _decoder_copy(tmp_path / "m", data)
    assert main(["--model", str(model), "--data", str(data), "--gan-steps", "0"]) == 2
    assert main(["--model", str(model), "--data", str(tmp_path / "no-data")]) == 2
    assert main(["--model", str(model), "--data", str(data), "--threads", "0"]) == 2
    assert main(["--model", str(model), "--data", str(data), "--seed", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("eegviz: ") for line in err)


@pytest.mark.parametrize("record", ["{", "[1]", "folder"])
def test_a_training_record_that_cannot_take_the_result_is_refused_before_anything_is_trained(tmp_path, data,
                                                                                             capsys, record):
    """Found after training, the new generator was already swapped in, the old one renamed, and the record of
    the swap never written: a traceback with the folder changed."""
    model = _decoder_copy(tmp_path / "m", data)
    (model / "training.json").unlink()
    if record == "folder":
        (model / "training.json").mkdir()
    else:
        (model / "training.json").write_text(record)
    before = sorted(p.name for p in model.iterdir())
    assert main(["--model", str(model), "--data", str(data), "--gan-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "training.json" in err
    assert sorted(p.name for p in model.iterdir()) == before  # nothing swapped, nothing left behind


def test_a_dataset_other_than_the_decoders_own_is_refused(tmp_path, data, capsys):
    """Same classes and channels, other trials: the shipped model's training.json says 2 subjects, 4000 trials."""
    model = _decoder_copy(tmp_path / "m")
    before = (model / "training.json").read_bytes()
    assert main(["--model", str(model), "--data", str(data), "--gan-steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not the dataset the decoder" in err and "trials 4000 here 120" in err
    assert (model / "training.json").read_bytes() == before and not list(model.glob("saliency_generator.previous-*"))


def test_the_dataset_options_of_eegviz_train_reach_the_dataset(tmp_path, data, monkeypatch, capsys):
    """The refit had no --images-dir (nor --stream, --markers, --splits, --subjects): an XDF-session dataset was
    refused with "pass the stimulus folder too (--images-dir ...)", an option it did not take."""
    import eegviz.data.loaders as loaders

    model = _decoder_copy(tmp_path / "m", data)
    seen = {}

    def opened(path, **opts):
        seen.update(opts)
        raise EegvizError("stopped here")

    monkeypatch.setattr(loaders, "open_dataset", opened)
    assert main(["--model", str(model), "--data", str(data), "--images-dir", str(tmp_path), "--stream", "amp",
                 "--markers", "eegviz-presenter", "--subjects", "1,2"]) == 2
    assert seen == {"images_dir": str(tmp_path), "eeg_stream": "amp", "marker_stream": "eegviz-presenter",
                    "subjects": [1, 2]}
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["--model", str(model), "--data", str(data), "--subjects", "1"]) == 2  # a synthetic set has none
    assert "--subjects is not read for" in capsys.readouterr().err
