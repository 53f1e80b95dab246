"""The model card's generator section: the generator judged on held-out renders, beside its ceiling and controls."""

from eegviz.eval.model_card import _generator


def _training(accepted: bool) -> dict:
    row = {"top1": 0.5, "iou": 0.6, "centroid_r_x": 0.9, "centroid_r_y": 0.8, "colour_acc": 0.4}
    test = {"n": 400, "steps": 1, "strength": 0.34, "classifier_on_renders": 0.93,
            "text_only_label": {**row, "top1": 0.81}, "control_flat_label": {**row, "top1": 0.03}}
    ae = {"acceptance": {"classifier_on_reconstructions": 0.95 if accepted else 0.7, "classifier_on_renders": 0.94},
          "accepted": accepted}
    return {"generator": {"test": test, "autoencoder": ae}}


def test_generator_section_reports_rows_ceiling_and_acceptance():
    text = _generator(_training(accepted=False))
    assert "| text only, label caption (the caption's ceiling) | 0.810 |" in text
    assert "| control: flat grey start | 0.030 |" in text
    assert "recognises 0.930 of the true renders" in text
    assert "below the 0.97 acceptance line" in text and "0.700 of its reconstructions" in text
    assert "(accepted)" in _generator(_training(accepted=True))
    assert "rich caption" not in text  # a condition that was not run gets no row


def test_no_generator_record_no_section():
    assert _generator({}) == "" and _generator({"generator": {"kind": "diffusers"}}) == ""


def test_gan_retrain_gets_its_own_command_and_time():
    from eegviz.eval.model_card import _gan_retrain

    rec = {"gan_steps": 3000, "seconds": 470.1, "data": "/data/x",
           "command": "python -m eegviz.train.saliency_stage --model MODEL_DIR --data DATA --gan-steps 3000 --seed 0"}
    text = _gan_retrain({"decoder": {"saliency_stage_retrained": rec}})
    assert "(3000 steps on `/data/x`, 8 min more)" in text
    assert "    python -m eegviz.train.saliency_stage --model MODEL_DIR --data DATA --gan-steps 3000" in text
    assert _gan_retrain({"decoder": {}}) == "" and _gan_retrain({}) == ""


def test_undefined_bootstrap_differences_are_written_undefined_and_not_compared():
    """paired_bootstrap_diff stores None where a statistic is undefined (a constant prediction has no centroid
    correlation); the card says so and leaves the entry out of the reading instead of failing on None."""
    from eegviz.eval.model_card import _results

    vs = {"iou": {"diff": 0.1, "ci95": [0.05, 0.2]}, "centroid_r_x": {"diff": None, "ci95": None},
          "centroid_r_y": {"diff": 0.2, "ci95": [None, 0.3]}, "centroid_err": {"diff": -0.1, "ci95": [-0.2, 0.01]}}
    metrics = {"n_way": 40, "ablation": {"label+saliency": {"40way_top1": 0.5, "ssim": 0.5}},
               "generation_controls": {"saliency_vs_shuffled": vs}}
    text = _results(metrics, {})
    assert "iou +0.100 [+0.050, +0.200]; centroid r x undefined; centroid r y +0.200 (interval undefined)" in text
    assert "on 1 of 2 object-region metrics of the reconstructions (iou), centroid_r_x, centroid_r_y undefined" in text


def _curve_metrics(gain: bool) -> dict:
    rows = [{"repeats": 1, "top1": 0.2, "ci_low": 0.18, "ci_high": 0.22, "n": 3200, "n_images": 400},
            {"repeats": 8, "top1": 0.4, "ci_low": 0.36, "ci_high": 0.45, "n": 400, "n_images": 400}]
    if gain:
        rows[1]["gain_vs_single"] = {"ratio": 2.0, "ci95": [1.7, 2.4], "over": "(subject, image)"}
    return {"curves": {"repetitions": rows}}


def test_repetition_gain_interval_is_the_ratios_own_or_says_what_it_leaves_out():
    from eegviz.eval.model_card import _curves

    text = _curves(_curve_metrics(gain=True))
    assert "| 1 | 0.200 [0.180, 0.220] | 3200 | 400 |" in text
    assert "2.00x the single-trial top-1 (95% bootstrap interval over images" in text and "1.70x-2.40x" in text
    # an older metrics.json has no ratio interval: the numerator's ends, said to be only that
    old = _curves(_curve_metrics(gain=False))
    assert "1.80x-2.25x, the uncertainty of the 8-repetition figure only" in old
    # a ratio whose interval is undefined (too few single-trial hits) says so, not the older file's fallback
    none = _curve_metrics(gain=True)
    none["curves"]["repetitions"][1]["gain_vs_single"]["ci95"] = [None, None]
    text = _curves(none)
    assert "2.00x the single-trial top-1 (no interval: the single-trial top-1 is 0 in over 5%" in text
    assert "figure only" not in text


def test_the_card_puts_the_constant_guess_beside_the_decoded_maps_iou():
    """A shuffled map sits in another trial's place and scores below one image drawn for every trial where
    objects tend to lie, so the card gives that EEG-free guess beside the maps and the reconstructions."""
    from eegviz.eval.model_card import _results

    vs = {"iou": {"diff": 0.26, "ci95": [0.24, 0.28]}}
    metrics = {"n_way": 40, "ablation": {"label+saliency": {"40way_top1": 0.5, "ssim": 0.5}},
               "saliency": {"iou": 0.503, "shuffled_control": {"iou": 0.241}, "constant_guess": {"iou": 0.351}},
               "generation_controls": {"saliency_vs_shuffled": vs, "constant_guess": {"iou": 0.346},
                                       "saliency_vs_constant_guess": {"iou": {"diff": 0.151, "ci95": [0.138, 0.163]}}}}
    text = _results(metrics, {})
    assert "mask IoU 0.503 (maps shuffled across trials 0.241; one image for every trial with no EEG in it" in text
    assert "tend to lie; 0.346): decoded saliency maps +0.151 [+0.138, +0.163]" in text


def test_the_embedding_cosine_stands_beside_another_trials_caption():
    from eegviz.eval.model_card import _results

    text = _results({"embedding_cosine": 0.997, "embedding_cosine_shuffled": 0.677}, {})
    assert "- caption embedding cosine to the true caption's: 0.997 (to another trial's caption: 0.677)" in text


def test_skipped_controls_are_said_not_a_crash():
    """A zero-shot split (an XDF session showing each image once, one class each) has its controls skipped;
    the card crashed on the missing table (KeyError 'variants') after training, leaving no README.md."""
    from eegviz.eval.model_card import _controls

    why = "zero-shot split: the refit probes classify the training classes"
    text = _controls({"controls": {"skipped": why}})
    assert "## Confound controls" in text and why in text


def test_moot_control_checks_read_n_a_not_no():
    """A check with no decoding to test (None: the probe's image split at chance) read "NO" in the card, as if
    the control had found a confound."""
    from eegviz.eval.model_card import _controls

    r = {"top1": 0.025, "ci95": [0.0, 0.1]}
    text = _controls({"controls": {"probe": "p", "chance": 0.025, "variants": {"as_model": {"image_split": r}},
                                   "checks": {"shuffled_labels_at_chance": True, "survives_highpass": None}}})
    assert "Reading: shuffled labels at chance: yes, survives highpass: n/a (n/a: the probe's image split" in text
    assert "NO" not in text


def test_a_skipped_high_pass_variant_is_said_in_the_card():
    """A model that high-passes its own input gets no high-pass variant at --controls-highpass's cutoff or below;
    the card's table then had one column and no word of why."""
    from eegviz.eval.model_card import _controls

    r = {"top1": 0.5, "ci95": [0.4, 0.6]}
    why = "the model already high-passes its input at 1 Hz (eegviz train --highpass), so a 1 Hz high-pass changes nothing"
    text = _controls({"controls": {"probe": "p", "chance": 0.025, "variants": {"as_model": {"image_split": r}},
                                   "checks": {}, "highpass_variant": {"skipped": why}}})
    assert f"No high-pass variant: {why}." in text


def test_the_decoders_top1_stands_beside_its_interval_and_a_guessers_band():
    """The headline class top-1 came with the chance level alone: 0.0375 against 0.025 on 80 trials could not be
    told from a guess. Older metrics.json files, without the interval, keep the old line."""
    from eegviz.eval.model_card import _results

    m = {"eeg_class_top1": 0.0375, "chance_top1": 0.025, "eeg_class_top1_ci95": [0.013, 0.105],
         "eeg_class_top1_n_effective": 80, "eeg_class_top1_chance_band95": [0.0, 0.0625]}
    assert ("- EEG class decoding (top-1): 0.037 (95% Wilson interval 0.013-0.105 over 80 independent units, as "
            "the controls count them; chance 0.025, a guesser's 95% band 0.000-0.062)") in _results(m, {})
    old = {"eeg_class_top1": 0.993, "chance_top1": 0.025}
    assert "- EEG class decoding (top-1): 0.993 (chance 0.025)" in _results(old, {})


def test_a_card_rewrite_that_fails_keeps_the_old_card_whole(tmp_path, full_disk):
    """`train --resume` rewrites an existing model card; a full disk mid-write used to leave it cut short."""
    import json

    import pytest

    from eegviz.eval.model_card import write_model_card
    from eegviz.paths import default_model_dir

    shipped = default_model_dir()
    training = json.loads((shipped / "training.json").read_text())
    metrics = json.loads((shipped / "report" / "metrics.json").read_text())
    (tmp_path / "README.md").write_text("the old card")
    with full_disk(), pytest.raises(OSError, match="No space"):
        write_model_card(tmp_path, training, metrics)
    assert (tmp_path / "README.md").read_text() == "the old card"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    assert "# " + tmp_path.name in write_model_card(tmp_path, training, metrics).read_text()  # and it can write


def test_the_shipped_models_retrain_command_runs_as_pasted():
    """The shipped cards' Retrain block is copied into a shell. The default model's held its prose in parentheses
    after the command ("--threads 2 (every other option at its default; ...)"), so a pasted command was a bash
    syntax error before anything ran; the prose is now a shell comment, and the card shows the same line."""
    import json
    import shutil
    import subprocess

    import pytest

    from eegviz.paths import default_model_dir

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to parse the command with")
    for model in (default_model_dir(), default_model_dir().parent / "synthetic-realistic"):
        command = json.loads((model / "training.json").read_text())["command"]
        checked = subprocess.run([bash, "-n", "-c", command], capture_output=True, text=True)
        assert checked.returncode == 0, f"{model.name}: {checked.stderr}"
        card = (model / "README.md").read_text()
        assert "## Retrain\n    " + command + "\n" in card


def test_a_card_names_every_file_of_its_model_folder(tmp_path):
    """A card listed the networks alone: training.json, seen_images.json (what `eegviz eval` refuses test splits by),
    latent_branch.json and report/ were named nowhere, so one copying "the parts" elsewhere left them behind. The
    card now lists them as records, and each shipped card names every entry of its folder."""
    import json
    import shutil

    from eegviz.eval.model_card import write_model_card
    from eegviz.paths import default_model_dir

    for model in (default_model_dir(), default_model_dir().parent / "synthetic-realistic"):
        card = (model / "README.md").read_text()
        unnamed = [p.name for p in model.iterdir() if p.name != "README.md" and p.name not in card]
        assert not unnamed, f"{model.name}: {unnamed}"
    shipped = default_model_dir()
    for name in ("training.json", "seen_images.json", "latent_branch.json", "report"):
        copy = shutil.copytree if (shipped / name).is_dir() else shutil.copy
        copy(shipped / name, tmp_path / name)
    training = json.loads((shipped / "training.json").read_text())
    card = write_model_card(tmp_path, training, json.loads((shipped / "report" / "metrics.json").read_text()))
    records = next(line for line in card.read_text().splitlines() if line.startswith("- records kept"))
    for name in ("training.json", "seen_images.json", "latent_branch.json", "report/"):
        assert name in records


def test_the_results_heading_claims_held_out_images_only_where_none_was_seen():
    """The evaluation after `eegviz train` counts test trials showing images the model trained on and warns (an
    EEG-ImageNet split file that is not image-wise shares images); the card's heading said "held-out images"
    whatever the count. A zero-shot split's retrieval averages trials, and the heading said "single trials"."""
    from eegviz.eval.model_card import _results

    clean = {"eeg_class_top1": 0.5, "chance_top1": 0.025,
             "test_images_seen_by_model": {"train": 0, "val": 0, "trials": 400}}
    assert "## Test-split results (held-out images, single trials)\n" in _results(clean, {})
    seen = {**clean, "test_images_seen_by_model": {"train": 120, "val": 0, "trials": 400}}
    text = _results(seen, {})
    assert "held-out images" not in text.replace("NOT held-out images", "")
    assert "## Test-split results (NOT held-out images, single trials)" in text
    assert "- not a clean test: of the 400 test trials, 120 show images it trained on (seen_images.json" in text
    unknown = {**clean, "test_images_seen_by_model": {"skipped": "no seen_images.json"}}
    assert "## Test-split results (single trials)\n" in _results(unknown, {})
    z = {"zero_shot": {"top1": 0.1}, "test_images_seen_by_model": {"train": 0, "val": 0, "trials": 80}}
    assert ("## Test-split results (held-out images, the zero-shot retrieval from repetitions averaged per image and "
            "subject, the rest single trials)") in _results(z, {})


def test_a_zero_shot_models_card_indexes_its_retrieval_figure_and_parses_on_the_hub(tmp_path):
    """A model trained on THINGS-EEG2 (test concepts never trained on) has no class top-1: its card's model-index
    was written with an empty `metrics:`, which huggingface_hub's ModelCard refuses ("Invalid model_index"). The
    zero-shot retrieval top-1 is listed instead, and a card with no figure at all has no model-index."""
    from huggingface_hub import ModelCard

    from eegviz.eval.model_card import write_model_card

    training = {"dataset": {"path": "things/preprocessed_data", "trials": 800, "classes": 14, "images": 68,
                            "subjects": 2, "channels": 17, "sfreq": 100.0, "window_s": [-0.2, 0.8],
                            "split_trials": {"train": 400, "val": 80, "test": 320}}}
    zero_shot = {"n_concepts": 200, "n_images": 200, "top1": 0.155, "top5": 0.4, "chance_top1": 0.005}
    card = ModelCard.load(write_model_card(tmp_path, training, {"zero_shot": zero_shot, "embedding_cosine": 0.1}))
    (result,) = card.data.eval_results
    assert (result.metric_type, result.metric_value) == ("zero_shot_top1", 0.155)
    assert "200-way" in result.metric_name
    bare = ModelCard.load(write_model_card(tmp_path, training, {"embedding_cosine": 0.1}))
    assert bare.data.eval_results is None and "model-index" not in bare.content


def test_a_zero_shot_figure_is_not_headed_single_trials():
    """THINGS-EEG2's retrieval averages each test image's repetitions; the card put it under "single trials"."""
    from eegviz.eval.model_card import _results

    z = {"protocol": "200-way zero-shot retrieval ..., test trials averaged per image and subject", "top1": 0.15}
    clean = {"test_images_seen_by_model": {"train": 0, "val": 0, "trials": 80}}
    text = _results({"zero_shot": z, "embedding_cosine": 0.1, **clean}, {})
    assert text.startswith("## Test-split results (held-out images, the zero-shot retrieval from repetitions "
                           "averaged per image and subject, the rest single trials)\n")
    assert _results({"eeg_class_top1": 0.5, "chance_top1": 0.025, **clean}, {}).startswith(
        "## Test-split results (held-out images, single trials)\n")


def test_a_resumed_runs_training_time_is_said_to_be_the_resumed_part(tmp_path):
    """A run interrupted after an hour and resumed for its last minutes timed only the resumed process, and its card
    said "Training took 3 min": the time of the run. It says now that the time before the interruption is not
    counted, naming the generator stages the resumed run loaded; a run that was not resumed reads as before."""
    from eegviz.eval.model_card import write_model_card

    dataset = {"path": "sessions", "trials": 160, "classes": 40, "images": 160, "subjects": 2, "channels": 16,
               "sfreq": 250.0, "window_s": [-0.1, 0.6], "split_trials": {"train": 128, "val": 16, "test": 16}}
    training = {"dataset": dataset, "total_train_seconds": 180.0, "threads": 2, "world_size": 1,
                "generator": {"kind": "diffusers", "resumed_stages": ["classifier", "vae", "teacher"]}}
    card = write_model_card(tmp_path, {**training, "resumed": False}, None).read_text()
    assert "Training took 3 min on 2 CPU thread(s) x 1 process(es).\n" in card and "--resume" not in card
    card = write_model_card(tmp_path, {**training, "resumed": True}, None).read_text()
    assert ("Training took 3 min on 2 CPU thread(s) x 1 process(es) (the resumed part only: this run was interrupted "
            "and continued with `--resume`; the generator's stages classifier, vae, teacher were loaded; the time it "
            "trained before the interruption is not counted).\n") in card, card


def test_a_card_without_evaluation_says_why_for_a_test_split_too_small():
    """`eegviz train` evaluates every run now, a lab's too, except where the test split holds under two trials: the
    card's reason, "no generator for these stimuli", named what no longer skips it."""
    from eegviz.eval.model_card import _results

    training = {"decoder": {"val_class_acc": 0.5}, "dataset": {"split_trials": {"train": 8, "val": 2, "test": 1}}}
    text = _results(None, training)
    assert "No test-split evaluation was run with this training (its test split holds 1 trial(s), fewer than the " \
           "two `eegviz eval` scores);" in text and "- val class acc: 0.500" in text
    training["dataset"]["split_trials"]["test"] = 16  # an older eegviz's run without a generator
    assert "(no generator for these stimuli)" in _results(None, training)


def test_the_card_says_what_the_split_holds_out_whole(tmp_path):
    """The card said "split by image" for every dataset; THINGS-EEG2's split holds out whole concepts (its validation
    and test classes are never trained on), and the synthetic world's holds out images of trained classes."""
    import json

    from eegviz.eval.model_card import split_unit, write_model_card
    from eegviz.paths import default_model_dir

    split = ["train", "train", "val", "test"]
    assert split_unit(split, [0, 0, 1, 2], ["a", "b", "c", "d"]) == "class"  # THINGS: concepts held out
    assert split_unit(split, [0, 1, 0, 1], ["a", "b", "c", "d"]) == "image"  # trained classes, new images
    assert split_unit(split, [0, 1, 0, 1], ["a", "b", "a", "d"]) == "trial"  # image "a" in train and val
    shipped = default_model_dir()
    training = json.loads((shipped / "training.json").read_text())
    metrics = json.loads((shipped / "report" / "metrics.json").read_text())
    # a training.json from before split_by was recorded (the shipped ones) claims no unit
    for split_by, said in (("class", "s; split by class:"), (None, "s; split:")):
        training["dataset"]["split_by"] = split_by
        out = tmp_path / str(split_by)
        out.mkdir()
        card = write_model_card(out, training, metrics).read_text()
        assert said in card and "split by image" not in card


def test_a_zero_shot_figure_is_written_in_words_with_its_interval_not_as_json():
    """THINGS-EEG2's headline, the zero-shot retrieval, was printed on the card as metrics.json's whole zero_shot
    record in one line of JSON; it now reads as the class top-1's line does, each figure beside its interval."""
    from eegviz.eval.model_card import _results

    z = {"protocol": "200-way zero-shot retrieval ...", "n_concepts": 200, "n_images": 400, "trials_averaged": 80.0,
         "200way_top1": 0.155, "top1": 0.155, "top5": 0.4, "chance_top1": 0.005, "chance_top5": 0.025,
         "top1_ci95": [0.122, 0.194], "top1_chance_band95": [0.0, 0.015], "top5_ci95": [0.353, 0.449],
         "top5_chance_band95": [0.01, 0.043], "top1_per_subject": {"1": 0.15, "2": 0.16}}
    text = _results({"zero_shot": z}, {})
    assert "{" not in text and "200way_top1" not in text
    assert ("- zero-shot retrieval (200-way, test concepts never trained on, 80 test trials averaged per image and "
            "subject, 400 retrievals, one per (subject, image) average): top-1 0.155 (95% Wilson interval "
            "0.122-0.194; chance 0.005, a guesser's 95% band 0.000-0.015); top-5 0.400 (95% Wilson interval "
            "0.353-0.449; chance 0.025, a guesser's 95% band 0.010-0.043); top-1 per subject: subject 1 0.150, "
            "subject 2 0.160\n") in text


def test_the_retrain_command_quotes_folders_named_with_spaces():
    """--data and --out went into the card's Retrain command unquoted (the options were quoted), so a lab's folder
    named with a space split into two arguments when the command was pasted."""
    import shlex

    from eegviz.eval.model_card import train_command

    command = train_command("/lab/EEG data/sub-01", "/lab/models/my lab", {"images_dir": "/lab/my stimuli"})
    assert shlex.split(command.replace("\\\n", "")) == ["eegviz", "train", "--data", "/lab/EEG data/sub-01", "--out",
                                                        "/lab/models/my lab", "--images-dir", "/lab/my stimuli"]


def test_the_artefact_line_speaks_of_an_evaluation_only_where_one_dropped_them():
    """A card is written without an evaluation too (a test split under two trials): its --reject-uv line said 'the
    evaluation below dropped the same ones' with no evaluation below. It says so only beside one that did."""
    from eegviz.eval.model_card import _artefacts

    record = {"reject_uv": 150.0, "epochs": {"train": 8, "val": 4, "test": 4}, "dropped": {"train": 2, "val": 1,
                                                                                          "test": 0}}
    words = "Artefact rejection: --reject-uv 150: 2 of 8 train, 1 of 4 val, 0 of 4 test epochs dropped as artefacts"
    why = " (peak to peak on any channel as the decoder reads the epoch; the counts above are of the epochs kept"
    assert _artefacts({"artefacts": record}, None) == words + why + ").\n"
    assert _artefacts({"artefacts": record}, {"headline": {}}) == words + why + ").\n"
    assert _artefacts({"artefacts": record}, {"artefacts": record}) == \
        words + why + ", and the evaluation below dropped the same ones).\n"
    assert _artefacts({"artefacts": None}, {"artefacts": record}) == ""
