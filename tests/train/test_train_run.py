"""`eegviz simulate` + `eegviz train` end to end on a tiny dataset: a loadable, evaluated, documented model."""

import json

import numpy as np

from eegviz.cli import main
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.generators.legacy_pixel import LegacyPixelGenerator


def test_simulate_then_train_writes_a_complete_model_folder(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "4"]) == 0
    meta = json.loads((data / "dataset.json").read_text())
    assert meta["sfreq"] == 250.0 and len(meta["ch_names"]) == 128 and len(meta["classes"]) == 40
    assert np.load(data / "eeg.npy").shape == (160, 128, 175)
    assert main(["train", "--data", str(data), "--out", str(model), "--epochs", "1", "--gan-steps", "3",
                 "--gen-steps", "3", "--gen-adv-steps", "2", "--classifier-images", "5",
                 "--classifier-epochs", "1", "--sampler-grid", "quick"]) == 0
    for f in ("decoder.json", "encoder.safetensors", "saliency.safetensors", "semantic.safetensors",
              "generator.safetensors", "classifier.safetensors", "README.md", "report/metrics.json",
              "report/reconstructions.png", "report/controls.png"):
        assert (model / f).exists(), f
    metrics = json.loads((model / "report/metrics.json").read_text())
    assert set(metrics["ablation"]) == {"label+saliency", "label_only", "saliency_only"}
    assert 0.0 <= metrics["eeg_class_top1"] <= 1.0 and metrics["n_test_trials"] == 40
    # one subject: leave-one-subject-out cannot run and says so; blocks (rapid-design runs) can be held out
    ctl = metrics["controls"]["variants"]["as_model"]
    assert ctl["leave_one_subject_out"] == {"skipped": "one subject only"}
    assert ctl["blocks_kept_apart"]["n"] == 160 and ctl["shuffled_labels"]["n"] == 40
    card = (model / "README.md").read_text()
    assert "## Confound controls" in card
    # the card describes what was trained, not the shipped model: this run's data, and its own command
    assert card.startswith("---\nlibrary_name: eegviz\n") and "\n---\n" in card  # YAML metadata for the Hub
    assert "160 trials of 40 classes (160 images), 1 subject(s)" in card
    assert "--gan-steps 3" in card and f"--data {data}" in card and "--classifier-epochs 1" in card
    assert "40 classes x 50 images" not in card and "2 subjects" not in card
    training = json.loads((model / "training.json").read_text())
    assert training["dataset"]["subjects"] == 1 and training["synthetic"] is True
    dec = TwoBranchDecoder.load(model)
    out = dec.forward(np.zeros((1, 128, 175), np.float32))
    img = LegacyPixelGenerator(model).generate(out["saliency"], out["embedding"])
    assert img.shape == (1, 128, 128, 3)
