"""replay --event-ids: a recording whose stimuli are trigger codes, named by a code table or a presentation log."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from eegviz.errors import EegvizError
from eegviz.sources.event_ids import read_event_ids
from eegviz.sources.mne_file import MneFileSource

CAP8 = ["Fp1", "Fp2", "C3", "C4", "O1", "O2", "P3", "P4"]
SF = 250


def _fif(path, codes=(), annotations=()):
    """A 10 s FIF of CAP8 with a trigger channel 'STI 014' holding `codes` (code, second) and `annotations`
    (description, second)."""
    import mne

    n = SF * 10
    data = np.vstack([np.random.default_rng(1).standard_normal((8, n)) * 1e-5, np.zeros(n)])
    for code, t in codes:
        data[8, int(t * SF):int(t * SF) + 5] = code
    info = mne.create_info(CAP8 + ["STI 014"], float(SF), ["eeg"] * 8 + ["stim"])
    raw = mne.io.RawArray(data, info, verbose="error")
    if annotations:
        raw.set_annotations(mne.Annotations([t for _, t in annotations], 0, [d for d, _ in annotations]))
    raw.save(path, verbose="error")
    return path


def _markers(src):
    return [(round(m.timestamp, 3), m.payload) for m in src.load()[2]]


def test_trigger_channel_codes_named_by_a_code_table_are_image_id_markers(tmp_path, caplog):
    """A FIF whose stimuli are only on its STI channel was refused; with a code table (code,image_id) each event is
    a marker named by its code's image id, --event-codes leaving out the response code 255, and one line says how
    the file was read."""
    rec = _fif(tmp_path / "trig_raw.fif", codes=[(1, 2), (2, 4), (255, 5), (1, 6)])
    (tmp_path / "codes.tsv").write_text("code\timage_id\n1\tdog_01\n2\tcat_02\n")
    src = MneFileSource(rec, speed=0, event_ids=tmp_path / "codes.tsv", event_codes="1-200")
    assert _markers(src) == [(2.0, "dog_01"), (4.0, "cat_02"), (6.0, "dog_01")]
    said = [r.getMessage() for r in caplog.records if "--event-ids" in r.getMessage()]
    assert len(said) == 1 and "a code table" in said[0] and "trigger channel 'STI 014'" in said[0]


def test_a_present_log_names_numeric_annotations_in_order(tmp_path):
    """`eegviz present --log`'s onset log, as it is, is a sequence: the nth stimulus event (annotations holding codes,
    "3", the text annotation beside them no marker) is named by its nth image_id. The codes alone named no image."""
    from eegviz.app.presenter.schedule import LOG_FIELDS

    rec = _fif(tmp_path / "ann_raw.fif", annotations=[("3", 1.0), ("note", 1.5), ("3", 3.0), ("7", 5.0)])
    with open(tmp_path / "log.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_FIELDS)
        for i, image in enumerate(["bell_01", "bell_02", "tree_07"]):
            w.writerow([i, image, image.split("_")[0], 1.0 + i, 1.0 + i, 0.1])
    src = MneFileSource(rec, speed=0, event_ids=tmp_path / "log.csv")
    assert _markers(src) == [(1.0, "bell_01"), (3.0, "bell_02"), (5.0, "tree_07")]


@pytest.mark.parametrize("table, expected", [
    ("image_id\na_1\nb_2\n", r"has 3 stimulus events .* sequence --event-ids ids.csv lists 2 image ids"),
    ("code,image_id\n1,a_1\n", r"codes 2 \(x1\), 9 \(x1\) of its stimulus events .* not in the code table"),
])
def test_a_sequence_of_another_length_or_an_unknown_code_is_refused_in_one_line(tmp_path, table, expected):
    rec = _fif(tmp_path / "trig_raw.fif", codes=[(1, 2), (2, 4), (9, 6)])
    (tmp_path / "ids.csv").write_text(table)
    with pytest.raises(EegvizError, match=expected) as e:
        MneFileSource(rec, speed=0, event_ids=tmp_path / "ids.csv").load()
    assert "\n" not in str(e.value)


def test_a_code_table_is_checked_before_any_recording_is_read(tmp_path):
    """A code that is not an integer, or a file with no image_id header, is one line naming the file and line."""
    (tmp_path / "bad.csv").write_text("code,image_id\n1,dog_01\nS1,cat_02\n")
    with pytest.raises(EegvizError, match=r"--event-ids .*bad.csv, line 3: code 'S1' is not an integer"):
        read_event_ids(tmp_path / "bad.csv")
    (tmp_path / "gap.csv").write_text("code,image_id\n1,dog_01\n\n1_0,cat_02\n")  # Python's int() reads 10
    with pytest.raises(EegvizError, match=r"gap.csv, line 4: code '1_0' is not an integer"):
        read_event_ids(tmp_path / "gap.csv")
    (tmp_path / "bare.csv").write_text("1,dog_01\n")
    with pytest.raises(EegvizError, match=r"names no image_id column; give a header: code,image_id"):
        read_event_ids(tmp_path / "bare.csv")


def test_replay_refuses_event_ids_for_a_file_mne_does_not_read(tmp_path, capsys):
    """--event-ids names a file MNE reads' trigger codes: for an XDF file, whose markers are used as they are, it
    would be dropped without a word; --event-codes alone has nothing to name."""
    from eegviz.cli import main

    (tmp_path / "ids.csv").write_text("image_id\na_1\n")
    assert main(["replay", str(tmp_path / "rec.xdf"), "--headless", "--event-ids", str(tmp_path / "ids.csv")]) == 2
    assert "--event-ids names the trigger codes of a file MNE reads" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "rec.fif"), "--headless", "--event-codes", "1-9"]) == 2
    assert "give --event-ids too" in capsys.readouterr().err


def test_markers_that_are_all_trigger_codes_point_to_event_ids(tmp_path, caplog):
    """Without --event-ids, annotations "3", "7" replayed as image ids naming no image, and nothing said why."""
    rec = _fif(tmp_path / "codes_raw.fif", annotations=[("3", 1.0), ("7", 3.0)])
    assert [p for _, p in _markers(MneFileSource(rec, speed=0))] == ["3", "7"]
    said = [r.getMessage() for r in caplog.records if "--event-ids" in r.getMessage()]
    assert said == ["codes_raw.fif: all 2 of its markers are trigger codes ('3', '7'), not image ids: say which "
                    "image each showed with --event-ids FILE (a code table, header code,image_id; or the "
                    "presentation log, header image_id); replayed as they are"]


def test_a_code_table_saved_by_excel_with_semicolons_is_read(tmp_path):
    """Excel writes CSV with ';' where the decimal mark is a comma; such a table was refused as having no
    image_id column."""
    (tmp_path / "codes.csv").write_text("code;image_id\r\n1;dog_01\r\n2;cat_02\r\n")
    assert read_event_ids(tmp_path / "codes.csv").table == {1: "dog_01", 2: "cat_02"}


def test_eeglab_numeric_event_types_are_codes(tmp_path):
    """MNE names an EEGLAB event whose type is a MATLAB number by its float ("3.0"): --event-ids found no code."""
    rec = _fif(tmp_path / "set_raw.fif", annotations=[("3.0", 1.0), ("12.0", 3.0)])
    (tmp_path / "codes.csv").write_text("code,image_id\n3,dog_01\n12,cat_02\n")
    src = MneFileSource(rec, speed=0, event_ids=tmp_path / "codes.csv")
    assert _markers(src) == [(1.0, "dog_01"), (3.0, "cat_02")]


@pytest.mark.parametrize("header", ["trigger,image_id", "Event;Image_ID", "image_id\trt", "trial,image_id,class"])
def test_a_header_with_image_id_and_no_code_column_must_be_a_sequences(tmp_path, header):
    """A code table whose codes were headed `trigger` (or `event`) was read as a sequence, its codes ignored: the
    nth image was put at the nth event whatever its code. A header without a code column is a sequence's only as
    the format says: image_id alone, or the onset log `eegviz present --log` writes."""
    sep = "\t" if "\t" in header else ";" if ";" in header else ","
    (tmp_path / "ids.csv").write_text(f"{header}\n" + sep.join(["1", "dog_01", "x"][:header.count(sep) + 1]) + "\n")
    with pytest.raises(EegvizError) as e:
        read_event_ids(tmp_path / "ids.csv")
    assert str(e.value) == (f"--event-ids {tmp_path / 'ids.csv'}: its header ({header!r}) has image_id but no code "
                            "column, and is no sequence's: a code table's header is code,image_id (the trigger codes "
                            "in a column named code), a sequence's is image_id alone, one row per stimulus event, or "
                            "the onset log `eegviz present --log` writes, as it is")


def test_a_sequence_is_image_id_alone_or_an_onset_log(tmp_path):
    """The onset logs' headers event_ids spells out (the sources do not import the app) are the presenter's."""
    from eegviz.app.presenter.schedule import LOG_FIELDS, ONSET_FIELDS
    from eegviz.sources.event_ids import PRESENT_LOG_HEADERS

    assert PRESENT_LOG_HEADERS == (LOG_FIELDS, ONSET_FIELDS)

    (tmp_path / "seq.csv").write_text("Image_ID,\r\ndog_01,\r\ncat_02,\r\n")  # a spreadsheet's empty last column
    assert read_event_ids(tmp_path / "seq.csv").sequence == ("dog_01", "cat_02")
    for fields in (LOG_FIELDS, ONSET_FIELDS):
        (tmp_path / "log.csv").write_text(",".join(fields) + "\n0,dog_01,dog\n")
        assert read_event_ids(tmp_path / "log.csv").sequence == ("dog_01",)
