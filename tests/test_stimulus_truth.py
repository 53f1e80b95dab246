"""What was shown: the session's stimulus folder when given (authoritative), else synthetic-world ids rendered
again; through the pipeline into results.jsonl, stimulus/ and the run report."""

import json
import time

import numpy as np
import pytest
from PIL import Image

from eegviz.errors import EegvizError
from eegviz.stimulus_truth import SIZE, StimulusTruth, synthetic_stimulus


def _folder(tmp_path):
    """A lab's folder: 'cup_003' named like a synthetic stimulus but a plain red picture; 'photo_1' in a class
    subfolder."""
    root = tmp_path / "stimuli"
    (root / "bird").mkdir(parents=True)
    Image.new("RGB", (60, 40), (255, 0, 0)).save(root / "cup_003.png")
    Image.new("RGB", (50, 50), (0, 0, 255)).save(root / "bird" / "photo_1.jpg")
    return root


def test_the_folder_is_authoritative_and_the_synthetic_world_is_the_default(tmp_path):
    truth = StimulusTruth(_folder(tmp_path))
    cup = truth("cup_003")
    assert cup.class_name == "cup" and cup.image.shape == (SIZE, SIZE, 3) and cup.image.dtype == np.uint8
    assert np.abs(cup.image.astype(int) - [255, 0, 0]).max() <= 2  # the lab's picture, not the synthetic cup
    assert not np.array_equal(cup.image, synthetic_stimulus("cup_003"))
    assert truth("photo_1").class_name == "bird"  # the subfolder names the class
    assert truth("star_001") is None  # a synthetic id the folder does not hold: not known
    assert truth("cup_003") is cup  # decoded once
    default = StimulusTruth()
    assert default("star_001").class_name == "star" and np.array_equal(default("star_001").image,
                                                                       synthetic_stimulus("star_001"))
    assert default("photo_1") is None
    assert default("cup_003_s1").class_name == "cup"  # a seeded dataset's id (simulate --seed 1)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(EegvizError, match="--images-dir"):
        StimulusTruth(tmp_path / "nowhere")


def test_results_and_report_record_the_folder_s_truth(tmp_path, monkeypatch):
    """...and each stimulus is decoded once, on the prefetch worker as its marker arrives, never on the
    inference thread (a large PNG takes tens of milliseconds); the worker is stopped with the session."""
    import threading

    from test_pipeline import ArraySource, tiny_models

    import eegviz.data.images as images
    from eegviz.pipeline import Pipeline
    from eegviz.record.results import ResultsWriter

    decoded_on = []
    real_load = images.load_image

    def load_image(*a, **k):
        decoded_on.append(threading.current_thread().name)
        return real_load(*a, **k)

    monkeypatch.setattr(images, "load_image", load_image)

    root = tmp_path / "stimuli"
    (root / "a").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (32, 32), (0, 200, 0)).save(root / "a" / f"m{i}.png")  # class "a", the tiny decoder's
    dec, gen = tiny_models()
    writer = ResultsWriter(tmp_path / "out")
    truth = StimulusTruth(root)
    Pipeline(ArraySource(n_markers=5), dec, gen, [writer], paced=False, truth=truth).run()
    writer.close()
    assert len(decoded_on) == 3 and all(n.startswith("eegviz-truth") for n in decoded_on), decoded_on
    assert truth._pool is None
    rows = {r["marker"]: r for r in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())}
    assert [rows[f"m{i}"]["true_class"] for i in range(5)] == ["a", "a", "a", None, None]
    stim = np.asarray(Image.open(tmp_path / "out" / rows["m1"]["stimulus"]))
    assert np.abs(stim.astype(int) - [0, 200, 0]).max() <= 2 and "stimulus" not in rows["m4"]
    report = (tmp_path / "out" / "report.html").read_text()
    hits = sum(rows[f"m{i}"]["decoded_class"] == "a" for i in range(3))
    assert f"Decoded-class accuracy: {hits}/3 (" in report and "chance" not in report.split("accuracy")[1][:60]


def test_a_session_with_a_missing_images_dir_is_one_line_before_it_starts(tmp_path, capsys):
    from eegviz.cli import main

    assert main(["demo", "--headless", "--images-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--images-dir" in err and "does not exist" in err


def test_a_big_photo_is_decoded_small_and_a_bomb_is_not_known(tmp_path, monkeypatch, caplog):
    from PIL import Image as PILImage

    root = tmp_path / "stimuli"
    root.mkdir()
    PILImage.new("RGB", (3000, 2000), (10, 200, 30)).save(root / "big_1.jpg", quality=90)
    PILImage.new("RGB", (400, 400), (0, 0, 0)).save(root / "bomb_1.png")
    truth = StimulusTruth(root)
    assert np.abs(truth("big_1").image.astype(int) - [10, 200, 30]).max() <= 6
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # stands in for a >179 Mpx file
    assert truth("bomb_1") is None and "cannot read stimulus image" in caplog.text  # a warning, not a crash


def test_prefetched_stimuli_never_asked_for_stay_within_the_cache(tmp_path):
    """A stimulus whose epochs were all skipped (a gap, NaN, the end) is prefetched and never asked for: its
    image stayed in a list of pending decodes for the whole session, beside the bounded cache."""
    import eegviz.stimulus_truth as st

    root = tmp_path / "stimuli"
    root.mkdir()
    for i in range(6):
        Image.new("RGB", (8, 8), (0, 0, 200)).save(root / f"s{i}.png")
    truth = StimulusTruth(root)
    old, st.CACHED = st.CACHED, 4
    try:
        for i in range(6):
            truth.prefetch(f"s{i}")
        for future in list(truth._pending.values()):
            future.result()
        time.sleep(0.1)  # the last done-callback
        assert not truth._pending and list(truth._cache) == [f"s{i}" for i in range(2, 6)]
        assert truth("s5") is truth._cache["s5"]  # asked for later: from the cache
        truth.close()
    finally:
        st.CACHED = old
