"""Image discovery as the presenter uses it (eegviz.data.images.find_images): flat and class folders, errors."""

import uuid

import pytest
from PySide6 import QtGui

from eegviz.data.images import find_images
from eegviz.errors import EegvizError


def _png(path, rgb=(200, 40, 40), w=40, h=20):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(*rgb))
    assert img.save(str(path))
    return path


def test_find_images_flat_and_class_folders(tmp_path):
    _png(tmp_path / "star_001.png")
    _png(tmp_path / "faces" / "f1.JPG")
    _png(tmp_path / "faces" / "f2.bmp")
    _png(tmp_path / "houses" / "h1.jpeg")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "captions.json").write_text("{}")
    _png(tmp_path / ".hidden" / "x.png")
    found = find_images(tmp_path)
    assert [(i.image_id, i.class_name) for i in found] == [
        ("star_001", "star"), ("f1", "faces"), ("f2", "faces"), ("h1", "houses")]


def test_find_images_errors(tmp_path):
    with pytest.raises(EegvizError, match="does not exist"):
        find_images(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(EegvizError, match="no images"):
        find_images(tmp_path)
    _png(tmp_path / "a" / "dup.png")
    _png(tmp_path / "b" / "dup.png")
    with pytest.raises(EegvizError, match="share the id 'dup'"):
        find_images(tmp_path)




@pytest.mark.parametrize("name", ["cat 1 .png", " cat 1.png"])
def test_an_image_name_a_marker_would_lose_a_space_of_is_refused(tmp_path, name):
    """The presenter sent 'cat 1 ' and training reads marker ids stripped: every trial of that image was left out
    of training with only a warning about 'cat 1'. Refused before anything is shown or recorded."""
    _png(tmp_path / "cat" / name)
    with pytest.raises(EegvizError, match="begins or ends with a space"):
        find_images(tmp_path)


def test_an_image_name_that_is_not_utf8_text_is_refused(tmp_path):
    """A name written in Latin-1 (b'b\\xe4r.png', copied from an old drive) is no text on a UTF-8 system: the
    presenter refused the folder with Qt's "File not found" for a file that is there, and no marker could name it.
    Refused in one line that says what is wrong with the name."""
    import os

    _png(tmp_path / "cat" / "ok.png")
    folder = os.fsencode(tmp_path / "cat")
    try:
        with open(os.path.join(folder, b"b\xe4r.png"), "wb") as f:
            f.write((tmp_path / "cat" / "ok.png").read_bytes())
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    with pytest.raises(EegvizError, match=r"has a name that is not UTF-8 text .* rename it"):
        find_images(tmp_path)


def test_a_utf8_name_under_an_ascii_locale_names_the_locale_not_the_file(tmp_path):
    """'bär.png' is UTF-8 on disk, but an ASCII locale (LC_ALL=C with PYTHONUTF8=0) cannot read it: the refusal
    called it bytes another encoding wrote and said to rename a good file. It names the locale and the fix now."""
    import os
    import subprocess
    import sys

    _png(tmp_path / "cat" / "ok.png")
    (tmp_path / "cat" / "b\u00e4r.png").write_bytes((tmp_path / "cat" / "ok.png").read_bytes())
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8:backslashreplace"}
    code = ("import sys; from eegviz.data.images import find_images; from eegviz.errors import EegvizError\n"
            "try:\n    find_images(sys.argv[1])\nexcept EegvizError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=120).stdout
    assert "has a UTF-8 name this system's locale (ascii) cannot read as text" in out and "PYTHONUTF8=1" in out, out
    assert "rename it" not in out


def test_a_photo_with_an_exif_orientation_is_trained_on_as_the_presenter_shows_it(tmp_path):
    """A phone photo stored sideways with an orientation tag: the presenter shows it upright (Qt applies the tag),
    so training's target (load_image) and the live ground-truth panel must be upright too, not the stored pixels."""
    import numpy as np
    from PIL import Image

    from eegviz.app.presenter.widget import _read_image
    from eegviz.data.images import load_image

    px = np.zeros((40, 80, 3), np.uint8)
    px[:, :40] = (255, 0, 0)  # stored: red left, blue right
    px[:, 40:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": red on top, blue below
    Image.fromarray(px).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    shown = _read_image(tmp_path / "phone.jpg")
    assert (shown.width(), shown.height()) == (40, 80)
    assert QtGui.QColor(shown.pixel(20, 5)).red() > 200 and QtGui.QColor(shown.pixel(20, 75)).blue() > 200
    target = load_image(tmp_path / "phone.jpg", 16)
    assert target[:4].mean(axis=(0, 1)) == pytest.approx([1, 0, 0], abs=0.05)  # red on top, as shown
    assert target[-4:].mean(axis=(0, 1)) == pytest.approx([0, 0, 1], abs=0.05)
    # a PNG's eXIf orientation Qt does not apply: the presenter shows it as stored, and so must training
    Image.fromarray(px).save(tmp_path / "stored.png", exif=exif)
    shown = _read_image(tmp_path / "stored.png")
    assert (shown.width(), shown.height()) == (80, 40)
    target = load_image(tmp_path / "stored.png", 16)
    assert target[:, :4].mean(axis=(0, 1)) == pytest.approx([1, 0, 0], abs=0.05)  # red on the left, as shown


def test_a_transparent_cut_out_is_trained_on_over_black_as_the_presenter_shows_it(qtbot, tmp_path):
    """A PNG cut-out whose transparent pixels store white: the presenter paints it over its black background, so
    training's target and the ground-truth panel (load_image) show it on black, not on the stored white."""
    import numpy as np
    from PIL import Image

    from eegviz.app.presenter.schedule import make_schedule
    from eegviz.app.presenter.widget import Presenter
    from eegviz.data.images import load_image

    px = np.zeros((40, 40, 4), np.uint8)
    px[..., :3] = 255  # transparent white around ...
    px[10:30, 10:30] = (255, 0, 0, 255)  # ... an opaque red square
    Image.fromarray(px, "RGBA").save(tmp_path / "cut_1.png")
    images = find_images(tmp_path)
    p = Presenter(make_schedule(images), {i.image_id: i.path for i in images}, name=f"hB-{uuid.uuid4().hex[:10]}",
                  windowed=True, wait_for_consumer=False, lead_in_s=0)
    qtbot.addWidget(p)
    p.resize(100, 100)
    p._showing = "cut_1"
    shown = p.grab().toImage()
    p.close_stream()
    assert QtGui.QColor(shown.pixel(50, 3)).getRgb()[:3] == (0, 0, 0)
    assert QtGui.QColor(shown.pixel(50, 50)).getRgb()[:3] == (255, 0, 0)
    target = load_image(tmp_path / "cut_1.png", 20)
    assert target[0, 0] == pytest.approx([0, 0, 0], abs=1e-6)  # the participant saw black there
    assert target[10, 10] == pytest.approx([1, 0, 0], abs=1e-6)


def test_a_16_bit_greyscale_image_is_trained_on_as_the_presenter_shows_it(tmp_path):
    """A 16-bit greyscale PNG (a grating, a face at full depth): Qt shows its whole range, and load_image used to
    clip every value above 255 to white, so training learnt a white square for it."""
    import numpy as np
    from PIL import Image

    from eegviz.app.presenter.widget import _read_image
    from eegviz.data.images import load_image

    path = tmp_path / "grating_1.png"
    Image.fromarray(np.repeat(np.linspace(0, 65535, 16), 16).reshape(16, 16).T.astype(np.uint16)).save(path)
    shown = _read_image(path).convertToFormat(QtGui.QImage.Format.Format_Grayscale8)
    seen = np.array([QtGui.QColor(shown.pixel(x, 8)).red() for x in range(16)]) / 255
    assert seen[0] < 0.01 and seen[-1] > 0.99  # the presenter: black to white across
    target = load_image(path, 16)
    np.testing.assert_allclose(target[8, :, 0], seen, atol=0.01)
    np.testing.assert_allclose(target[..., 0], target[..., 2])  # grey
