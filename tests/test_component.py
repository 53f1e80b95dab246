"""eegviz.component: a part loaded and saved again keeps its config, not the path it was loaded from."""

import json

import torch

from eegviz.component import load_component
from eegviz.eval.classifier import StimulusClassifier
from eegviz.world.stimuli import CLASSES


def test_a_reloaded_part_saved_again_carries_no_path_of_this_machine(tmp_path):
    StimulusClassifier(list(CLASSES), size=32, channels=(4, 4)).save_pretrained(tmp_path / "a")
    part = load_component(StimulusClassifier, tmp_path / "a")
    assert "_name_or_path" not in part.config and part.config.channels == [4, 4]
    part.save_pretrained(tmp_path / "b")
    cfg = json.loads((tmp_path / "b" / "config.json").read_text())
    assert "_name_or_path" not in cfg and str(tmp_path) not in json.dumps(cfg)
    again = load_component(StimulusClassifier, tmp_path / "b")
    for p, q in zip(part.parameters(), again.parameters()):
        assert torch.equal(p, q)
