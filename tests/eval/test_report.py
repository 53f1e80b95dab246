"""`eegviz eval` on a real-data format: decoder metrics and confound controls, reconstruction metrics skipped
with the reason (the stimuli cannot be rendered and the model carries no embedded generator)."""

import json

import numpy as np
import torch
from PIL import Image

from eegviz.cli import main


def _imagenet_like(tmp_path, n_classes=3, n_images=6, subjects=(1, 2)):
    """EEG-ImageNet .pth layout with a class-dependent bump so there is something to decode."""
    rng = np.random.default_rng(0)
    wnids = [f"n0{k:08d}" for k in range(n_classes)]
    images = [f"{w}_{i}" for w in wnids for i in range(n_images)]
    entries = []
    t = np.arange(500)
    for s in subjects:
        for img_idx, name in enumerate(images):
            label = img_idx // n_images
            eeg = rng.normal(0, 1, (128, 500))
            eeg[label * 40:(label + 1) * 40] += 2 * np.exp(-0.5 * ((t - 200) / 30.0) ** 2)
            entries.append({"eeg": torch.tensor(eeg, dtype=torch.float32), "image": img_idx, "label": label,
                            "subject": s})
    path = tmp_path / "eeg_55_95_std.pth"
    torch.save({"dataset": entries, "labels": wnids, "images": images}, path)
    folder = tmp_path / "images"  # the stimuli, as an ImageNet user would pass with --images-dir
    folder.mkdir()
    for k, name in enumerate(images):
        Image.new("RGB", (40, 30), (40 * k % 255, 90, 200)).save(folder / f"{name}.JPEG")
    return path, folder


def test_eval_on_real_format_reports_decoder_and_controls(tmp_path, capsys):
    (data, images), model, report = _imagenet_like(tmp_path), tmp_path / "model", tmp_path / "report"
    args = ["train", "--data", str(data), "--out", str(model), "--epochs", "2", "--gan-steps", "2",
            "--refine-steps", "2", "--highpass", "0.5"]
    assert main(args) == 2  # the pixel branch needs the stimuli
    assert "pass --images-dir" in capsys.readouterr().err
    assert main(args + ["--images-dir", str(images)]) == 0
    assert not (model / "generator.safetensors").exists()  # real stimuli: no embedded generator
    assert json.loads((model / "decoder.json").read_text())["input"]["highpass"] == 0.5
    capsys.readouterr()
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(report),
                 "--controls-highpass", "2", "--images-dir", str(images)]) == 0
    m = json.loads((report / "metrics.json").read_text())
    assert "skipped" in m["reconstruction"] and "ablation" not in m
    assert -1 <= m["saliency_ssim"] <= 1  # the saliency maps are scored against the real stimuli
    assert m["n_classes"] == 3 and 0 <= m["eeg_class_top1"] <= 1
    c = m["controls"]
    # the model already high-passes, so there is no separate high-pass variant
    assert list(c["variants"]) == ["as_model"]
    v = c["variants"]["as_model"]
    assert v["image_split"]["n"] == m["n_test_trials"]
    assert v["leave_one_subject_out"]["n"] == 2 * 3 * 6
    # EEG-ImageNet is a block design: block = (subject, class)
    assert v["blocks_kept_apart"].get("blocks", 6) == 6
    assert (report / "controls.png").is_file()
    printed = capsys.readouterr().out
    assert "controls (as_model): image_split" in printed  # progress first, then the headline JSON
    headline = json.loads(printed[printed.index("{"):])
    assert headline["controls"] == c["checks"]


def test_eval_refuses_a_model_for_other_data(tmp_path, capsys):
    from eegviz.paths import default_model_dir

    data, _ = _imagenet_like(tmp_path)
    assert main(["eval", "--data", str(data), "--model", str(default_model_dir()), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("eegviz: error:") == 1 and "trained on 40 classes" in err


def test_sampling_choice_rule():
    from eegviz.eval.report import choose_sampling

    def row(steps, st, acc, ssim, eligible=True):
        return {"steps": steps, "strength": st, "guidance": 3.0, "val_top1": acc, "val_ssim": ssim,
                "eligible": eligible}

    grid = [row(2, 0.8, 0.40, 0.5), row(3, 0.8, 0.49, 0.5), row(3, 0.9, 0.50, 0.4), row(4, 0.8, 0.51, 0.5),
            row(4, 0.9, 0.60, 0.3, eligible=False)]  # drowns the saliency map: never chosen
    r = choose_sampling(grid, n_val=400)
    # best eligible 0.51 (SE 0.025): 3 steps reach 0.50 within one SE, 2 steps do not; best at 3 steps wins
    assert r["chosen"] == grid[2] and r["best_val_top1"] == 0.51 and abs(r["se"] - 0.025) < 1e-3
    r = choose_sampling(grid, n_val=40000)  # a huge val split: SE tiny, only the best counts
    assert r["chosen"] == grid[3]
    only_bad = [dict(g, eligible=False) for g in grid]
    assert choose_sampling(only_bad, 400)["chosen"] == only_bad[4]  # nothing eligible: plain best
