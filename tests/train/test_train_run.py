"""`eegviz simulate` + `eegviz train` end to end on a tiny dataset: a loadable, evaluated, documented model."""

import json
import logging

import numpy as np
import pytest

from eegviz.cli import main
from eegviz.errors import EegvizError
from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.generators import make_generator
from eegviz.generators.options import GeneratorOptions


def test_simulate_then_train_writes_a_complete_model_folder(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "4"]) == 0
    meta = json.loads((data / "dataset.json").read_text())
    assert meta["sfreq"] == 250.0 and len(meta["ch_names"]) == 128 and len(meta["classes"]) == 40
    assert np.load(data / "eeg.npy").shape == (160, 128, 175)
    # the hash space (weightless) and the tiny generator config keep this fast; minilm trains the same way
    assert main(["train", "--data", str(data), "--out", str(model), "--epochs", "1", "--gan-steps", "3",
                 "--text-encoder", "hash", "--generator-config", "tiny", "--classifier-images", "2",
                 "--classifier-epochs", "1"]) == 0
    # the minutes of evaluation and the end of the run are said (it ended on the latent branch's line, silent)
    said = capsys.readouterr().out
    assert "evaluating on the test split (the decoder, reconstructions, confound controls)" in said, said
    assert said.rstrip().endswith(f"done: the model is in {model} (its model card README.md, its test-split report "
                                  f"{model / 'report' / 'metrics.json'})"), said
    for f in ("decoder.json", "eeg_encoder/config.json", "attribute_encoder", "saliency_generator",
              "semantic_regressor", "prototypes.safetensors", "model_index.json", "sampling.json", "unet/config.json", "vae/config.json", "scheduler",
              "stimulus_classifier/config.json", "README.md", "report/metrics.json", "report/reconstructions.png",
              "report/controls.png"):
        assert (model / f).exists(), f
    assert not (model / "generator.json").exists()
    sampling = json.loads((model / "sampling.json").read_text())
    assert sampling["text_encoder"] == "hash" and sampling["steps"] == 1  # the tiny config's one grid setting
    metrics = json.loads((model / "report/metrics.json").read_text())
    # the latent branch (fit after the generator) is compared beside the saliency map, with its own control
    assert set(metrics["ablation"]) == {"label+saliency", "label_only", "saliency_only", "label+latent"}
    assert {"latent_shuffled", "latent_vs_shuffled"} <= set(metrics["generation_controls"])
    assert (model / "latent_regressor" / "config.json").is_file() and "latent_regressor/" in \
        (model / "README.md").read_text()
    assert 0.0 <= metrics["eeg_class_top1"] <= 1.0 and metrics["n_test_trials"] == 40
    # one subject: leave-one-subject-out cannot run and says so; blocks (rapid-design runs) can be held out
    ctl = metrics["controls"]["variants"]["as_model"]
    assert ctl["leave_one_subject_out"] == {"skipped": "one subject only"}
    # blocks kept apart are crossed with the image split: scored on the 40 test-image trials only, less those of a
    # class whose every training trial lies in the held-out block (counted, not scored as misses: its probe cannot
    # name that class)
    blocks = ctl["blocks_kept_apart"]
    assert blocks["n"] + blocks.get("unscorable_trials", 0) == 40 and blocks["n"] > 20
    assert ctl["shuffled_labels"]["n"] == 40 * ctl["shuffled_labels"]["shuffles"]  # pooled permutations
    card = (model / "README.md").read_text()
    assert "## Confound controls" in card
    # the card describes what was trained, not the shipped model: this run's data, and its own command
    assert card.startswith("---\nlibrary_name: eegviz\n") and "\n---\n" in card  # YAML metadata for the Hub
    assert "160 trials of 40 classes (160 images), 1 subject(s)" in card
    assert "--gan-steps 3" in card and f"--data {data}" in card and "--classifier-epochs 1" in card
    assert "--generator-config tiny" in card and "--text-encoder hash" in card and "model_index.json" in card
    assert "40 classes x 50 images" not in card and "2 subjects" not in card
    training = json.loads((model / "training.json").read_text())
    assert training["dataset"]["subjects"] == 1 and training["synthetic"] is True
    assert training["generator"]["kind"] == "diffusers" and "gen_steps" not in training
    dec = TwoBranchDecoder.load(model)
    out = dec.forward(np.zeros((1, 128, 175), np.float32))
    gen = make_generator("embedded", model, GeneratorOptions(device="cpu"))  # what `eegviz live` builds
    assert gen.caption_space == "hash" and gen.ctx_dim == out["embedding"].shape[-1]
    img = gen.generate(out["saliency"], out["embedding"])
    assert img.shape == (1, sampling["image_size"], sampling["image_size"], 3) and img.dtype == np.uint8
    assert metrics["generator"] == "embedded" and metrics["image_size"] == sampling["image_size"]


def test_a_classifier_seed_that_would_see_the_eeg_stimuli_is_refused_before_anything_is_written(tmp_path, capsys):
    """`simulate --seed 1` then the default `train --seed 0`: the evaluation classifier (renders of seed + 1) would
    have trained on every test stimulus it then scores."""
    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3", "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
                 "--text-encoder", "hash"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "renders of seed 1" in err and "dataset's own stimuli" in err
    assert "e.g. 1)" in err and not out.exists()


@pytest.mark.parametrize("damage, says", [("sfreq_huge", "sampling rate, 1e+300 Hz, is not one eegviz trains at"),
                                          ("sfreq_1", "sampling rate, 1 Hz, is not one eegviz trains at"),
                                          ("one_sample", "epochs hold 1 samples (4 ms) at 250 Hz"),
                                          ("doubled_channel", "channel names cannot be a model's ('A1' labels 2 "
                                                              "channels)")])
def test_a_dataset_no_decoder_can_read_is_refused_before_the_folder(tmp_path, capsys, damage, says):
    """A rate of 1e300 or 1 Hz in dataset.json, or epochs of one sample: each failed in torch after the output folder
    was claimed. A channel named twice trained a model its own load then refused (found by review)."""
    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    capsys.readouterr()
    meta = json.loads((data / "dataset.json").read_text())
    if damage == "one_sample":
        np.save(data / "eeg.npy", np.load(data / "eeg.npy")[..., :1])
        meta["tmax"] = meta["tmin"] + 1 / meta["sfreq"]
    elif damage == "doubled_channel":
        meta["ch_names"][1] = meta["ch_names"][0]
    else:
        meta["sfreq"] = 1e300 if damage == "sfreq_huge" else 1.0
    (data / "dataset.json").write_text(json.dumps(meta))
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
                 "--decoder-only", "--text-encoder", "hash"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and not out.exists(), err


def test_a_stimulus_training_cannot_read_is_refused_before_the_folder(tmp_path, capsys, monkeypatch):
    """A WebP saved as cat_0.png in --images-dir: the pixel branch reads the stimuli after the encoder has trained,
    so the run failed minutes in, leaving checkpoints/ that a rerun into the same --out then refused."""
    from PIL import Image

    import eegviz.train.decoder as decoder_module
    from eegviz.record.xdf_writer import XdfWriter

    images, out = tmp_path / "stim", tmp_path / "model"
    ids = [f"{c}_{k}" for c in ("cat", "dog", "cup") for k in range(4)]
    for j, i in enumerate(ids):
        (images / i[:3]).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (20 * j, 100, 90)).save(images / i[:3] / f"{i}.png",
                                                         format="WEBP" if i == "cat_0" else "PNG")
    fs, n = 100.0, 3000
    with XdfWriter(tmp_path / "session.xdf") as w:
        eeg = w.add_stream("amp", "EEG", 4, fs, "float32", ch_names=["O1", "Oz", "O2", "Pz"], unit="microvolts")
        mk = w.add_stream("eegviz-presenter", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.random.default_rng(0).normal(0, 10, (n, 4)).astype(np.float32),
                        100 + np.arange(n) / fs)
        w.write_samples(mk, ids * 2, 101 + 0.8 * np.arange(2 * len(ids)))
    monkeypatch.setattr(decoder_module, "train_decoder", lambda *a, **k: pytest.fail("trained first"))
    assert main(["train", "--data", str(tmp_path / "session.xdf"), "--images-dir", str(images), "--out", str(out),
                 "--epochs", "1", "--gan-steps", "0", "--decoder-only", "--text-encoder", "hash"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith("eegviz: error: cannot read stimulus image ") and "cat_0.png" in err
    assert "not a PNG, JPEG or BMP image" in err and not out.exists()


def _lab_session(tmp_path):
    """A lab's recording of its own stimuli (8 px PNGs), 12 images in 3 class folders, each shown twice; returns
    (session.xdf, the stimulus folder)."""
    from PIL import Image

    from eegviz.record.xdf_writer import XdfWriter

    images = tmp_path / "stim"
    ids = [f"{c}_{k}" for c in ("cat", "dog", "cup") for k in range(4)]
    for i in ids:
        (images / i[:3]).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (100, 100, 90)).save(images / i[:3] / f"{i}.png")
    fs, n = 100.0, 3000
    with XdfWriter(tmp_path / "session.xdf") as w:
        eeg = w.add_stream("amp", "EEG", 4, fs, "float32", ch_names=["O1", "Oz", "O2", "Pz"], unit="microvolts")
        mk = w.add_stream("eegviz-presenter", "Markers", 1, 0.0, "string")
        w.write_samples(eeg, np.zeros((n, 4), np.float32), 100 + np.arange(n) / fs)
        w.write_samples(mk, ids * 2, 101 + 0.8 * np.arange(2 * len(ids)))
    return tmp_path / "session.xdf", images


def test_caption_rich_on_sessions_without_captions_of_their_own_is_refused_before_the_folder(tmp_path, capsys,
                                                                                             monkeypatch):
    """XDF sessions whose --images-dir has no captions.json (as THINGS-EEG2 and EEG-ImageNet, which have no
    captions): `--caption rich` trained the label captions in silence, and the model card said "rich captions"."""
    import eegviz.train.decoder as decoder_module

    (data, images), out = _lab_session(tmp_path), tmp_path / "model"
    monkeypatch.setattr(decoder_module, "train_decoder", lambda *a, **k: pytest.fail("trained"))
    assert main(["train", "--data", str(data), "--images-dir", str(images), "--out", str(out),
                 "--epochs", "1", "--gan-steps", "0", "--decoder-only", "--text-encoder", "hash",
                 "--caption", "rich"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith("eegviz: error: --caption rich: none of the dataset's images has a "
                                           "caption of its own") and "captions.json" in err and not out.exists()


def test_a_labs_decoder_is_told_before_training_how_it_can_draw(tmp_path, caplog, monkeypatch):
    """The README's calibration (train on a lab's sessions, then `eegviz live --model models/lab`) trained no
    generator without a word; live refused the folder, and --generator diffusers --sd-model then refused the
    MiniLM decoder's captions. Said before training now, with the --text-encoder an SD model needs."""
    import eegviz.train.decoder as decoder_module

    data, images = _lab_session(tmp_path)

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", stop)
    with caplog.at_level(logging.WARNING, logger="eegviz.train.run"):
        assert main(["train", "--data", str(data), "--images-dir", str(images), "--out", str(tmp_path / "m"),
                     "--epochs", "1", "--gan-steps", "0", "--text-encoder", "hash"]) == 130
    said = [r.getMessage() for r in caplog.records if "no image generator" in r.getMessage()]
    assert len(said) == 1 and "--generator diffusers --sd-model SD_MODEL" in said[0], said
    assert "train with --text-encoder clip:SD_MODEL" in said[0]


@pytest.mark.parametrize("flags, says", [(["--reference", "FOO"], "reference channel(s) 'FOO'"),
                                         (["--text-encoder", "clip:/nonexistent"], "cannot load a CLIP text encoder"),
                                         (["--highpass", "200"], "high-pass cutoff 200 Hz must lie between 0 and")])
def test_options_checked_against_the_data_or_by_loading_leave_no_folder(tmp_path, capsys, flags, says):
    """A reference channel the data lacks, a text encoder that cannot be loaded, or a high-pass at or above the
    data's Nyquist frequency (found by review): refused before --out exists, so the corrected rerun is not refused
    for a folder (or checkpoints/run.json) the refused one left behind."""
    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
                 "--decoder-only", "--text-encoder", "hash", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and not out.exists()


def test_classifier_seeds_of_held_out_and_training_renders_are_refused():
    from eegviz.train.renders import TEST_SEED, VAL_SEED
    from eegviz.train.run import check_classifier_seed

    check_classifier_seed(0, ["cup_003", "cup_004"])  # the shipped run: stimuli seed 0, classifier seed 1
    check_classifier_seed(0, ["photo_1.jpg"])  # ids that name no seed
    for seed, why in [(VAL_SEED - 1, "validation"), (TEST_SEED - 1, "test"), (VAL_SEED + 1, "acceptance"),
                      (999, "training renders")]:
        with pytest.raises(EegvizError, match=why):
            check_classifier_seed(seed, ["cup_003"])
    # the EEG stimuli themselves rendered with a seed the generator holds out or trains on
    for stim_seed, why in [(VAL_SEED, "validation"), (TEST_SEED, "test"), (VAL_SEED + 2, "acceptance"),
                           (1000, "training renders")]:
        with pytest.raises(EegvizError, match=f"stimuli were rendered with seed {stim_seed}.*{why}"):
            check_classifier_seed(0, ["cup_003", f"cup_004_s{stim_seed}"])


def test_resume_refuses_checkpoints_of_another_run(tmp_path, capsys, monkeypatch):
    """An interrupted run's checkpoints say what it was trained on (checkpoints/run.json); --resume with another
    seed or other data would load its finished stages as this run's and is refused before anything trains."""
    import eegviz.train.decoder as decoder_module

    data, other, out = tmp_path / "data", tmp_path / "other", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    assert main(["simulate", "--out", str(other), "--subjects", "1", "--images", "4"]) == 0

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
            "--text-encoder", "hash"]
    assert main(args) == 130  # interrupted in the decoder's training (Ctrl-C)
    assert json.loads((out / "checkpoints" / "run.json").read_text())["options"]["seed"] == 0
    capsys.readouterr()
    assert main(args + ["--resume", "--seed", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "options seed differ" in err
    assert main(args[:2] + [str(other)] + args[3:] + ["--resume"]) == 2
    assert "data images" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 130  # the same run: the check passes and training goes on


def test_resume_refuses_another_recording_of_the_same_counts(tmp_path, capsys, caplog, monkeypatch):
    """Two subjects who did the same experiment give datasets of the same counts and names, all run.json held:
    a --resume on the other subject's data carried on silently, half the decoder trained on each (review 2,
    finding 2). run.json holds a digest of the data now, and such a resume is refused in one line; a run.json
    written before digests existed still resumes, said to be unchecked."""
    import shutil

    import eegviz.train.decoder as decoder_module

    data, other, out = tmp_path / "sub-03", tmp_path / "sub-04", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    shutil.copytree(data, other)
    eeg = np.load(other / "eeg.npy")
    np.save(other / "eeg.npy", eeg[:, ::-1].copy())  # the same trials, labels and ids; another person's EEG

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    args = ["train", "--out", str(out), "--epochs", "1", "--gan-steps", "0", "--text-encoder", "hash"]
    assert main(args + ["--data", str(data)]) == 130
    manifest = out / "checkpoints" / "run.json"
    run = json.loads(manifest.read_text())
    assert len(run["data"]["digest"]) == 64
    capsys.readouterr()
    assert main(args + ["--data", str(other), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "other data of the same counts and names" in err, err
    assert json.loads(manifest.read_text()) == run  # the interrupted run's record stays as it was
    assert main(args + ["--data", str(data), "--resume"]) == 130  # its own data: resumed
    # an older eegviz's run.json, without the digest: resumed, said to be unchecked
    del run["data"]["digest"]
    manifest.write_text(json.dumps(run))
    with caplog.at_level(logging.WARNING, logger="eegviz.train.run"):
        assert main(args + ["--data", str(other), "--resume"]) == 130
    assert "predates data digests" in caplog.text
    assert "digest" in json.loads(manifest.read_text())["data"]  # rewritten by the resumed run, checked from now


def test_resume_refuses_checkpoints_without_their_run_json(tmp_path, capsys):
    """A run writes checkpoints/run.json before its first checkpoint; checkpoints without one (an older eegviz's,
    or a deleted manifest) cannot be proven this run's, and --resume loaded them unchecked. Refused in one line,
    before the data is read, leaving them as they are; an empty checkpoints/ holds nothing and a run starts."""
    from eegviz.train.run import check_resumable

    out = tmp_path / "model"
    (out / "checkpoints").mkdir(parents=True)
    check_resumable(out)  # empty: nothing to resume from, so a run may start there
    (out / "checkpoints" / "encoder.done.pt").write_bytes(b"another run's stage")
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
                 "--text-encoder", "hash", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"eegviz: error: --resume: the checkpoints in {out / 'checkpoints'} have no run.json, so eegviz "
                   "cannot tell whether they come from this data and options; choose a new --out")
    assert sorted(p.name for p in out.rglob("*")) == ["checkpoints", "encoder.done.pt"]
    assert (out / "checkpoints" / "encoder.done.pt").read_bytes() == b"another run's stage"
    (out / "checkpoints" / "encoder.done.pt").unlink()
    (out / ".eegviz-probe-rank1").mkdir()  # another torchrun rank's momentary write probe: not a file of a run
    check_resumable(out)
    (out / ".eegviz-probe-rank1").rmdir()
    (out / "stages" / "vae").mkdir(parents=True)  # a generator stage beside the empty checkpoints/: loaded as well
    with pytest.raises(EegvizError, match=r"holds stages beside an empty checkpoints/ with no run.json"):
        check_resumable(out)


def test_resume_into_a_finished_model_suggests_an_eval_command_that_runs(tmp_path, capsys):
    """--resume into a finished model suggested `eegviz eval --model OUT --out NEW_FOLDER`, which eval refuses at
    once for its missing --data (required). The suggestion names the run's --data now, and parses as given."""
    import shlex

    from eegviz.cli import build_parser

    out = tmp_path / "model"
    (out / "checkpoints").mkdir(parents=True)
    (out / "training.json").write_text("{}")
    (out / "README.md").write_text("model card")  # its evaluation and card were written: a finished model
    data = tmp_path / "data"
    assert main(["train", "--data", str(data), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a finished model" in err, err
    suggested = err.split("to evaluate it again: ", 1)[1].rstrip(")")
    args = build_parser().parse_args(shlex.split(suggested)[1:])
    assert (args.cmd, args.data, args.model) == ("eval", str(data), str(out))


def test_a_second_train_into_a_folder_a_run_is_training_in_is_refused(tmp_path, capsys, monkeypatch):
    """A running run's folder looks to --resume like an interrupted one (a scheduler requeues a job whose first
    launch still runs), and two runs started at once both find a new folder free: without a lock the second
    trained beside the first. Refused in one line, writing nothing; once the first has ended, it goes on."""
    import eegviz.train.decoder as decoder_module
    from eegviz.train.run import hold_run_folder

    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    out.mkdir()
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
            "--text-encoder", "hash"]
    capsys.readouterr()
    import eegviz.data.loaders as loaders

    real_open = loaders.open_dataset

    def not_before_the_lock(*a, **k):
        raise AssertionError("the data was loaded before the folder's lock was asked for")

    monkeypatch.setattr(loaders, "open_dataset", not_before_the_lock)  # refused at once, not after the data
    with hold_run_folder(out):  # the first run, training
        for extra in ([], ["--resume"]):
            assert main(args + extra) == 2
            assert capsys.readouterr().err.strip() == (f"eegviz: error: --out {out}: another `eegviz train` is "
                                                       "running in this folder now; wait for it to end, or choose "
                                                       "another --out")
        assert not any(out.iterdir())
    monkeypatch.setattr(loaders, "open_dataset", real_open)

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    assert main(args + ["--resume"]) == 130  # the lock went with the first run: this one starts, into the decoder
    assert (out / "checkpoints" / "run.json").is_file()


def test_resume_finishes_an_evaluation_that_was_cut_short_without_training_again(tmp_path, capsys):
    """Ctrl-C (or a job's time limit) during the evaluation that follows training left a trained model without
    its report/ and README.md model card; --resume refused it as a finished model, and `eegviz eval` never writes
    the card. --resume now runs the evaluation and writes the card, and trains nothing again. With --reject-uv the
    evaluation drops the epochs training dropped, first time and resumed, and the record and card say how many
    (blinks in a tenth of the trials, each training image shown twice, as a lab records its own)."""
    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3", "--train-repeats", "2",
                 "--blink-rate", "0.1"]) == 0
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
            "--decoder-only", "--text-encoder", "hash", "--no-eval-controls", "--reject-uv", "200"]
    # a job script that always passes --resume starts its run with it: nothing was resumed, and training.json said
    # "resumed": true (and the card then that its time was the resumed part's)
    assert main(args + ["--resume"]) == 0
    assert json.loads((out / "training.json").read_text())["resumed"] is False
    # the card's command named --classifier-images and --classifier-epochs beside --decoder-only, which refuses them
    assert "--classifier" not in json.loads((out / "training.json").read_text())["command"]
    assert "the resumed part only" not in (out / "README.md").read_text()
    # the threshold and the epochs it dropped, split by split (this simulated subject's blinks and swings)
    record = {"reject_uv": 200.0, "epochs": {"train": 80, "val": 80, "test": 40},
              "dropped": {"train": 3, "val": 4, "test": 1}}
    training_record = json.loads((out / "training.json").read_text())
    assert training_record["artefacts"] == record and training_record["reject_uv"] == 200.0
    assert training_record["dataset"]["split_trials"] == {"train": 77, "val": 76, "test": 39}  # what it trained on
    assert "--reject-uv 200" in training_record["command"]
    first = json.loads((out / "report" / "metrics.json").read_text())
    assert first["artefacts"] == record and first["n_test_trials"] == 39 and first["run"]["reject_uv"] == 200.0
    assert ("Artefact rejection: --reject-uv 200: 3 of 80 train, 4 of 80 val, 1 of 40 test epochs dropped as "
            "artefacts") in (out / "README.md").read_text()
    import shutil

    shutil.rmtree(out / "report")  # as the cut left it: trained (training.json), not evaluated
    (out / "README.md").unlink()
    weights = {p: p.read_bytes() for p in out.rglob("*.safetensors")}
    training = (out / "training.json").read_text()
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert "evaluating on the test split (the decoder)" in said and f"done: the model is in {out}" in said, said
    assert (out / "report" / "metrics.json").is_file() and (out / "README.md").is_file()
    # why no reconstruction was scored: the run trained no generator; it said "--no-reconstructions", eval's flag
    skipped = json.loads((out / "report" / "metrics.json").read_text())["reconstruction"]["skipped"]
    assert skipped.startswith("no generator was trained with this model: --decoder-only"), skipped
    again = json.loads((out / "report" / "metrics.json").read_text())
    assert again["artefacts"] == record and again["eeg_class_top1"] == first["eeg_class_top1"]
    assert {p: p.read_bytes() for p in out.rglob("*.safetensors")} == weights  # nothing trained again
    assert (out / "training.json").read_text() == training
    # once evaluated, it is a finished model again: --resume refuses it
    assert main(args + ["--resume"]) == 2
    assert "holds a finished model" in capsys.readouterr().err
    # the model card failing after the evaluation (a KeyError on skipped controls did) left report/metrics.json
    # and no README.md: --resume refused that as finished, and no command wrote its card. It writes the card from
    # the metrics it has, without evaluating again
    (out / "README.md").unlink()
    report = {p: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    assert main(args + ["--resume"]) == 0, capsys.readouterr().err
    assert (out / "README.md").is_file() and "EEG class decoding" in (out / "README.md").read_text()
    assert {p: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()} == report


def test_classifier_images_too_many_to_render_are_refused_before_training(tmp_path, capsys):
    """--classifier-images 20000 (a typo of 200) trained the decoder, then ended in a MemoryError traceback when
    the classifier rendered its 36.6 GiB epoch. Refused now in one line, before the data is read or --out made."""
    out = tmp_path / "model"
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(out), "--classifier-images",
                 "100000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--classifier-images 100000000" in err and "GiB" in err, err
    assert not out.exists()
    # decoder-only trains no classifier: the option is refused as not its own, not judged by its memory
    assert main(["train", "--data", str(tmp_path / "no-data"), "--out", str(out), "--classifier-images",
                 "100000000", "--decoder-only"]) == 2
    err = capsys.readouterr().err
    assert "which --decoder-only does not train" in err and "GiB" not in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_a_seed_too_large_for_the_libraries_is_refused_before_anything_is_written(tmp_path, capsys, command):
    """--seed 2**62 passed the checks, then ended in a traceback from scikit-learn's KMeans (random_state at most
    2**32 - 1) after train had written checkpoints/run.json (so the corrected rerun was refused for the folder)
    and sweep a level's dataset. Refused now in one line, before --out exists."""
    data, out = tmp_path / "data", tmp_path / "out"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    capsys.readouterr()
    args = (["train", "--data", str(data), "--decoder-only", "--text-encoder", "hash"] if command == "train"
            else ["sweep", "--snr-db=-10", "--images", "3", "--subjects", "1"])
    assert main(args + ["--out", str(out), "--epochs", "1", "--gan-steps", "0", "--seed", str(2**62)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--seed must be at most" in err, err
    assert not out.exists()


def test_sigterm_stops_training_as_ctrl_c_does_and_names_resume(tmp_path, capsys, monkeypatch):
    """`kill PID` (a job scheduler's notice before it preempts a job) ended `eegviz train` with exit 143 and not a
    word; it now stops as Ctrl-C does, saying where the checkpoints are and that --resume continues."""
    import os
    import signal
    import time

    from eegviz.cli import main

    def killed(data, out, **kw):
        (out / "checkpoints").mkdir(parents=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM was not turned into a stop")

    def unhandled(signum, frame):  # stands in for SIGTERM's default, which would end the test run itself
        raise AssertionError("SIGTERM reached the default handler: the process would have ended with exit 143")

    monkeypatch.setattr("eegviz.train.run.train_all", killed)
    before = signal.signal(signal.SIGTERM, unhandled)
    try:
        assert main(["train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "m")]) == 130
        assert signal.getsignal(signal.SIGTERM) is unhandled  # the handler is given back afterwards
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    assert "training interrupted" in err and str(tmp_path / "m" / "checkpoints") in err and "--resume" in err


def test_training_interrupted_in_the_generator_says_its_finished_stages_are_kept_too(tmp_path, capsys, monkeypatch):
    """Ctrl-C named checkpoints/ alone: the generator's finished stages, which --resume loads from stages/, went
    unsaid, as if a run stopped in its distillation had kept only its decoder."""
    from eegviz.cli import main

    def stopped(data, out, **kw):
        (out / "checkpoints").mkdir(parents=True)
        (out / "checkpoints" / "triplet.done.pt").write_bytes(b"")
        (out / "stages").mkdir()
        for name in ("classifier", "vae"):
            (out / "stages" / f"{name}.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr("eegviz.train.run.train_all", stopped)
    assert main(["train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "m")]) == 130
    err = capsys.readouterr().err
    assert err == (f"eegviz: training interrupted; kept for --resume: the decoder's checkpoints in "
                   f"{tmp_path / 'm' / 'checkpoints'} and the generator's finished stages (classifier, vae) in "
                   f"{tmp_path / 'm' / 'stages'}, the stage it was in starting again: run the same command with "
                   "--resume to continue\n")


def test_a_test_split_too_small_to_score_skips_the_evaluation_saying_so(tmp_path, caplog):
    """Every run now ends in a test-split evaluation (a lab's own data too); one whose test split holds fewer than
    the two trials eval scores (a lab's first few images) gets its card from the validation figures, said, instead
    of eval's refusal after all its training."""
    from types import SimpleNamespace

    from eegviz.train.run import _evaluate_after_training

    ds = SimpleNamespace(subset=lambda part: np.arange(1 if part == "test" else 10))
    with caplog.at_level(logging.WARNING, logger="eegviz.train.run"):
        assert _evaluate_after_training(tmp_path / "data", tmp_path / "model", ds, data_opts=None,
                                        eval_controls=True, why_no_generator="--decoder-only") is None
    assert "no test-split evaluation: " in caplog.text and "holds 1 trial(s)" in caplog.text
    assert not (tmp_path / "model").exists()


def test_an_out_holding_a_finished_model_is_not_told_to_add_resume(tmp_path, capsys):
    """`eegviz train --out MODEL` on a finished model was told "or add --resume to finish an interrupted run there",
    and the --resume then refused it as a finished model. The hint fits the folder: --resume for an interrupted run,
    an eval command for a trained model."""
    finished, interrupted = tmp_path / "finished", tmp_path / "interrupted"
    finished.mkdir()
    (finished / "training.json").write_text("{}")
    (finished / "README.md").write_text("model card")
    (interrupted / "checkpoints").mkdir(parents=True)
    (interrupted / "checkpoints" / "run.json").write_text("{}")
    data = tmp_path / "data"
    assert main(["train", "--data", str(data), "--out", str(finished)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--resume" not in err and err.endswith(f"choose another --out (it holds a trained model; to evaluate it "
                                                  f"again: eegviz eval --data {data} --model {finished} --out "
                                                  "NEW_FOLDER)"), err
    assert main(["train", "--data", str(data), "--out", str(interrupted)]) == 2
    assert capsys.readouterr().err.strip().endswith("(or add --resume to finish an interrupted run there)")


def test_the_eval_command_a_refusal_suggests_carries_the_runs_dataset_options(tmp_path, capsys):
    """The eval command suggested for a finished model named --data alone: for a lab's XDF sessions it stopped at
    eval's "pass --images-dir". It carries the run's dataset options now, and parses as eval's own command line."""
    import shlex

    from eegviz.cli import build_parser

    out, data, images = tmp_path / "model", tmp_path / "sessions", tmp_path / "stimuli dir"
    (out / "checkpoints").mkdir(parents=True)
    (out / "training.json").write_text("{}")
    (out / "README.md").write_text("model card")
    for extra in ([], ["--resume"]):
        assert main(["train", "--data", str(data), "--out", str(out), "--images-dir", str(images), "--markers",
                     "eegviz-presenter"] + extra) == 2
        err = capsys.readouterr().err.strip()
        suggested = err.split("to evaluate it again: ", 1)[1].rstrip(")")
        args = build_parser().parse_args(shlex.split(suggested)[1:])
        assert (args.cmd, args.data, args.model, args.images_dir, args.markers) == (
            "eval", str(data), str(out), str(images), "eegviz-presenter"), err


def test_resume_takes_the_same_stimulus_folder_named_another_way(tmp_path, capsys, monkeypatch):
    """run.json kept --images-dir as typed: an interrupted `--images-dir stimuli` resumed by a job script in another
    folder with `--images-dir /lab/stimuli` was refused as "options data_options differ", telling its user to pass
    the options they had passed. It keeps the folder's absolute path now; another folder is still refused."""
    import eegviz.train.decoder as decoder_module

    lab, elsewhere = tmp_path / "lab", tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = lab / "data"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3"]) == 0
    from PIL import Image

    for folder in ("stimuli", "other"):  # a synthetic dataset reads its stimuli there too: one image will do
        (lab / folder).mkdir()
        Image.new("RGB", (8, 8)).save(lab / folder / "x_0.png")

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    args = ["train", "--epochs", "1", "--gan-steps", "0", "--text-encoder", "hash"]
    monkeypatch.chdir(lab)
    assert main(args + ["--data", "data", "--out", "model", "--images-dir", "stimuli"]) == 130
    run = json.loads((lab / "model" / "checkpoints" / "run.json").read_text())
    assert run["options"]["data_options"] == {"images_dir": str(lab / "stimuli")}
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    resumed = args + ["--data", str(data), "--out", str(lab / "model"), "--resume"]
    assert main(resumed + ["--images-dir", str(lab / "stimuli")]) == 130, capsys.readouterr().err  # went on
    assert main(resumed + ["--images-dir", str(lab / "other")]) == 2
    assert "options data_options differ" in capsys.readouterr().err


def test_reject_uv_trains_on_the_kept_epochs_and_resume_holds_to_its_threshold(tmp_path, capsys, monkeypatch):
    """`train --reject-uv`: the decoder is given the dataset less the epochs a session with the model would skip
    (the live rule, on the epochs prepared with the spec it trains), the threshold is in run.json, and a --resume with
    another threshold, or none, is refused in one line as a changed option; the same one goes on. A threshold that
    would leave a split with nothing is refused before any folder is made, naming the split and its count."""
    import eegviz.train.decoder as decoder_module
    from eegviz.data.loaders import open_dataset
    from eegviz.stream.reject import rejected_epochs

    data, out = tmp_path / "data", tmp_path / "model"
    assert main(["simulate", "--out", str(data), "--subjects", "1", "--images", "3", "--train-repeats", "2",
                 "--blink-rate", "0.1"]) == 0
    given = []

    def killed(ds, **k):
        given.append(ds)
        raise KeyboardInterrupt

    monkeypatch.setattr(decoder_module, "train_decoder", killed)
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--gan-steps", "0",
            "--text-encoder", "hash", "--highpass", "0.5"]
    assert main(args + ["--reject-uv", "180"]) == 130
    full = open_dataset(data)
    over, _ = rejected_epochs(full.eeg, decoder_module.decoder_spec(full, 0.5, 0.0, ""), 180.0)
    assert over.sum() == 6 and len(full.labels) == 200
    assert list(given[0].image_ids) == list(full.image_ids[~over]) and len(given[0].labels) == 194
    run = json.loads((out / "checkpoints" / "run.json").read_text())
    assert run["options"]["reject_uv"] == 180.0 and run["data"]["trials"] == 200  # the data as recorded
    capsys.readouterr()
    for other in (["--reject-uv", "200"], []):
        assert main(args + other + ["--resume"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "options reject_uv differ" in err, err
    assert main(args + ["--reject-uv", "180", "--resume"]) == 130  # the same threshold: the run goes on
    capsys.readouterr()
    assert main(args[:4] + [str(tmp_path / "new")] + args[5:] + ["--reject-uv", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--reject-uv 1 would drop every one of the 80 train epochs of" in err, err
    assert not (tmp_path / "new").exists()
