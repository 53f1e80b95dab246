"""load_image: any aspect ratio becomes a square target by cropping the centre (nothing squeezed).

ImageOps.fit resamples from the crop box of the full image, so the bicubic filter reads a little past the
box: at a hard colour edge just outside it, the outer two rows of target pixels move by a few percent
(bicubic overshoot included). The interior is exact."""

import numpy as np
from PIL import Image

from eegviz.data.images import load_image


def test_a_wide_image_keeps_its_centre_square(tmp_path):
    px = np.zeros((20, 40, 3), np.uint8)
    px[:, :10] = (255, 0, 0)  # cropped away
    px[:, 10:30] = (0, 255, 0)  # the centre square
    px[:, 30:] = (0, 0, 255)  # cropped away
    Image.fromarray(px).save(tmp_path / "wide.png")
    out = load_image(tmp_path / "wide.png", 8)
    assert out.shape == (8, 8, 3) and out.dtype == np.float32
    green = np.broadcast_to([0.0, 1.0, 0.0], out.shape)
    np.testing.assert_allclose(out[:, 2:-2], green[:, 2:-2], atol=1e-6)
    np.testing.assert_allclose(out, green, atol=0.1)  # not squeezed: red and blue would fill whole columns


def test_a_tall_grey_image_is_resized_not_cropped_to_a_strip(tmp_path):
    px = np.zeros((60, 30), np.uint8)
    px[15:45] = 200  # the centre square of a tall greyscale image
    Image.fromarray(px, "L").save(tmp_path / "tall.png")
    out = load_image(tmp_path / "tall.png", 10)
    np.testing.assert_allclose(out[2:-2], 200 / 255, atol=1e-6)
    np.testing.assert_allclose(out, 200 / 255, atol=0.1)


def test_an_image_that_is_really_postscript_never_reaches_ghostscript(tmp_path, monkeypatch):
    """PIL decodes by content: a ".png" holding EPS would be rendered by Ghostscript, an outside program running the
    file's PostScript (found by review). Only PIL's own PNG / JPEG / BMP decoders are used; the file is one line."""
    import pytest
    from PIL import EpsImagePlugin

    from eegviz.errors import EegvizError

    ran = []
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs")  # as if Ghostscript were installed
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: ran.append(a) or Image.new("RGB", (8, 8)).im)
    path = tmp_path / "circle_0001.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(EegvizError, match="cannot read stimulus image .*circle_0001.png"):
        load_image(path, 8)
    assert ran == []


def test_images_below_the_class_folders_are_said_not_silently_left_out(tmp_path, caplog):
    """animals/cat/c1.png is not read (a folder holds images directly or in one subfolder per class); the
    presenter showed 1 of 3 images, and training read 1 of 3, without a word."""
    import logging

    from eegviz.data.images import find_images

    for rel in ("animals/cat/c1.png", "animals/dog/d1.png", "tools/t1.png", "tools/.cache/x.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="eegviz.data.images"):
        assert [i.image_id for i in find_images(tmp_path)] == ["t1"]
    assert "not read" in caplog.text and "animals/cat" in caplog.text and "animals/dog" in caplog.text
    assert ".cache" not in caplog.text  # hidden folders stay hidden
    caplog.clear()  # said once a process: a replay reads its stimulus folder twice, and the line came twice
    with caplog.at_level(logging.WARNING, logger="eegviz.data.images"):
        assert [i.image_id for i in find_images(tmp_path)] == ["t1"]
    assert "not read" not in caplog.text


def test_an_image_of_another_format_under_an_image_name_is_said_to_be_one(tmp_path):
    """A WebP named .jpg (a web download) is read by no decoder training uses; PIL's 'cannot identify image file'
    did not say why, now the line says the content is not PNG, JPEG or BMP whatever the name says."""
    import pytest

    from eegviz.errors import EegvizError

    path = tmp_path / "cat_1.jpg"
    Image.new("RGB", (8, 8)).save(path, format="WEBP")
    with pytest.raises(EegvizError, match=r"cannot read stimulus image .*cat_1.jpg: its content is not a PNG, "
                                          "JPEG or BMP image, whatever its name says"):
        load_image(path, 8)


def test_images_of_formats_eegviz_does_not_read_are_said_not_silently_left_out(tmp_path, caplog):
    """A folder of PNGs with WebP and GIF downloads beside them: the presenter showed, and training read, only the
    PNGs, without a word on the others (once a process, as the folders below class folders are said)."""
    import logging

    from eegviz.data.images import find_images

    for rel in ("cat/c1.png", "cat/c2.webp", "dog/d1.png", "dog/d2.GIF", "dog/notes.txt", "dog/.d3.webp"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="eegviz.data.images"):
        assert [i.image_id for i in find_images(tmp_path)] == ["c1", "d1"]
    assert "2 images in formats eegviz does not read (.gif, .webp) are left out" in caplog.text
    assert "c2.webp" in caplog.text and "d2.GIF" in caplog.text and "convert them to PNG" in caplog.text
    assert "notes.txt" not in caplog.text and ".d3" not in caplog.text  # not images; hidden
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eegviz.data.images"):
        find_images(tmp_path)
    assert "does not read" not in caplog.text


def test_an_unreadable_entry_is_left_out_with_a_warning_not_an_oserror(tmp_path, monkeypatch, caplog):
    """`--images-dir /` ended in "Permission denied: /proc/1/cwd", naming neither the option nor the folder: a
    folder that cannot be listed is left out, said once with the option, and the readable images are found."""
    import logging
    import os

    from eegviz.data.images import find_images

    for rel in ("cat/c1.png", "dog/d1.png", "locked/x.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    real_scandir, real_listdir = os.scandir, os.listdir

    def refuse(real):
        def call(path="."):
            if os.fspath(path).endswith("locked"):  # root may read anything: the refusal is made, not chmod'ed
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path)
        return call

    monkeypatch.setattr(os, "scandir", refuse(real_scandir))
    monkeypatch.setattr(os, "listdir", refuse(real_listdir))  # what pathlib's iterdir reads with
    with caplog.at_level(logging.WARNING, logger="eegviz.data.images"):
        assert [i.image_id for i in find_images(tmp_path, "--images-dir")] == ["c1", "d1"]
    assert f"--images-dir {tmp_path}: 1 entry could not be read and is left out: {tmp_path / 'locked'}" in caplog.text


def test_a_folder_far_above_the_stimuli_is_refused_naming_the_option(tmp_path, monkeypatch):
    """A home folder or a share's root given as `--images-dir` was walked to its end (or to an unreadable entry);
    the walk stops after MAX_FOLDER_ENTRIES names with a line naming the option and the folder."""
    import re

    import pytest

    import eegviz.data.images as images
    from eegviz.errors import EegvizError

    for i in range(3):
        (tmp_path / f"class{i}").mkdir()
        for j in range(3):
            (tmp_path / f"class{i}" / f"img{i}_{j}.png").write_bytes(b"")
    monkeypatch.setattr(images, "MAX_FOLDER_ENTRIES", 11, raising=False)  # 3 folders + 9 images = 12 names
    with pytest.raises(EegvizError, match=f"^--images-dir {re.escape(str(tmp_path))} holds more than 11 files "
                                          "and folders in it and the two levels below it, which is no stimulus "
                                          "folder"):
        images.find_images(tmp_path, "--images-dir")
    monkeypatch.setattr(images, "MAX_FOLDER_ENTRIES", 12)
    assert len(images.find_images(tmp_path, "--images-dir")) == 9
