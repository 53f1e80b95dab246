"""`eegviz eval` on a real-data format: decoder metrics and confound controls; reconstruction metrics skipped
with the reason when there is no generator, and computed with an outside SD model and image classifier."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from eegviz.cli import main
from tiny_models import tiny_image_classifier, tiny_sd_folder


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
        img = Image.new("RGB", (40, 30), (40 * k % 255, 90, 200))
        img.paste((250, 250, 40), (2 * k % 30, 5, 2 * k % 30 + 10, 20))  # a patch that moves from image to image
        img.save(folder / f"{name}.JPEG")
    return path, folder


def test_eval_on_real_format_reports_decoder_and_controls(tmp_path, capsys):
    (data, images), model, report = _imagenet_like(tmp_path), tmp_path / "model", tmp_path / "report"
    args = ["train", "--data", str(data), "--out", str(model), "--epochs", "2", "--gan-steps", "2",
            "--highpass", "0.5"]
    assert main(args) == 2  # the pixel branch needs the stimuli
    assert "pass --images-dir" in capsys.readouterr().err
    assert not model.exists()  # refused before training: nothing written, so the same --out works next time
    assert main(args + ["--images-dir", str(images), "--no-eval-controls"]) == 0
    assert not (model / "model_index.json").exists()  # real stimuli: no embedded generator, and why
    assert "synthetic-world renders" in json.loads((model / "training.json").read_text())["generator"]["skipped"]
    # evaluated as a decoder on its test split, as a --decoder-only folder is: a lab's own data went without a
    # test-split figure, the card saying "no generator for these stimuli; run `eegviz eval`"
    own = json.loads((model / "report" / "metrics.json").read_text())
    assert "skipped" in own["reconstruction"] and 0 <= own["eeg_class_top1"] <= 1 and "controls" not in own
    card = (model / "README.md").read_text()
    assert "No test-split evaluation was run" not in card and "EEG class decoding" in card, card
    assert json.loads((model / "decoder.json").read_text())["input"]["highpass"] == 0.5
    capsys.readouterr()
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(report),
                 "--controls-highpass", "2", "--images-dir", str(images)]) == 0
    m = json.loads((report / "metrics.json").read_text())
    assert "skipped" in m["reconstruction"] and "ablation" not in m
    assert -1 <= m["saliency_ssim"] <= 1  # the saliency maps are scored against the real stimuli
    assert m["n_classes"] == 3 and 0 <= m["eeg_class_top1"] <= 1
    c = m["controls"]
    # the model already high-passes at 0.5 Hz; the 2 Hz variant asked for refilters above it (it was left out)
    assert list(c["variants"]) == ["as_model", "highpass_2hz"] and "highpass_variant" not in c
    v = c["variants"]["as_model"]
    assert v["image_split"]["n"] == m["n_test_trials"]
    assert v["leave_one_subject_out"]["n"] == m["n_test_trials"]  # crossed with the image split: test images only
    # EEG-ImageNet is a block design: block = (subject, class)
    assert v["blocks_kept_apart"].get("blocks", 6) == 6
    assert (report / "controls.png").is_file()
    printed = capsys.readouterr().out
    assert "controls (as_model): image_split" in printed  # progress first, then the headline JSON
    headline = json.loads(printed[printed.index("{"):])
    assert headline["controls"] == c["checks"]
    # how the report was made: it said what scored, not on which data or model, nor with which options
    from eegviz.modelio import model_digest

    run = m["run"]
    assert run["data"]["given"] == str(data) and run["data"]["options"]["images_dir"] == str(images)
    assert run["model"]["folder"] == str(model.resolve()) and run["model"]["digest"] == model_digest(model)
    assert run["controls"] is True and run["controls_highpass"] == 2.0 and run["reconstructions"] is True
    assert run["eegviz"] and run["finished_utc"]
    assert run["reject_uv"] is None and "artefacts" not in m  # off unless asked: every epoch scored
    # a --reject-uv that would leave a split empty is refused in one line, naming it, before a report is begun
    other = tmp_path / "report-rejected"
    assert main(["eval", "--data", str(data), "--model", str(model), "--out", str(other), "--images-dir", str(images),
                 "--reject-uv", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--reject-uv 1 would drop every one of the " in err and " train epochs of " \
        in err, err
    assert not other.exists()


def test_eval_refuses_a_model_for_other_data(tmp_path, capsys):
    from eegviz.paths import default_model_dir

    data, _ = _imagenet_like(tmp_path)
    assert main(["eval", "--data", str(data), "--model", str(default_model_dir()), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("eegviz: error:") == 1 and "trained on 40 classes" in err


class _Replay:
    """A stand-in generator that returns given images in trial order (eval seeds each batch by its start)."""

    name, steps, strength = "replay", 1, 0.5

    def __init__(self, images):
        self.images = images

    def generate(self, saliency, embedding, seed=0):
        return self.images[seed : seed + len(saliency)]


def test_outside_classifier_judges_against_its_view_of_the_true_stimulus(tmp_path):
    """With an ImageNet-style classifier (its own label set), the target is its top-1 on the true stimulus:
    replaying the stimuli scores 100% N-way and SSIM 1; a flat grey image scores far lower."""
    from eegviz.data.loaders import open_dataset
    from eegviz.eval.classifier import HFImageClassifier
    from eegviz.eval.report import _reconstruction_metrics
    from eegviz.data.targets import stimulus_targets

    data, images = _imagenet_like(tmp_path)
    ds = open_dataset(data, images_dir=str(images))
    te = ds.subset("test")
    gt = stimulus_targets(ds.image_ids[te], 32, ds.image_paths)[0].transpose(0, 2, 3, 1)
    gt_u8 = (gt * 255 + 0.5).astype(np.uint8)
    clf = HFImageClassifier(str(tiny_image_classifier(tmp_path / "clf", [f"k{i}" for i in range(12)])))
    sal, emb = np.zeros((len(te), 32, 32, 3), np.float32), np.zeros((len(te), 8, 64), np.float32)
    (tmp_path / "r").mkdir()
    m = _reconstruction_metrics(ds, tmp_path / "r", te, gt, sal, emb, _Replay(gt_u8), clf, batch=4)
    assert m["classifier"]["target"] == "the classifier's top-1 on the true stimulus"
    assert m["n_way"] == 12 and m["image_size"] == 32
    full = m["ablation"]["label+saliency"]
    assert full["12way_top1"] == 1.0 and full["10way_top1"] == 1.0 and full["5way_top1"] == 1.0
    assert full["ssim"] > 0.99 and full["pixcorr"] > 0.99
    assert full["is"]["mean"] == pytest.approx(m["is_true_stimuli"]["mean"], rel=1e-4)
    assert (tmp_path / "r" / "reconstructions.png").is_file()

    blank = np.full_like(gt_u8, 128)
    b = _reconstruction_metrics(ds, tmp_path / "r", te, gt, sal, emb, _Replay(blank), clf, batch=4)
    flat = b["ablation"]["label+saliency"]
    # one grey image for all: no structure in common with the stimuli, and identical predictions give IS 1
    assert flat["ssim"] < 0.7 and flat["pixcorr"] == 0.0 and flat["is"]["mean"] == pytest.approx(1.0, abs=1e-5)


class _Recorder(_Replay):
    """_Replay that also records the embedding and strength of every call, in call order."""

    def __init__(self, images):
        super().__init__(images)
        self.calls = []

    def generate(self, saliency, embedding, seed=0):
        self.calls.append((self.strength, np.array(embedding)))
        return super().generate(saliency, embedding, seed)


def test_saliency_only_conditions_on_the_empty_caption(tmp_path):
    """The "saliency only" ablation gives the generator the text space's encoding of "" (what it was trained on
    as no caption; MiniLM's is not zeros), every other variant the decoded embeddings."""
    from eegviz.data.loaders import open_dataset
    from eegviz.eval.report import _reconstruction_metrics
    from eegviz.data.targets import stimulus_targets

    data, images = _imagenet_like(tmp_path)
    ds = open_dataset(data, images_dir=str(images))
    te = ds.subset("test")
    gt = stimulus_targets(ds.image_ids[te], 32, ds.image_paths)[0].transpose(0, 2, 3, 1)
    rng = np.random.default_rng(0)
    sal, emb = gt.copy(), rng.normal(size=(len(te), 8, 64)).astype(np.float32)
    empty = rng.normal(size=(1, 8, 64)).astype(np.float32)  # a stand-in for a non-zero "" encoding
    gen = _Recorder((gt * 255).astype(np.uint8))
    (tmp_path / "r").mkdir()
    _reconstruction_metrics(ds, tmp_path / "r", te, gt, sal, emb, gen, None, batch=len(te), empty_emb=empty)
    # one call per variant, in order: label+saliency, label_only, saliency_only, then the controls
    assert len(gen.calls) == 6
    np.testing.assert_array_equal(gen.calls[2][1], np.broadcast_to(empty, emb.shape))
    for i, (_, e) in enumerate(gen.calls):
        if i != 2:  # the others see decoded embeddings (possibly permuted across trials), never the empty one
            assert np.isin(e.reshape(len(te), -1), emb.reshape(len(te), -1)).all()
    assert gen.calls[1][0] == 1.0 and gen.calls[2][0] == 0.5  # label only is text-to-image; saliency only is not


def test_eval_with_an_sd_model_and_an_image_classifier(tmp_path, capsys):
    """The real user's path: semantic branch trained into the SD model's CLIP space, reconstructions by SD
    img2img at the model's native size, scored by a transformers classifier (all tiny, random, offline)."""
    (data, images), model, report = _imagenet_like(tmp_path), tmp_path / "model", tmp_path / "report"
    sd = tiny_sd_folder(tmp_path / "sd")
    clf = tiny_image_classifier(tmp_path / "clf", [f"k{i}" for i in range(7)])
    assert main(["train", "--data", str(data), "--out", str(model), "--epochs", "1", "--gan-steps", "1",
                 "--images-dir", str(images), "--text-encoder", f"clip:{sd}", "--no-eval-controls"]) == 0
    def common(out):
        return ["eval", "--data", str(data), "--model", str(model), "--out", str(out), "--images-dir", str(images),
                "--no-controls"]

    assert main(common(report)) == 0  # no generator for CLIP embeddings without an SD model: skipped, with the way out
    first = (report / "metrics.json").read_text()
    assert "--generator diffusers" in json.loads(first)["reconstruction"]["skipped"]
    capsys.readouterr()
    sd_args = ["--generator", "diffusers", "--sd-model", str(sd), "--steps", "2", "--strength", "0.6",
               "--classifier", str(clf)]
    assert main(common(report) + sd_args) == 2  # the earlier report is a record: refused, left as it was
    assert "already holds files" in capsys.readouterr().err and (report / "metrics.json").read_text() == first
    report = tmp_path / "report-sd"
    assert main(common(report) + sd_args) == 0
    m = json.loads((report / "metrics.json").read_text())
    assert m["generator"] == "diffusers" and m["image_size"] == 32  # 16 latents x VAE scale 2
    assert m["sampling"]["steps"] == 2 and m["sampling"]["strength"] == 0.6
    assert m["n_way"] == 7 and set(m["ablation"]) == {"label+saliency", "label_only", "saliency_only"}
    for v in m["ablation"].values():
        assert 0 <= v["7way_top1"] <= 1 and 1 <= v["is"]["mean"] <= 7 and -1 <= v["ssim"] <= 1
    # text-to-image ignores the saliency map, img2img at 0.6 keeps some of it: the images must differ
    assert m["ablation"]["label_only"]["ssim"] != m["ablation"]["label+saliency"]["ssim"]
    headline = json.loads(capsys.readouterr().out)
    assert headline["reconstruction_7way_top1"] == m["ablation"]["label+saliency"]["7way_top1"]
    assert headline["reconstruction_7way_top1_chance"] == m["n_way_chance"] == pytest.approx(1 / 7)
    assert headline["reconstruction_7way_top1_saliency_shuffled"] == m["generation_controls"]["saliency_shuffled"][
        "7way_top1"]
    assert "reconstruction_iou" not in headline  # photographs: no silhouettes to score against
    new = tmp_path / "report-new"
    assert main(common(new) + ["--generator", "diffusers", "--sd-model", str(sd), "--strength", "1.5"]) == 2
    assert main(common(new) + ["--classifier", str(tmp_path / "nothing-here"), "--generator", "diffusers",
                               "--sd-model", str(sd)]) == 2
    err = capsys.readouterr().err
    assert err.count("eegviz: error:") == 2 and "--strength must be in (0, 1]" in err


class _MapPainter:
    """A stand-in generator that paints its saliency input (img2img that keeps the layout), and a flat grey
    image at strength 1 (text-to-image knows nothing of the layout)."""

    name, steps, strength, guidance = "painter", 1, 0.5, 3.0

    def generate(self, saliency, embedding, seed=0):
        if self.strength >= 1.0:
            return np.full(saliency.shape, 100, np.uint8)
        return (np.clip(saliency, 0, 1) * 255 + 0.5).astype(np.uint8)


def test_generation_controls_and_object_metrics_on_synthetic_stimuli(tmp_path):
    """Perfect saliency maps painted into the reconstruction: decoded maps place the object (IoU ~1, colour
    right), permuted maps and a flat map do not, and the bootstrap interval of the difference excludes 0. The
    ceilings hand the generator what their names say: the true captions text only (strength 1), with the
    decoded maps, and with the true stimulus as the map."""
    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.eval.classifier import HFImageClassifier
    from eegviz.eval.report import _reconstruction_metrics
    from eegviz.data.targets import stimulus_targets

    ds = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3))
    te = ds.subset("test")
    gt = stimulus_targets(ds.image_ids[te], 32)[0].transpose(0, 2, 3, 1)
    rng = np.random.default_rng(0)
    emb, true_emb = (rng.normal(size=(len(te), 8, 64)).astype(np.float32) for _ in range(2))
    sal = gt.copy()
    sal[..., 0] += 1e-3  # the decoded maps: told apart from the true stimulus below, drawn as it is
    clf = HFImageClassifier(str(tiny_image_classifier(tmp_path / "clf", [f"k{i}" for i in range(12)])))
    (tmp_path / "r").mkdir()

    class Recorder(_MapPainter):
        def generate(self, saliency, embedding, seed=0):
            calls.append((self.strength, saliency.copy(), embedding.copy()))
            return super().generate(saliency, embedding, seed)

    calls = []
    m = _reconstruction_metrics(ds, tmp_path / "r", te, gt, sal, emb, Recorder(), clf, batch=len(te),
                                true_emb=true_emb)
    with_true = [(st, s) for st, s, e in calls if np.array_equal(e, true_emb)]
    assert len(with_true) == 3 and any(st == 1.0 for st, _ in with_true)  # text only
    assert any(st == 0.5 and np.array_equal(s, sal) for st, s in with_true)  # the decoded maps
    assert any(st == 0.5 and np.allclose(s, gt) and not np.array_equal(s, sal) for st, s in with_true)  # truth
    full, gc = m["ablation"]["label+saliency"], m["generation_controls"]
    assert set(gc) == {"saliency_shuffled", "saliency_flat", "embedding_shuffled", "saliency_vs_shuffled",
                       "constant_guess", "saliency_vs_constant_guess"}
    # the one image drawn for every trial from where training objects tend to be: it needs no EEG and still
    # scores some IoU; perfect maps beat it by the margin a reader must compare against
    guess = gc["constant_guess"]
    assert 0.05 < guess["iou"] < 0.6 and guess["chosen_on"] == "validation images"
    assert gc["saliency_vs_constant_guess"]["iou"]["diff"] == pytest.approx(full["iou"] - guess["iou"])
    assert gc["saliency_vs_constant_guess"]["iou"]["ci95"][0] > 0.3
    assert full["iou"] > 0.95 and full["colour_acc"] == 1.0 and full["centroid_r_x"] > 0.99
    assert full["ssim"] == pytest.approx(1.0, abs=1e-3) and full["ssim"] > m["ssim_flat_baselines"]["background"]
    assert gc["saliency_shuffled"]["iou"] < 0.5 and gc["saliency_flat"]["iou"] == 0.0
    # the headline carries each figure with its controls, the constant guess among them
    from eegviz.eval.report import _headline_figures

    maps = {"iou": 0.4, "shuffled_control": {"iou": 0.2}, "constant_guess": {"iou": 0.3}}
    metrics = {**m, "headline": {}, "saliency": maps}
    _headline_figures(metrics)
    head = metrics["headline"]
    assert (head["saliency_iou"], head["saliency_iou_shuffled"], head["saliency_iou_constant_guess"]) == (0.4, 0.2, 0.3)
    assert head["reconstruction_iou"] == full["iou"] and head["reconstruction_iou_constant_guess"] == guess["iou"]
    assert head["reconstruction_iou_saliency_shuffled"] == gc["saliency_shuffled"]["iou"]
    n = m["n_way"]
    assert head[f"reconstruction_{n}way_top1_saliency_shuffled"] == gc["saliency_shuffled"][f"{n}way_top1"]
    assert head["reconstruction_is_saliency_shuffled"] == gc["saliency_shuffled"]["is"]["mean"]
    assert head["is_true_stimuli"] == m["is_true_stimuli"]["mean"]
    assert gc["embedding_shuffled"]["iou"] == full["iou"]  # this generator ignores the embedding
    d = gc["saliency_vs_shuffled"]
    assert d["iou"]["diff"] > 0.4 and d["iou"]["ci95"][0] > 0 and d["centroid_err"]["ci95"][1] < 0
    ceiling = m["true_caption_ceiling"]
    assert "12way_top1" in ceiling and ceiling["iou"] == 0.0  # text-only: no layout, by construction
    assert m["true_caption_decoded_maps"]["iou"] == full["iou"]  # the decoded maps, at the sampler's strength
    assert m["is_true_stimuli"]["shuffled"]


def test_maps_at_true_attributes_take_the_stimulus_centroid_and_size_and_keep_the_decoded_colours(tmp_path):
    """The diagnostic that splits the maps' IoU into where-decoding and drawing, and where-decoding into centroid
    and size: a decoder that puts every object at the image centre, 0.2 in size, has no centroid correlation;
    redrawn at the stimulus's own centroid and size its maps follow the stimuli (r ~ 1), with the decoded colours
    unchanged; the true centroid alone moves them too, the true size alone resizes them where they were."""
    from torch import nn

    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.decoders.attributes import N_ATTRIBUTES
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.eval.metrics import object_metrics
    from eegviz.eval.report import _maps_at_true_attributes, object_truth
    from eegviz.stream.preprocess import InputSpec, prepare_epochs
    from eegviz.data.targets import stimulus_targets

    ds = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3))
    te = ds.subset("test")
    spec = InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin,
                     tmax=ds.tmin + ds.eeg.shape[-1] / ds.sfreq)
    dec = TwoBranchDecoder(spec, ds.classes, feat_dim=16, z_dim=4, saliency_size=32, n_tokens=4, text_dim=8)

    class Centred(nn.Module):  # every object decoded at the centre, 0.2 in size, red on grey
        def forward(self, x, classes=None):
            a = torch.zeros(len(x), N_ATTRIBUTES)
            a[:, :4] = torch.tensor([0.5, 0.5, 0.2, 0.3])
            a[:, 4:7] = torch.tensor([1.0, 0.0, 0.0])
            a[:, 7:] = 0.5
            return a

    dec.attributes = Centred()
    disc = (torch.linspace(-1, 1, 32)[None, :] ** 2 + torch.linspace(-1, 1, 32)[:, None] ** 2) < 0.6 ** 2
    dec.saliency.shape_logits = lambda z, feat: torch.where(disc, 12.0, -12.0).expand(len(z), 1, 32, 32)
    stimuli = stimulus_targets(ds.image_ids[te], 32)[0].transpose(0, 2, 3, 1)
    o = dec.forward(prepare_epochs(ds.eeg[te], spec))
    truth, _ = object_truth(ds, te, 32)
    as_decoded = object_metrics(o["saliency"], *truth)
    diag = _maps_at_true_attributes(ds, dec, te, stimuli, o["feature"], o["attributes"])
    at_true, centroid, size = diag["at_true_place"], diag["at_true_centroid"], diag["at_true_size"]
    assert not as_decoded["centroid_r_x"] > 0.2  # all at the centre: nothing to correlate (r undefined)
    assert at_true["centroid_r_x"] > 0.95 and at_true["centroid_r_y"] > 0.95
    assert at_true["centroid_err"] < 0.03 < as_decoded["centroid_err"]
    assert at_true["iou"] > as_decoded["iou"] + 0.1
    assert at_true["colour_acc"] == as_decoded["colour_acc"]  # the colours stay the decoded ones
    # the split: the true centroid alone moves the maps to the stimuli; the true size alone leaves them centred
    assert centroid["centroid_r_x"] > 0.95 and centroid["centroid_err"] < 0.03
    assert not size["centroid_r_x"] > 0.2 and abs(size["centroid_err"] - as_decoded["centroid_err"]) < 0.02
    assert size["iou"] != as_decoded["iou"] and centroid["iou"] > as_decoded["iou"] + 0.1
    # the unturned true silhouettes: the stimuli's own place, size and colour; only the turn (<= 0.4 rad) is off
    ref = diag["unturned_reference"]
    assert ref["colour_acc"] == 1.0 and ref["centroid_err"] < 0.02 and 0.5 < ref["iou"] < 1.0


def test_eval_refuses_data_cut_at_another_window(tmp_path):
    """The shipped model's rate and sample count, but epochs from -0.3 s instead of its -0.1 s: every sample 50
    off what the decoder learnt. It used to be scored without a word (top-1 at chance)."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=1, tmin=-0.3, tmax=0.4)
    with pytest.raises(EegvizError) as err:
        evaluate(data, default_model_dir(), tmp_path / "r", controls=False)
    assert str(err.value) == ("the dataset's epochs (128 ch, 250 Hz, 175 samples from -0.3 s) differ from the "
                              "model's (128 ch, 250 Hz, 175 samples from -0.1 s)")
    assert not (tmp_path / "r").exists()


def test_eval_refused_late_leaves_no_report_folder(tmp_path):
    """A broken stimulus classifier is found only after decoding; the --out folder used to be made before that,
    and stayed behind empty."""
    import shutil

    from eegviz.data.synthetic import simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    model = shutil.copytree(default_model_dir(), tmp_path / "m", ignore=shutil.ignore_patterns("unet", "vae", "report"))
    (model / "stimulus_classifier" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=1, seed=2)  # images the model never saw
    with pytest.raises(EegvizError, match="stimulus_classifier"):
        evaluate(data, model, tmp_path / "r", controls=False, generator=_MapPainter())
    assert not (tmp_path / "r").exists()


def test_a_classifier_is_not_scored_on_stimuli_of_its_own_render_seed(tmp_path):
    from eegviz.errors import EegvizError
    from eegviz.eval.report import check_classifier_unseen

    (tmp_path / "training.json").write_text(json.dumps({"generator": {"classifier": {"render_seed": 1}}}))
    check_classifier_unseen(tmp_path, ["cup_003", "star_001"])  # seed 0 stimuli: unseen by it
    with pytest.raises(EegvizError, match="renders of seed 1") as err:
        check_classifier_unseen(tmp_path, ["cup_003_s1"])  # `simulate --seed 1`: the pictures it learnt from
    # the cure it names is the model's own world: another seed simulates other brains (other class patterns,
    # eegviz.world.eeg_sim), where the model scores chance; the message used to send users there
    assert "the model's own --seed" in str(err.value) and "other brains" in str(err.value)
    check_classifier_unseen(tmp_path / "none", ["cup_003_s1"])  # no training.json: nothing to check


def test_eval_refuses_test_images_the_model_trained_on(tmp_path):
    """A dataset simulated with another --images holds out other images: with 2 a class, image 1 of each class is
    "test", and the shipped model (--images 50) trained on images 0-39. Eval scored them as test figures (class
    top-1 1.000) without a word; the model folder now records the images it saw (seen_images.json)."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=2)
    with pytest.raises(EegvizError) as err:
        evaluate(data, default_model_dir(), tmp_path / "r", controls=False, generator=_MapPainter())
    assert str(err.value).startswith("of this dataset's 40 test trials, 40 show images it trained on (")
    assert "the model's own --seed and --images" in str(err.value) and "other brains" in str(err.value)
    assert not (tmp_path / "r").exists()


def test_seen_images_are_counted_by_role(tmp_path):
    from eegviz.data.seen_images import FILE, check_unseen, count_seen
    from eegviz.errors import EegvizError

    assert count_seen(tmp_path, ["cup_003"]) is None  # a folder made before the record: nothing to count
    (tmp_path / FILE).write_text(json.dumps({"train": ["cup_000", "cup_001"], "val": ["cup_002"]}))
    assert check_unseen(tmp_path, ["cup_003", "cup_004"]) == {"train": 0, "val": 0, "trials": 2}
    assert count_seen(tmp_path, ["cup_000", "cup_000", "cup_002", "cup_009"]) == {"train": 2, "val": 1,
                                                                                    "trials": 4}
    with pytest.raises(EegvizError, match="of this dataset's 2 test trials, 1 shows images it made its choices on"):
        check_unseen(tmp_path, ["cup_002", "cup_009"])
    # eegviz train's own evaluation (its dataset's split, already judged by the loader) counts instead: refusing
    # after the whole run would cost the model card
    assert check_unseen(tmp_path, ["cup_002", "cup_009"], refuse=False) == {"train": 0, "val": 1, "trials": 2}
    (tmp_path / FILE).write_text(json.dumps({"train": [1, 2], "val": []}))
    with pytest.raises(EegvizError, match="must hold lists of image ids"):
        count_seen(tmp_path, ["cup_000"])


def test_the_constant_guess_is_chosen_without_the_test_split(tmp_path):
    """Its threshold comes from the training silhouettes and the validation images: the same image whatever
    the test trials are, so it is a baseline, not a fit to the test split."""
    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.eval.report import constant_guess

    ds = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3))
    te = ds.subset("test")
    a, b = constant_guess(ds, te, 32), constant_guess(ds, te[:5], 32)
    assert a["level"] == b["level"] and a["val_iou"] == b["val_iou"]
    assert np.array_equal(a["trials"]["iou"][:5], b["trials"]["iou"])
    assert len({tuple(c) for c in a["trials"]["pred_centroid"]}) == 1  # one image for every trial
    only_test = load_dataset(simulate_dataset(tmp_path / "t", subjects=1, n_per_class=1))  # no train/val split
    assert constant_guess(only_test, only_test.subset("test"), 32) is None


def test_eval_skips_the_controls_where_training_holds_one_class(tmp_path, caplog):
    """A dataset whose training (and test) trials are all of one class has no probe to refit: eval ended in
    scikit-learn's ValueError traceback after decoding (and, with reconstructions, after generating). Now the
    report is written and the controls say why they were skipped, with no controls plot and no checks in the
    headline."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    # 2 subjects of 3 images a class: class 0's 2 test trials (a test split of one trial is refused), in 240
    # trials (1 subject of 20 images a class gave the 2 in 800)
    data = simulate_dataset(tmp_path / "d", subjects=2, n_per_class=3, seed=2)
    meta = dict(np.load(data / "meta.npz"))
    meta["split"] = np.where(meta["labels"] != 0, "val", meta["split"])  # training and test trials: class 0
    np.savez(data / "meta.npz", **meta)
    m = evaluate(data, default_model_dir(), tmp_path / "r", reconstructions=False)
    assert "one class" in m["controls"]["skipped"] and "controls" not in m["headline"]
    assert not (tmp_path / "r" / "controls.png").exists()
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["controls"] == m["controls"]
    assert f"confound controls skipped: {m['controls']['skipped']}" in caplog.text  # not only in metrics.json


def test_a_dataset_without_training_trials_is_scored_by_the_models_own_classes(tmp_path):
    """`eegviz simulate --images 2` puts every image in the test or validation split. The shipped model has a
    prototype for each of its 40 classes, yet eval called the split zero-shot (its test classes have no training
    trials in this dataset) and reported caption retrieval instead of class top-1. The controls, which do refit
    on this dataset's training split, are skipped with that reason."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.eval.report import evaluate, zero_shot_split
    from eegviz.paths import default_model_dir

    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=2, seed=2)
    m = evaluate(data, default_model_dir(), tmp_path / "r", reconstructions=False)
    assert "zero_shot" not in m and 0 <= m["eeg_class_top1"] <= 1 and m["headline"]["chance"] == 1 / 40
    # the figure stands beside what could refute it: its interval and a guesser's band. Seed 2 simulates other
    # brains than the model learnt (eegviz.world.eeg_sim), so its top-1 lies inside the guesser's band
    h = m["headline"]
    lo, hi = h["ci95"]
    assert lo <= m["eeg_class_top1"] <= hi and lo <= 1 / 40 <= hi and m["eeg_class_top1_n_effective"] == 40
    assert h["chance_band95"][0] <= m["eeg_class_top1"] <= h["chance_band95"][1]
    assert m["controls"]["skipped"].startswith("the training split holds no trials")
    from eegviz.data.synthetic import load_dataset

    ds = load_dataset(data)
    assert zero_shot_split(ds)  # without a decoder the dataset's training split stands in, as before


def test_shuffled_controls_never_pair_a_trial_with_itself(tmp_path):
    """The controls pair each trial with another trial's map, caption or latent (_shuffle). A plain seeded
    permutation left about one trial in place whatever the size (3 of the shipped 400 test trials), and for 2 or
    3 trials it moved none, so the maps "shuffled across trials" scored exactly what the decoded maps scored."""
    from eegviz.data.synthetic import load_dataset, simulate_dataset
    from eegviz.data.targets import stimulus_targets
    from eegviz.eval.report import _saliency_objects, _shuffle

    for n in [*range(2, 60), 200, 400, 1000]:
        perm = _shuffle(n)
        assert sorted(perm.tolist()) == list(range(n)) and not (perm == np.arange(n)).any(), n
    plain = np.random.default_rng(1).permutation(400)  # only the trials it left in place are moved
    assert (_shuffle(400) != plain).sum() == 3
    ds = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3, seed=2))
    te = ds.subset("test")[:3]
    sal = stimulus_targets(ds.image_ids[te], 32)[0].transpose(0, 2, 3, 1)  # perfect maps
    out = _saliency_objects(ds, te, sal)
    assert out["iou"] > 0.95 and out["shuffled_control"]["iou"] < out["iou"] - 0.2


def test_eval_refuses_a_test_split_of_one_trial(tmp_path):
    """One test trial has no other trial to pair with: every shuffled control was the trial itself, reported
    beside the figure as if it were a control (mask IoU, top-1 and IS equal to the decoded ones), and
    reconstructions.png showed that one trial in all ten columns."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3, seed=2)
    meta = dict(np.load(data / "meta.npz"))
    test = np.flatnonzero(meta["split"] == "test")
    meta["split"][test[1:]] = "val"
    np.savez(data / "meta.npz", **meta)
    with pytest.raises(EegvizError, match="test split holds one trial.*two trials or more"):
        evaluate(data, default_model_dir(), tmp_path / "r", controls=False, reconstructions=False)
    assert not (tmp_path / "r").exists()


def test_reconstructions_png_shows_each_of_few_test_trials_once(tmp_path):
    """Fewer test trials than the plot's ten columns: ten indices spaced over 3 trials showed each of them three
    or four times side by side, as if several trials agreed; now one column per trial (the figure 3 columns
    wide), and a single column draws too."""
    from eegviz.eval.report import _plot

    rng = np.random.default_rng(0)
    for n in (3, 1):
        img = rng.random((n, 16, 16, 3)).astype(np.float32)
        out = tmp_path / str(n)
        out.mkdir()
        _plot(out, img, img, {"label+saliency": (img * 255).astype(np.uint8)}, np.arange(n), ["a", "b", "c"])
        with Image.open(out / "reconstructions.png") as png:
            assert png.size[0] == round(n * 1.2 * 100)
    # each row shows its own images: three flat colours, each drawn (the figure is one mosaic, not a grid of axes)
    flat = lambda rgb: np.broadcast_to(np.array(rgb, np.float32), (3, 16, 16, 3))
    _plot(tmp_path, flat((1, 0, 0)), flat((0, 1, 0)), {"x": (flat((0, 0, 1)) * 255).astype(np.uint8)},
          np.arange(3), ["a", "b", "c"])
    with Image.open(tmp_path / "reconstructions.png") as png:
        px = np.asarray(png.convert("RGB")).reshape(-1, 3)
    for rgb in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
        assert (px == rgb).all(1).sum() > 3 * 50 * 50, rgb  # three cells of ~100 px square each


def test_eval_refusing_other_channels_of_the_same_count_says_which(tmp_path):
    """The model's channel count, rate and window, but two channels swapped (or renamed): the refusal read
    "(128 ch, 250 Hz, 175 samples from -0.1 s) differ from the model's (128 ch, 250 Hz, 175 samples from -0.1
    s)", two equal descriptions. It now names the first channel that differs, and whether only the order does."""
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.errors import EegvizError
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=1, seed=2)
    meta = json.loads((data / "dataset.json").read_text())
    names = meta["ch_names"]
    for new, how in (([names[1], names[0], *names[2:]], "the same channels in another order"),
                     ([*names[:5], "Cz2", *names[6:]], "other channel names")):
        meta["ch_names"] = new
        (data / "dataset.json").write_text(json.dumps(meta))
        with pytest.raises(EegvizError) as err:
            evaluate(data, default_model_dir(), tmp_path / "r", controls=False)
        i = 0 if new[0] != names[0] else 5
        assert str(err.value).endswith(f"(128 ch, 250 Hz, 175 samples from -0.1 s): {how} (channel {i + 1} is "
                                       f"{new[i]!r} where the model has {names[i]!r})")
        assert not (tmp_path / "r").exists()


def test_the_headline_gives_the_reconstruction_n_way_its_own_chance():
    """An outside classifier scores N-way over its own classes: a 3-class dataset's reconstructions 7-way stood in
    the headline beside "chance" 0.333, the dataset's, where a guess is 1/7."""
    from eegviz.eval.report import _headline_figures

    row = {"ssim": 0.5, "7way_top1": 0.3, "is": {"mean": 2.0}}
    metrics = {"headline": {"eeg_class_top1": 0.5, "chance": 1 / 3}, "n_way": 7, "n_way_chance": 1 / 7,
               "ablation": {"label+saliency": row}, "generation_controls": {"saliency_shuffled": row},
               "ssim_flat_baselines": {"background": 0.4}, "is_true_stimuli": {"mean": 3.0}}
    _headline_figures(metrics)
    assert metrics["headline"]["reconstruction_7way_top1_chance"] == pytest.approx(1 / 7)
    assert metrics["headline"]["chance"] == pytest.approx(1 / 3)  # the class decoding's, unchanged


def test_the_embedding_cosine_is_taken_against_the_caption_the_model_regresses(tmp_path, monkeypatch):
    """A `--caption rich` model regresses each image's rich caption; its cosine (and the shuffled control beside
    it) was taken against the label caption, so a decoder that returned the rich captions exactly scored below 1."""
    from eegviz.data import loaders
    from eegviz.data.dataset import EEGDataset
    from eegviz.data.targets import captions_for
    from eegviz.decoders.text import make_text_encoder
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.eval import report
    from eegviz.stream.preprocess import InputSpec

    ids = np.array([f"img{k}" for k in range(8)])
    ds = EEGDataset(eeg=np.zeros((8, 4, 50), np.float32), labels=np.arange(8) % 2, image_ids=ids,
                    subjects=np.zeros(8, np.int64), split=np.array(["train"] * 4 + ["test"] * 4),
                    ch_names=("a", "b", "c", "d"), sfreq=100.0, tmin=-0.1, classes=["cat", "dog"],
                    captions={i: f"a {'big' if k % 3 else 'small'} {('cat', 'dog')[k % 2]} number {k}"
                              for k, i in enumerate(ids)})
    monkeypatch.setattr(loaders, "open_dataset", lambda *a, **k: ds)
    spec = InputSpec(ch_names=ds.ch_names, sfreq=ds.sfreq, tmin=ds.tmin, tmax=ds.tmin + 0.5)
    TwoBranchDecoder(spec, ds.classes, n_tokens=4, text_dim=32, caption="rich", text_encoder="hash").save(
        tmp_path / "model")
    text = make_text_encoder("hash", 4, 32)

    def perfect(ds, dec, idx, batch=64):  # the rich captions themselves, as a perfect semantic branch gives them
        n = len(idx)
        return {"scores": np.eye(2)[ds.labels[idx]], "saliency": np.zeros((n, 32, 32, 3), np.float32),
                "embedding": text.encode(captions_for(ds, idx, "rich"))}

    monkeypatch.setattr(report, "decode_split", perfect)
    m = report.evaluate(tmp_path / "data", tmp_path / "model", tmp_path / "report", controls=False,
                        reconstructions=False)
    assert m["embedding_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert m["embedding_cosine_shuffled"] < 0.99


def test_classes_that_differ_are_named_where_their_counts_agree():
    """THINGS-EEG2 evaluated without its image_metadata.npy names its concepts 'concept 0000' ...: the refusal said
    "trained on 14 classes that differ from the dataset's 14", two equal counts and no word of what differed."""
    from types import SimpleNamespace

    from eegviz.errors import EegvizError
    from eegviz.eval.report import _check_compatible

    ds = SimpleNamespace(classes=["concept 0000", "concept 0001"])
    dec = SimpleNamespace(class_names=["aardvark", "abacus"], spec=None)
    with pytest.raises(EegvizError) as err:
        _check_compatible(ds, dec, "models/things")
    assert str(err.value) == ("the model in models/things was trained on 2 classes that differ from the dataset's 2 "
                              "(class 1 is 'concept 0000' where the model has 'aardvark'); evaluate it on data with "
                              "the same classes")


def test_an_evaluation_at_another_threshold_than_training_says_both_in_the_same_words(tmp_path, caplog):
    """The warning read 'trained with --reject-uv 150 and this evaluation's is none': a threshold without its unit
    beside a word the option never takes. Both sides are 'off' or 'N uV' now; the same threshold says nothing."""
    from eegviz.eval.report import _say_other_threshold

    (tmp_path / "training.json").write_text(json.dumps({"reject_uv": 150.0}))
    with caplog.at_level("WARNING", logger="eegviz.eval.report"):
        _say_other_threshold(tmp_path, None)
        _say_other_threshold(tmp_path, 150.0)
        (tmp_path / "training.json").write_text(json.dumps({}))
        _say_other_threshold(tmp_path, 80.0)
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path} was trained with --reject-uv 150 uV and this evaluation's is off: its figures are not on the "
        "epochs its own evaluation kept",
        f"{tmp_path} was trained with --reject-uv off and this evaluation's is 80 uV: its figures are not on the "
        "epochs its own evaluation kept"]
