"""`eegviz train --text-encoder minilm` trains decoder, the 64 px classifier and the diffusers generator into one
folder that is also a diffusers pipeline folder, and records how to reproduce it."""

import json

from eegviz.cli import main
from eegviz.train.pipeline_folder import load_components


def test_train_minilm_writes_a_pipeline_model_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data, model = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "4"]) == 0
    assert main(["train", "--data", str(data), "--out", str(model), "--epochs", "1", "--gan-steps", "2",
                 "--text-encoder", "minilm", "--generator-config", "tiny",
                 "--unet-steps", "2", "--classifier-images", "2", "--classifier-epochs", "1",
                 "--no-eval-controls", "--threads", "1"]) == 0
    for f in ("model_index.json", "sampling.json", "vae", "unet", "scheduler", "decoder.json",
              "stimulus_classifier/config.json", "training.json", "README.md"):
        assert (model / f).exists(), f
    clf = json.loads((model / "stimulus_classifier" / "config.json").read_text())
    assert clf["size"] == 64 and len(clf["classes"]) == 40
    sampling = json.loads((model / "sampling.json").read_text())
    assert sampling["text_encoder"] == "minilm" and sampling["guidance"] == 1.0 and sampling["steps"] in (1, 2)
    training = json.loads((model / "training.json").read_text())
    gen = training["generator"]
    assert gen["kind"] == "diffusers" and gen["teacher"]["steps"] == 2 and gen["autoencoder"]["steps"] == 3
    assert gen["classifier"]["size"] == 64 and gen["classifier"]["render_seed"] == 1 and gen["seed"] == 0
    assert "--generator-config tiny" in training["command"] and "--unet-steps 2" in training["command"]
    # the pipeline judged alone on held-out renders, as the model card's generator section reads it
    test = gen["test"]
    assert test["n"] == 40 and 0 <= test["blob_label"]["top1"] <= 1 and test["classifier_on_renders"] >= 0
    assert {"text_only_label", "blob_label", "ellipse_label", "control_flat_label", "init_blob_itself"} <= set(test)
    assert gen["latency_ms"]["p50"] > 0
    vae, unet, sched = load_components(model)
    assert unet.config.cross_attention_dim == 384 and vae.config.block_out_channels == [8, 16, 16]
    # the images it trained and chose on, which eval refuses as test images (eegviz.data.seen_images): --images 4
    # keeps image 3 of each class for test, 2 for validation
    seen = json.loads((model / "seen_images.json").read_text())
    assert len(seen["train"]) == 80 and "cup_001" in seen["train"] and seen["val"] == sorted(seen["val"])
    assert len(seen["val"]) == 40 and "cup_002" in seen["val"] and "cup_003" not in seen["train"] + seen["val"]
