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
