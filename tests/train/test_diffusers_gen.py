"""The in-house diffusers generator's training: each stage learns on a tiny run, the saved folder is a standard
diffusers pipeline that loads offline and samples as __call__ does, and seeds change what they should."""

import json
import warnings

import numpy as np
import pytest
import torch

from eegviz.decoders.text import HashTextEncoder
from eegviz.train import renders
from eegviz.train.autoencoder import train_autoencoder
from eegviz.train.diffusion import build_scheduler, build_unet, train_teacher
from eegviz.train.distill import distill
from eegviz.train.pipeline_folder import build_pipeline, img2img, load_components, save_pipeline

SIZE = 32
TINY_AE = {"channels": (8, 16, 16)}
TINY_UNET = {"channels": (16, 32, 32), "head_dim": 8}


@pytest.fixture(scope="module")
def text():
    return HashTextEncoder(n_tokens=16, dim=32)


@pytest.fixture(scope="module")
def vae_run():
    torch.set_num_threads(1)
    return train_autoencoder(steps=20, batch=4, size=SIZE, config=TINY_AE, lr=3e-3, log_every=0)


@pytest.fixture(scope="module")
def teacher_run(vae_run, text):
    return train_teacher(vae_run[0].requires_grad_(False), text, steps=24, batch=4, size=SIZE, config=TINY_UNET,
                         lr=2e-3, log_every=0)


def test_autoencoder_loss_falls_and_latents_are_scaled(vae_run):
    vae, m = vae_run
    assert m["steps"] == 20 and m["loss_last"] < 0.8 * m["loss_first"]
    assert vae.config.scaling_factor == pytest.approx(m["scaling_factor"]) and m["scaling_factor"] > 0


def test_teacher_loss_falls(teacher_run):
    _, m = teacher_run
    assert m["steps"] == 24 and m["loss_last"] < m["loss_first"]
    assert m["prediction"] == "v" and m["p_uncond"] > 0 and m["p_degraded"] > 0


def test_distill_loss_falls(vae_run, teacher_run, text):
    from eegviz.train.diffusion import Captions, LatentBatches
    from eegviz.train.distill import distill_loss

    teacher, vae = teacher_run[0], vae_run[0]
    student, m = distill(teacher, vae, text, steps=30, batch=4, size=SIZE, lr=1e-3, teacher_steps=2,
                         guidance=2.0, log_every=0)
    assert m["steps"] == 30 and any((a - b).abs().max() > 0 for a, b in zip(student.parameters(), teacher.parameters()))

    def held_loss(unet):  # the same fresh batch (same seed) for the starting point and the trained student
        rng = np.random.default_rng(5)
        with torch.no_grad():
            return distill_loss(unet, teacher, build_scheduler(), LatentBatches(vae, rng, SIZE), Captions(text, p_uncond=0),
                                rng, batch=16, guidance=2.0, teacher_steps=2, anchor=0.1).item()

    assert held_loss(student) < held_loss(teacher)  # the student starts as the teacher


def test_paired_targets_run_the_teacher_only_where_no_pair_exists(vae_run, teacher_run, text):
    """paired = 1: blob starts are trained on the true latent, so the teacher sees only the noise and second-pass
    samples (its guided passes batch cond + uncond: twice their number); paired = 0 runs it on the whole batch.
    With the same fresh batch, the paired loss on the student-as-teacher differs from the distillation loss."""
    from eegviz.train.diffusion import Captions, LatentBatches
    from eegviz.train.distill import distill_loss, student_timesteps

    teacher, vae = teacher_run[0], vae_run[0]
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x, t, encoder_hidden_states):
            seen.append(len(x))
            return teacher(x, t, encoder_hidden_states=encoder_hidden_states)

    def loss(paired):
        seen.clear()
        rng = np.random.default_rng(7)
        with torch.no_grad():
            return distill_loss(teacher, Spy(), build_scheduler(), LatentBatches(vae, rng, SIZE),
                                Captions(text, p_uncond=0), rng, batch=16, guidance=2.0, teacher_steps=2, anchor=0.0,
                                paired=paired).item(), list(seen)

    _, from_blob = student_timesteps(np.random.default_rng(7), 16)
    assert 0 < int(from_blob.sum()) < 16
    l0, calls0 = loss(0.0)
    l1, calls1 = loss(1.0)
    assert calls0 == [32, 32] and calls1 == [2 * (16 - int(from_blob.sum()))] * 2
    assert l1 != pytest.approx(l0)


def _inputs(text, n=2):
    specs = renders.heldout_specs(1, renders.TEST_SEED)[:n]
    _, _, blobs = renders.render_with_blobs(specs, SIZE, jitter=False)
    init = torch.from_numpy(blobs).permute(0, 3, 1, 2)
    return init, torch.from_numpy(text.encode([s.label_caption for s in specs]))


def test_folder_loads_offline_and_matches_the_pipeline_call(tmp_path, monkeypatch, vae_run, teacher_run, text):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vae, unet, sched = vae_run[0], teacher_run[0], build_scheduler()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_pipeline(tmp_path, vae, unet, sched, {"steps": 2, "strength": 0.7, "image_size": SIZE})
    # diffusers' SD pipelines print the whole scheduler config as a deprecation unless steps_offset is 1
    assert not [w for w in caught if "steps_offset" in str(w.message)]
    index = json.loads((tmp_path / "model_index.json").read_text())
    sampling = json.loads((tmp_path / "sampling.json").read_text())
    assert index["_class_name"] == "StableDiffusionImg2ImgPipeline" and index["text_encoder"] == [None, None]
    assert sampling["guidance"] == 1.0 and sampling["text_encoder"] == "minilm" and sampling["timesteps"] == [666, 332]
    for sub in ("vae", "unet", "scheduler"):
        assert (tmp_path / sub).is_dir()
    v2, u2, s2 = load_components(tmp_path)
    assert s2.config.prediction_type == "v_prediction" and s2.config.timestep_spacing == "trailing"
    init, emb = _inputs(text)
    ours = img2img(v2, u2, s2, init, emb, steps=2, strength=0.7, generator=torch.Generator().manual_seed(3))
    pipe = build_pipeline(v2, u2, s2)
    theirs = pipe(prompt_embeds=emb, image=init, strength=0.7, num_inference_steps=3, guidance_scale=1.0,
                  output_type="pt", generator=torch.Generator().manual_seed(3)).images
    assert ours.shape == (2, 3, SIZE, SIZE)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_seed_changes_the_image_and_text_only_ignores_the_init(vae_run, teacher_run, text):
    vae, unet, sched = vae_run[0], teacher_run[0], build_scheduler()
    init, emb = _inputs(text)

    def run(x, seed, strength=0.7):
        return img2img(vae, unet, sched, x, emb, steps=1, strength=strength, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(init, 0), run(init, 0))
    assert (run(init, 0) - run(init, 1)).abs().max() > 1e-3
    assert (run(init, 0) - run(torch.full_like(init, 0.15), 0)).abs().max() > 1e-3  # img2img: the init matters
    # strength 1 starts from pure noise (zero terminal SNR): same seed, any init, same image
    assert torch.allclose(run(init, 0, 1.0), run(torch.full_like(init, 0.15), 0, 1.0), atol=1e-5)


def test_blob_init_keeps_place_and_colour_not_shape():
    from eegviz.eval.metrics import centroids

    specs = renders.heldout_specs(1, renders.VAL_SEED)[:8]
    images, masks, blobs = renders.render_with_blobs(specs, 64, jitter=False)
    bg = np.array([s.background for s in specs])[:, None, None]
    weight = np.linalg.norm(blobs - bg, axis=-1)
    true_c, _ = centroids(masks)
    blob_c, _ = centroids(weight)
    assert np.abs(true_c - blob_c).max() < 0.05  # the blob sits where the object is
    peak = blobs.reshape(8, -1, 3)[np.arange(8), weight.reshape(8, -1).argmax(1)]
    assert np.abs(peak - np.array([s.color for s in specs])).max() < 0.1  # in the object's colour
    assert np.abs(blobs - images).mean() > 0.01  # but not the image itself
    rng = np.random.default_rng(0)
    kept = masks.astype(np.float32)  # float32, as renders give them: the case a shared tensor would write into
    before = kept.copy()
    assert not np.allclose(renders.blob_init(specs, kept, rng), blobs)  # training jitters it
    np.testing.assert_array_equal(kept, before)  # and leaves the caller's silhouettes as they were


def test_ellipse_init_keeps_place_size_and_colour_and_drops_the_shape():
    """The shapeless control: same centroid as the silhouette; a ring's hole is filled in; a disc, whose own
    ellipse it is, comes back as itself (IoU and area)."""
    from eegviz.eval.metrics import centroids
    from eegviz.world.stimuli import CLASSES, make_spec, render_batch

    ring, star, disc = (make_spec(CLASSES.index(c), 0, renders.VAL_SEED) for c in ("ring", "star", "circle"))
    specs = [ring, star, disc]
    _, masks = render_batch(specs, 64)
    ell = renders.ellipse_init(specs, masks)
    bg = np.array([s.background for s in specs])[:, None, None]
    weight = np.linalg.norm(ell - bg, axis=-1) / np.linalg.norm(np.array([s.color for s in specs]) - bg[:, 0, 0], axis=-1)[:, None, None]
    assert np.abs(centroids(masks)[0] - centroids(weight)[0]).max() < 0.02
    cy, cx = (int(round(v)) for v in np.argwhere(masks[0] > 0.5).mean(0))
    assert masks[0, cy, cx] < 0.1 and weight[0, cy, cx] > 0.9  # the ring's hole is filled in
    inside = weight[2] > 0.5
    iou = (inside & (masks[2] > 0.5)).sum() / (inside | (masks[2] > 0.5)).sum()
    assert iou > 0.85  # a disc's ellipse is the disc
    assert 0.7 < inside.sum() / (masks[2] > 0.5).sum() < 1.3


def test_heldout_seeds_are_not_training_seeds():
    specs = renders.fresh_specs(50, np.random.default_rng(0))
    seeds = {int(s.image_id.rsplit("_s", 1)[1]) for s in specs}
    assert min(seeds) >= renders.FRESH_SEED0 and renders.VAL_SEED not in seeds and renders.TEST_SEED not in seeds
    with pytest.raises(ValueError):
        renders.heldout_specs(1, renders.FRESH_SEED0 + 5)


def test_classifier_keeps_its_training_size_and_classes(tmp_path):
    """The classifier's config travels with its weights: a 64 px classifier judges at 64 px and names its own
    outputs; a folder with broken weights is a one-line error."""
    import torch

    from eegviz.errors import EegvizError
    from eegviz.eval.classifier import StimulusClassifier, has_classifier, load_classifier, save_classifier
    from eegviz.world.stimuli import CLASSES

    clf = StimulusClassifier(list(reversed(CLASSES)), size=64)
    folder = save_classifier(clf, tmp_path)
    assert has_classifier(tmp_path) and not has_classifier(tmp_path / "nothing")
    back = load_classifier(tmp_path)
    assert back.size == 64 and back.classes == list(reversed(CLASSES))
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(back(x), clf.eval()(x))
    for f in folder.glob("*.safetensors"):
        f.write_bytes(b"not weights")
    with pytest.raises(EegvizError, match="corrupt"):
        load_classifier(tmp_path)


def test_an_earlier_run_folder_is_never_written_into(tmp_path, capsys):
    """--out naming an earlier run (or a model folder) is refused before anything is written: a rerun with the
    same --out used to replace its generator, results.json and sampling.json."""
    from eegviz.train.diffusers_gen import main

    out = tmp_path / "earlier"
    (out / "unet").mkdir(parents=True)
    (out / "results.json").write_text("{}")
    before = sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert main(["--out", str(out), "--tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eegviz: --out") and "already holds files" in err and len(err.splitlines()) == 1
    assert sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*")) == before


def test_missing_classifier_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    from eegviz.train.diffusers_gen import main

    out = tmp_path / "gen"
    assert main(["--out", str(out), "--classifier", str(tmp_path / "no-such-model"), "--tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eegviz: ") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    assert main(["--out", str(out), "--tiny", "--ae-steps", "-5"]) == 2  # used to start training
    assert "--ae-steps must be >= 1, not -5" in capsys.readouterr().err and not out.exists()
    for flag in ("--threads", "--test-per-class", "--classifier-images"):  # a traceback / trained on
        assert main(["--out", str(out), "--tiny", flag, "0"]) == 2
        assert f"{flag} must be" in capsys.readouterr().err and not out.exists()


def test_a_rejected_autoencoder_is_one_line_from_the_module_command(tmp_path, capsys):
    """`python -m eegviz.train.diffusers_gen` with an autoencoder far too short to pass: one line, exit 2 (it was a
    traceback), its stage kept in out/stages."""
    from eegviz.paths import default_model_dir
    from eegviz.train.diffusers_gen import main

    torch.set_num_threads(1)
    out = tmp_path / "gen"
    assert main(["--out", str(out), "--classifier", str(default_model_dir()), "--ae-steps", "1", "--ae-batch", "2",
                 "--val-per-class", "1", "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "below the 0.97 acceptance line" in err and "Traceback" not in err
    assert (out / "stages" / "vae.json").is_file() and not (out / "model_index.json").exists()


def test_teacher_continues_from_saved_weights(vae_run, teacher_run, text, tmp_path):
    """init: training resumes from a saved teacher (its architecture, its weights), not from a fresh UNet."""
    from eegviz.train.diffusers_gen import load_stage

    teacher = teacher_run[0]
    teacher.save_pretrained(tmp_path / "teacher")
    saved = load_stage(tmp_path / "teacher", "UNet2DConditionModel")
    more, m = train_teacher(vae_run[0], text, steps=2, batch=4, size=SIZE, lr=1e-9, log_every=0, init=saved,
                            config={"channels": (8, 8, 8)})  # ignored: the saved UNet's architecture wins
    assert m["continued_from_earlier_run"] and m["config"]["channels"] == [16, 32, 32]
    for a, b in zip(more.parameters(), teacher.parameters()):  # a ~zero learning rate keeps the saved weights
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    fresh = train_teacher(vae_run[0], text, steps=1, batch=4, size=SIZE, config=TINY_UNET, log_every=0)[1]
    assert not fresh["continued_from_earlier_run"]


@pytest.mark.parametrize("flag", ["--vae-from", "--teacher-from", "--student-from"])
def test_missing_stage_folder_is_one_line_and_writes_nothing(tmp_path, capsys, flag):
    from eegviz.train.diffusers_gen import main

    (tmp_path / "empty").mkdir()
    out = tmp_path / "gen"
    assert main(["--out", str(out), flag, str(tmp_path / "empty"), "--tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eegviz: ") and "holds no saved" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_corrupt_stage_folder_is_one_line_and_writes_nothing(tmp_path, capsys, vae_run):
    from eegviz.train.diffusers_gen import main

    vae_run[0].save_pretrained(tmp_path / "vae")
    weights = next((tmp_path / "vae").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    out = tmp_path / "gen"
    assert main(["--out", str(out), "--vae-from", str(tmp_path / "vae"), "--tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eegviz: ") and "is corrupt or does not fit" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_paired_weight_outside_0_1_is_one_line_and_writes_nothing(tmp_path, capsys):
    from eegviz.train.diffusers_gen import main

    out = tmp_path / "gen"
    assert main(["--out", str(out), "--tiny", "--paired", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "eegviz: --paired is a weight between 0 and 1, not 1.5"
    assert not out.exists()


def test_a_rerun_reuses_the_autoencoder_and_continues_the_teacher(tmp_path, vae_run):
    """python -m eegviz.train.diffusers_gen --vae-from/--teacher-from/--student-from: the run keeps the earlier
    autoencoder exactly, trains on from the earlier teacher and student (here with paired targets), scores the
    autoencoder with its own classifier, and records all of it."""
    from eegviz.eval.classifier import StimulusClassifier, save_classifier
    from eegviz.train.diffusers_gen import main
    from eegviz.world.stimuli import CLASSES

    torch.set_num_threads(1)
    vae_run[0].save_pretrained(tmp_path / "earlier" / "vae")
    earlier = build_unet(384, 16, 4, (16, 32, 32), 1, 8)  # MiniLM's width: the CLI trains in the minilm space
    earlier.save_pretrained(tmp_path / "earlier" / "teacher")
    save_classifier(StimulusClassifier(list(CLASSES), size=64, channels=(4, 4)), tmp_path / "earlier")
    assert main(["--out", str(tmp_path / "b"), "--tiny", "--test-per-class", "1", "--classifier",
                 str(tmp_path / "earlier"), "--vae-from", str(tmp_path / "earlier" / "vae"), "--teacher-from",
                 str(tmp_path / "earlier" / "teacher"), "--guidance", "4", "--student-from",
                 str(tmp_path / "earlier" / "teacher"), "--paired", "1"]) == 0
    rec = json.loads((tmp_path / "b" / "results.json").read_text())
    assert rec["teacher"]["continued_from_earlier_run"] and rec["distill"]["guidance"] == 4.0
    assert rec["distill"]["paired"] == 1.0 and rec["distill"]["continued_from_earlier_student"]
    assert "paired targets" in rec["distill"]["method"] and rec["reused"]["student"].endswith("teacher")
    assert "reused" in rec["autoencoder"] and "acceptance" in rec["autoencoder"]
    assert rec["reused"]["vae"].endswith("vae") and rec["guidance_on_val"] == []  # given, not chosen
    vb = load_components(tmp_path / "b")[0]
    for p, q in zip(vae_run[0].parameters(), vb.parameters()):
        assert torch.equal(p, q)


def test_guidance_is_chosen_on_validation_by_top1_plus_iou(vae_run, teacher_run, text, monkeypatch):
    """choose_guidance scores the teacher at every guidance on the paths whose guided solution distillation makes
    the student's target - text only from either caption and the true picture at the second passes' levels, blob
    starts only where paired < 1 leaves the teacher a share of them - and keeps the guidance with the best mean
    top-1 + IoU; the scores it ranks by are the rows it returns."""
    from eegviz.train import distill, gen_eval

    class Named:  # a classifier that is right exactly where the image is bright enough
        def logits_uint8(self, images):
            out = np.zeros((len(images), 40), np.float32)
            out[np.arange(len(images)), held.labels] = images.mean((1, 2, 3)) > 40
            return out

    held = gen_eval.HeldOut(text, 1, renders.VAL_SEED, size=SIZE)
    empty = torch.from_numpy(text.encode([""]))
    g, rows = gen_eval.choose_guidance(vae_run[0], teacher_run[0], build_scheduler(), held, Named(), empty,
                                       grid=(1.0, 4.0), n_steps=1)
    paired_paths = [("text_only_label", distill.NOISE_TIMESTEP), ("text_only_rich", distill.NOISE_TIMESTEP),
                    ("second_pass_499", 499), ("second_pass_249", 249)]
    assert [(r["guidance"], r["path"], r["t_start"]) for r in rows] == [(k, *p) for k in (1.0, 4.0)
                                                                        for p in paired_paths]
    assert set(gen_eval.GUIDANCE_SECOND) <= set(distill.SECOND_TIMESTEPS)  # levels the student is trained at
    mean = {k: np.mean([r["top1"] + r["iou"] for r in rows if r["guidance"] == k]) for k in (1.0, 4.0)}
    assert g == max(mean, key=mean.get)
    # the teacher's share of the blob targets brings the blob starts in
    _, blended = gen_eval.choose_guidance(vae_run[0], teacher_run[0], build_scheduler(), held, Named(), empty,
                                          grid=(1.0,), paired=0.5, n_steps=1)
    assert [r["path"] for r in blended] == [p for p, _ in paired_paths] + ["blob_666", "blob_499"]
    imgs = gen_eval.teacher_images(vae_run[0], teacher_run[0], build_scheduler(), held.blobs, held.label_states,
                                   empty, t_start=499, guidance=1.0, n_steps=1)
    assert imgs.shape == (40, SIZE, SIZE, 3) and imgs.dtype == np.uint8


def test_resume_loads_finished_stages_and_ends_where_the_uninterrupted_run_does(tmp_path, monkeypatch, text):
    """A run killed in distillation keeps its classifier-judged autoencoder, teacher and guidance choice; resumed,
    it loads them (not trained again) and its student is the uninterrupted run's, weight for weight."""
    import eegviz.train.distill as distill_module
    from eegviz.eval.classifier import StimulusClassifier
    from eegviz.train.diffusers_gen import TINY, train_diffusers_generator
    from eegviz.world.stimuli import CLASSES

    torch.set_num_threads(1)
    from eegviz.train import gen_eval
    from eegviz.train.renders import VAL_SEED

    clf = StimulusClassifier(list(CLASSES), size=64, channels=(4, 4))
    held_seeds, held = [], gen_eval.HeldOut
    monkeypatch.setattr(gen_eval, "HeldOut", lambda text, n, seed, **k: held_seeds.append(seed) or held(text, n, seed, **k))
    whole = train_diffusers_generator(tmp_path / "whole", text, clf, seed=3, **TINY)
    assert held_seeds == [VAL_SEED]  # the guidance and the sampler are chosen on validation renders only
    real = distill_module.distill

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(distill_module, "distill", killed)
    with pytest.raises(KeyboardInterrupt):
        train_diffusers_generator(tmp_path / "cut", text, clf, seed=3, **TINY)
    assert sorted(p.name for p in (tmp_path / "cut" / "stages").glob("*.json")) == ["guidance.json", "teacher.json",
                                                                                      "vae.json"]
    monkeypatch.setattr(distill_module, "distill", real)
    trained = []
    import eegviz.train.autoencoder as ae_module
    import eegviz.train.diffusion as diffusion_module
    monkeypatch.setattr(ae_module, "train_autoencoder", lambda *a, **k: trained.append("vae"))
    monkeypatch.setattr(diffusion_module, "train_teacher", lambda *a, **k: trained.append("teacher"))
    resumed = train_diffusers_generator(tmp_path / "cut", text, clf, seed=3, resume=True, **TINY)
    assert trained == [] and resumed["resumed_stages"] == ["vae", "teacher", "guidance"]
    assert resumed["guidance"] == whole["guidance"] and resumed["sampling"] == whole["sampling"]
    untimed = lambda rec: {k: v for k, v in json.loads(json.dumps(rec)).items() if k != "seconds"}
    assert untimed(resumed["teacher"]) == untimed(whole["teacher"])  # the record, as the stage wrote it
    a, b = load_components(tmp_path / "whole")[1], load_components(tmp_path / "cut")[1]
    assert max(float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters())) == 0.0


@pytest.mark.parametrize("content", ["{", "[1]", '{"accepted": true}'])
def test_a_damaged_stage_record_is_one_line(tmp_path, content):
    from eegviz.errors import EegvizError
    from eegviz.train.diffusers_gen import finished_stage

    (tmp_path / "vae.json").write_text(content)
    with pytest.raises(EegvizError, match="remove it to train that stage again"):
        finished_stage(tmp_path, "vae")
    assert finished_stage(tmp_path, "teacher") is None  # no record: that stage is trained
    (tmp_path / "teacher.json").write_text("{}")  # used at the run's end (its config): refused at the start
    with pytest.raises(EegvizError, match="remove it to train that stage again"):
        finished_stage(tmp_path, "teacher")


def test_an_autoencoder_below_the_acceptance_line_gets_no_generator(tmp_path, monkeypatch, text):
    """Issue 15: the autoencoder is accepted only where the classifier names its reconstructions >= 0.97; a worse one
    is refused in one line after its own stage is kept, and no teacher is trained on it."""
    import eegviz.train.diffusion as diffusion_module
    from eegviz.errors import EegvizError
    from eegviz.eval.classifier import StimulusClassifier
    from eegviz.train.diffusers_gen import TINY, train_diffusers_generator
    from eegviz.world.stimuli import CLASSES

    torch.set_num_threads(1)
    clf = StimulusClassifier(list(CLASSES), size=64, channels=(4, 4))  # untrained: near chance on anything
    monkeypatch.setattr(diffusion_module, "train_teacher", lambda *a, **k: pytest.fail("a teacher was trained"))
    with pytest.raises(EegvizError, match="below the 0.97 acceptance line"):
        train_diffusers_generator(tmp_path, text, clf, seed=3, **{**TINY, "ae_accept": 0.97})
    record = json.loads((tmp_path / "stages" / "vae.json").read_text())
    assert record["accepted"] is False and record["accept_line"] == 0.97
    assert not (tmp_path / "model_index.json").exists()


def test_what_is_returned_is_the_ema_copy_and_dropout_is_the_empty_caption(vae_run, text, monkeypatch):
    """The teacher and the student handed on (saved, evaluated, shipped) are their EMA copies, not the raw weights;
    a dropped caption is the text encoder's encoding of "", the same unconditional input guidance uses."""
    import eegviz.train.diffusion as diffusion_module
    import eegviz.train.distill as distill_module
    from eegviz.train.diffusion import Captions
    from eegviz.train.loop import Ema
    from eegviz.world.stimuli import stimulus_set

    made = []

    class Recorded(Ema):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setattr(diffusion_module, "Ema", Recorded)
    monkeypatch.setattr(distill_module, "Ema", Recorded)
    torch.set_num_threads(1)
    teacher, tm = train_teacher(vae_run[0], text, steps=2, batch=2, size=SIZE, config=TINY_UNET, log_every=0)
    assert teacher is made[-1].module and tm["ema_final_decay"] == made[-1].last_decay < 0.5 < tm["ema"]
    student, _ = distill_module.distill(teacher, vae_run[0], text, steps=2, batch=2, size=SIZE, teacher_steps=1,
                                        log_every=0)
    assert student is made[-1].module and student is not teacher

    caps = Captions(text, p_uncond=1.0)
    ctx = caps.sample(stimulus_set(1)[:5], np.random.default_rng(0))
    assert torch.equal(ctx, torch.from_numpy(text.encode([""])).expand(5, -1, -1))


def test_the_sampler_is_the_validation_rows_best_and_validation_renders_are_its_only_input(monkeypatch):
    """choose_sampling keeps the grid row with the highest top-1 + IoU, scored on the renders it is given; the run
    gives it (and the guidance choice) the validation renders, never the test seed's."""
    from eegviz.train import gen_eval

    scores = {(1, 0.3): (0.4, 0.5), (1, 0.5): (0.7, 0.4), (2, 0.5): (0.5, 0.55)}
    seen = []
    monkeypatch.setattr(gen_eval, "generate", lambda *a, steps, strength, **k: (steps, strength))
    monkeypatch.setattr(gen_eval, "score", lambda imgs, held, clf: seen.append(held) or
                        {"top1": scores[imgs][0], "iou": scores[imgs][1]})
    monkeypatch.setattr(gen_eval, "img2img_timesteps", lambda *a: [])
    from types import SimpleNamespace

    val = SimpleNamespace(blobs=None, label_states=None)
    chosen, rows = gen_eval.choose_sampling(None, None, None, val, None, list(scores))
    assert chosen == {"steps": 1, "strength": 0.5} and len(rows) == 3 and seen == [val] * 3
