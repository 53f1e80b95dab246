import numpy as np

from eegviz.messages import Decoded, Epoch, Marker, Reconstruction
from eegviz.record.results import ResultsWriter


def test_a_long_marker_of_four_byte_letters_still_names_its_pngs(tmp_path):
    """80 letters of 4 bytes each made a 330-byte file name ("File name too long"), which ended the session."""
    marker = "\U0001d41a" * 100  # mathematical bold 'a': a letter, 4 bytes of UTF-8
    ep = Epoch(np.zeros((2, 10), np.float32), 100.0, ("a", "b"), -0.1, Marker(1.0, marker), t_ready=0.0, index=7)
    dec = Decoded(ep, np.zeros(4), np.zeros((8, 8, 3), np.float32), np.zeros((8, 64)), np.array([1.0]), ("star",))
    writer = ResultsWriter(tmp_path, png_size=8)
    try:
        writer.on_result(Reconstruction(dec, np.zeros((8, 8, 3), np.uint8), "embedded"))
    finally:
        writer._fh.close()
    (png,) = (tmp_path / "reconstruction").iterdir()
    assert png.name.startswith("00007_\U0001d41a") and len(png.name.encode("utf-8")) <= 255
    assert (tmp_path / "saliency" / png.name).is_file()
