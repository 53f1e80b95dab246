"""The outside image classifier (a transformers model in a local folder), tiny and random, built from config."""

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.eval.classifier import HFImageClassifier
from tiny_models import tiny_image_classifier


def test_loads_a_local_transformers_classifier(tmp_path):
    classes = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
    clf = HFImageClassifier(str(tiny_image_classifier(tmp_path / "clf", classes)), batch=3)
    assert clf.classes == classes and "ResNetForImageClassification" in clf.name
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 40, 24, 3), dtype=np.uint8)  # any size: its processor resizes
    logits = clf.logits_uint8(imgs)
    assert logits.shape == (7, 5) and np.isfinite(logits).all()
    np.testing.assert_allclose(logits[2:3], clf.logits_uint8(imgs[2:3]), atol=1e-5)  # batching changes nothing
    assert clf.logits_uint8(imgs[:0]).shape == (0, 5)


def test_not_a_classifier_is_one_clear_error(tmp_path):
    with pytest.raises(EegvizError, match="cannot load an image classifier"):
        HFImageClassifier(str(tmp_path))


def test_a_classifier_folder_that_names_its_own_code_is_refused_without_asking(tmp_path, monkeypatch):
    """configs with an auto_map name Python files in the folder; transformers would ask at the terminal whether to
    run them (here the answer would be yes). eegviz refuses such a folder in one line and runs nothing."""
    import io
    import json

    folder = tmp_path / "clf"
    folder.mkdir()
    ran = tmp_path / "ran"
    (folder / "own.py").write_text(f"open({str(ran)!r}, 'w').write('ran')\n"
                                   "from transformers import PretrainedConfig as OwnConfig\n"
                                   "from transformers import BaseImageProcessor as OwnProcessor\n")
    (folder / "config.json").write_text(json.dumps({"auto_map": {"AutoConfig": "own.OwnConfig"}, "model_type": "own"}))
    processor = {"auto_map": {"AutoImageProcessor": "own.OwnProcessor"}}
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n" * 4))
    with pytest.raises(EegvizError, match="cannot load an image classifier"):
        HFImageClassifier(str(folder))
    assert not ran.exists()


def test_stimulus_classifier_sees_new_renders_every_epoch(monkeypatch):
    """fresh=True: each epoch renders new stimulus numbers (k runs on), never the first epoch's pictures again;
    fresh=False reuses one set."""
    import eegviz.world.stimuli as stimuli
    from eegviz.eval.classifier import train_classifier

    seen = []
    real = stimuli.render_batch

    def spy(specs, size):
        seen.append({s.image_id for s in specs})
        return real(specs, size)

    monkeypatch.setattr(stimuli, "render_batch", spy)
    train_classifier(n_per_class=1, epochs=3, seed=1, size=16, channels=(4, 4), fresh=True)
    assert len(seen) == 3 and len(seen[0] | seen[1] | seen[2]) == 3 * 40
    assert all(i.endswith("_s1") for s in seen for i in s)  # the classifier's own seed, not the EEG stimuli's (0)
    seen.clear()
    train_classifier(n_per_class=1, epochs=3, seed=1, size=16, channels=(4, 4), fresh=False)
    assert len(seen) == 1


def test_a_three_block_classifier_folder_still_loads(tmp_path):
    """Folders saved before `channels` was a config entry (three blocks, 32/64/96) load with their own shape."""
    import json

    from eegviz.eval.classifier import StimulusClassifier, load_classifier, save_classifier
    from eegviz.world.stimuli import CLASSES

    old = StimulusClassifier(list(CLASSES), size=16)
    folder = save_classifier(old, tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["channels"]
    (folder / "config.json").write_text(json.dumps(cfg))
    back = load_classifier(tmp_path)
    assert len(back.body) == 5 and back.head.in_features == 96
    x = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_allclose(back.logits_uint8(x), old.logits_uint8(x), atol=1e-5)
