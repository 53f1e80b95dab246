"""The run report a person reads after a headless session: made by the real CLI run, and from odd results files."""

from __future__ import annotations

import json
import logging
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image

from eegviz.record import run_report
from eegviz.record.results import ResultsWriter
from eegviz.record.run_report import contact_sheet_size, write_run_report


class _Refs(HTMLParser):
    """Collects img src / a href and checks every opened tag that needs closing is closed."""

    VOID = {"img", "meta", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.refs: set[str] = set()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.refs.add(a[key])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def _parse(path: Path) -> tuple[str, _Refs]:
    text = path.read_text(encoding="utf-8")
    p = _Refs()
    p.feed(text)
    p.close()
    assert p.stack == [], f"unclosed tags {p.stack}"
    return text, p


def _expected_sheet(n: int) -> tuple[int, int]:
    """The sheet's size from its geometry: COLS cells per row, rows as many as needed (at least one)."""
    r = run_report
    cell_w = 3 * r.TILE + 2 * r.GAP + 2 * r.FRAME
    cell_h = r.TILE + 2 * r.FRAME + r.CAPTION
    cols = max(1, min(r.COLS, n))
    rows = max(1, math.ceil(n / cols))
    return r.PAD + cols * (cell_w + r.PAD), r.HEADER + r.PAD + rows * (cell_h + r.PAD)


def test_headless_demo_ends_with_a_report(tmp_path, capsys, caplog):
    from eegviz.cli import main

    out = tmp_path / "run"
    # in-process: the report is this test's subject, not the process (a subprocess paid ~5 s of imports); under
    # pytest the warning a failed report logs reaches caplog, not stderr, so both are read
    code = main(["demo", "--headless", "--out", str(out), "--speed", "0",
                 "--no-capture"])  # capture (4-8 s of tracing) is not this test's subject
    err = capsys.readouterr().err
    assert code == 0, err
    assert "run report" not in err and "run report" not in caplog.text  # no warning: the report was written
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    done = [row for row in rows if not row["dropped"]]
    assert done

    text, parsed = _parse(out / "report.html")
    for row in done:  # every result's PNGs are linked, and they exist
        assert row["saliency"] in parsed.refs and row["reconstruction"] in parsed.refs
        assert (out / row["saliency"]).is_file() and (out / row["reconstruction"]).is_file()
    assert {"contact_sheet.png", "latency.png"} <= parsed.refs
    assert all((out / ref).is_file() for ref in parsed.refs)

    # the accuracy it states is the one results.jsonl gives (demo markers are synthetic ids: all known)
    hits = sum(row["decoded_class"] == row["marker"].rsplit("_", 1)[0] for row in done)
    m = re.search(r"Decoded-class accuracy: (\d+)/(\d+) \(([\d.]+)%\)", text)
    assert m and (int(m[1]), int(m[2])) == (hits, len(done))
    assert float(m[3]) == round(100 * hits / len(done), 1)
    assert f"<th>reconstructions</th><td>{len(done)}</td>" in text

    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size == _expected_sheet(len(done)) == contact_sheet_size(len(done))
        px = np.asarray(sheet.convert("RGB"))
    # the first cell's frame is green (hit) or red (miss), as its row says
    f = run_report.PAD + 1, run_report.HEADER + run_report.PAD + 1
    first_hit = done[0]["decoded_class"] == done[0]["marker"].rsplit("_", 1)[0]
    assert tuple(px[f[1], f[0]]) == (run_report.HIT if first_hit else run_report.MISS)
    with Image.open(out / "latency.png") as lat:
        assert lat.size[0] > 300 and lat.size[1] > 150


def test_only_dropped_lines_still_make_a_valid_report(tmp_path):
    reasons = ["dropped: generation behind the marker rate (newest wins)"] * 2 + ["gap in the EEG: epoch not cut"]
    with open(tmp_path / "results.jsonl", "w") as f:
        for i, reason in enumerate(reasons):
            f.write(json.dumps({"marker": f"star_{i:03d}", "t_marker": 10.0 + i, "dropped": True,
                                "reason": reason}) + "\n")
        f.write('{"marker": "cut off by a cra')  # a crash can leave half a line
    path = write_run_report(tmp_path)
    text, parsed = _parse(path)
    assert "<th>reconstructions</th><td>0</td>" in text
    assert "<th>dropped (generation behind the marker rate)</th><td>2</td>" in text
    assert "<th>skipped (gaps, bad samples, artefacts, session end)</th><td>1</td>" in text
    assert "<td>gap in the EEG: epoch not cut</td><td>1</td>" in text
    assert "unreadable lines in results.jsonl</th><td>1</td>" in text
    # nothing was decoded: not the markers' names (the line blamed them, and the --images-dir folder)
    assert "Decoded-class accuracy: not known (no marker got a reconstruction)</p>" in text
    assert "latency.png" not in parsed.refs and not (tmp_path / "latency.png").exists()
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.size == _expected_sheet(0)


def test_epochs_rejected_as_artefacts_are_counted_apart_with_the_sessions_threshold(tmp_path):
    """--reject-uv: the report counted a rejected epoch only among 'skipped (gaps, bad samples, session end)'; it says
    how many of those were artefacts and over what threshold (session.json's settings), and that a session that asked
    for rejection had none rejected."""
    lines = [{"marker": "star_000", "t_marker": 10.0, "dropped": True, "skip": "gap", "reason": "window in a gap"},
             {"marker": "star_001", "t_marker": 11.0, "dropped": True, "skip": "rejected",
              "reason": "epoch rejected: Fp1 312 uV peak to peak > 150 uV (--reject-uv; kept in the recording, not "
                        "decoded)"}]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    text = write_run_report(tmp_path).read_text()
    # the rejected one is among the skips the row names (it named gaps, bad samples and the session's end only)
    assert "<th>skipped (gaps, bad samples, artefacts, session end)</th><td>2</td>" in text
    assert "<th>of those, rejected as artefacts (peak to peak over --reject-uv)</th><td>1</td>" in text
    assert "Decoded-class accuracy: not known (no marker got a reconstruction)</p>" in text
    (tmp_path / "session.json").write_text(json.dumps({"settings": {"reject_uv": 150.0}, "bads": []}))
    text = write_run_report(tmp_path).read_text()
    assert "<th>of those, rejected as artefacts (peak to peak over --reject-uv 150 uV)</th><td>1</td>" in text
    (tmp_path / "results.jsonl").write_text(json.dumps(lines[0]) + "\n")
    assert "rejected as artefacts (peak to peak over --reject-uv 150 uV)</th><td>0</td>" in \
        write_run_report(tmp_path).read_text()


def test_reconstructions_of_markers_naming_no_known_stimulus_say_so(tmp_path):
    """Beside 'no marker got a reconstruction': markers that were decoded but name no stimulus eegviz knows."""
    line = {"index": 0, "marker": "trial-7", "t_marker": 1.0, "dropped": False, "decoded_class": "star"}
    (tmp_path / "results.jsonl").write_text(json.dumps(line) + "\n")
    assert ("Decoded-class accuracy: not known (no marker names an image in the --images-dir folder, or, without "
            "one, a synthetic-world stimulus)</p>") in write_run_report(tmp_path).read_text()


def test_a_folder_name_the_locale_cannot_decode_still_gets_its_report(tmp_path):
    """Under an ASCII locale (LC_ALL=C, PYTHONUTF8=0) the folder 'Müller' is held as 'M\\udcc3\\udcbcller', and
    the report failed to encode it: the session ended with a warning and no report.html. The folder's own bytes
    are written into the UTF-8 report now, so it reads 'Müller'; a marker that is no text becomes '?'."""
    folder = tmp_path / "M\udcc3\udcbcller"  # 'Müller' as an ASCII locale decodes it
    folder.mkdir()
    with open(folder / "results.jsonl", "w") as f:
        f.write(json.dumps({"marker": "star_\ud800", "t_marker": 1.0, "dropped": True, "reason": "gap"}) + "\n")
    path = write_run_report(folder)
    text = path.read_bytes().decode("utf-8")  # strict: the report is UTF-8, as its <meta charset> says
    assert "M\u00fcller</code>" in text and "<title>eegviz run report: M\u00fcller</title>" in text
    assert "<td>star_?</td>" in text


def test_a_full_disk_under_the_report_names_the_file_and_leaves_no_picture_cut_short(tmp_path, monkeypatch):
    """A full disk (or a kill) while the contact sheet was written left a 0-byte contact_sheet.png, and a rerun on
    an old folder truncated the sheet it had: the old file stays whole, no partial is left, the error names it."""
    import errno

    import pytest

    (tmp_path / "results.jsonl").write_text(json.dumps({"marker": "star_000", "t_marker": 1.0, "dropped": True,
                                                         "reason": "gap"}) + "\n")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "results.jsonl").write_text((tmp_path / "results.jsonl").read_text())
    write_run_report(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def full_disk(image, fp, *args, **kwargs):  # part of the picture reaches the disk, then write() fails
        with open(fp, "wb") as f:
            f.write(b"\x89PNG\r\n")
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it: no file name

    monkeypatch.setattr(Image.Image, "save", full_disk)
    for folder in (tmp_path, fresh):
        with pytest.raises(OSError) as e:
            write_run_report(folder)
        assert e.value.errno == errno.ENOSPC and e.value.filename == str(folder / "contact_sheet.png")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in fresh.iterdir()) == ["results.jsonl"]


def test_hits_misses_and_unknown_stimuli(tmp_path):
    """Accuracy counts only markers whose stimulus is known; a real lab's own ids are shown, not scored."""
    (tmp_path / "saliency").mkdir()
    (tmp_path / "reconstruction").mkdir()
    rows = [("star_001", "star"), ("boat_002", "star"), ("my_photo_17", "boat")]
    with open(tmp_path / "results.jsonl", "w") as f:
        for i, (marker, decoded) in enumerate(rows):
            for kind in ("saliency", "reconstruction"):
                Image.new("RGB", (32, 32), (i * 80, 100, 50)).save(tmp_path / kind / f"{i}.png")
            f.write(json.dumps({"index": i, "marker": marker, "t_marker": 1.0 + i, "dropped": False,
                                "decoded_class": decoded, "latency_ms": {"marker_to_image": 100.0 + i},
                                "saliency": f"saliency/{i}.png", "reconstruction": f"reconstruction/{i}.png"})
                    + "\n")
    text, parsed = _parse(write_run_report(tmp_path))
    assert "Decoded-class accuracy: 1/2 (50.0%)" in text
    assert text.count('class="hit"') == 1 and "miss (was boat)" in text
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.size == _expected_sheet(3)
        px = np.asarray(sheet.convert("RGB"))
    y = run_report.HEADER + run_report.PAD + 1
    xs = [run_report.PAD + k * (run_report.CELL_W + run_report.PAD) + 1 for k in range(3)]
    assert [tuple(px[y, x]) for x in xs] == [run_report.HIT, run_report.MISS, run_report.UNKNOWN]


def test_a_failing_report_never_loses_results(tmp_path, monkeypatch, caplog):
    def boom(folder):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_report, "write_run_report", boom)
    w = ResultsWriter(tmp_path)
    from eegviz.messages import Marker, SkipKind

    w.on_skipped(Marker(timestamp=1.0, payload="star_000"), "gap", SkipKind.GAP)
    with caplog.at_level(logging.WARNING, logger="eegviz.record.results"):
        w.close()
        w.close()  # twice is fine, and warns once
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "disk full" in caplog.records[0].message
    assert json.loads((tmp_path / "results.jsonl").read_text())["reason"] == "gap"


def test_a_full_disk_names_results_jsonl_and_the_warning_does_not_call_it_complete(tmp_path, caplog):
    import errno

    import pytest

    from eegviz.messages import Marker, SkipKind

    w = ResultsWriter(tmp_path)
    w.on_skipped(Marker(timestamp=1.0, payload="star_000"), "gap", SkipKind.GAP)
    w._fh.close()
    w._fh = open("/dev/full", "w", buffering=1)  # every write fails as on a full disk: ENOSPC, no file name
    with pytest.raises(OSError) as e:
        w.on_skipped(Marker(timestamp=2.0, payload="star_001"), "gap", SkipKind.GAP)
    # the one line eegviz prints says which file (it said "No space left on device" alone)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "results.jsonl")
    with caplog.at_level(logging.WARNING, logger="eegviz.record.results"):
        w.close()  # the line left in the buffer fails again: said, not raised twice
        w.close()
    said = " ".join(r.message for r in caplog.records)
    assert "NOT complete" in said and "is complete" not in said  # it said "results.jsonl is complete"


def test_every_marker_table_is_in_marker_order_and_odd_payloads_do_not_stop_the_report(tmp_path):
    """results.jsonl is written as results complete, so a dropped marker can come before the results of earlier
    markers: the table used to follow the file (t negative for the first marker). And a marker holding a newline
    stopped the whole report (Pillow cannot measure multi-line text), losing report.html and the contact sheet."""
    (tmp_path / "saliency").mkdir()
    (tmp_path / "reconstruction").mkdir()
    with open(tmp_path / "results.jsonl", "w") as f:
        f.write(json.dumps({"marker": "star_003", "t_marker": 12.0, "dropped": True, "reason": "dropped: behind"})
                + "\n")
        for i, (marker, t) in enumerate([("boat_001", 10.0), ("odd\nid\t7", 11.0)]):
            for kind in ("saliency", "reconstruction"):
                Image.new("RGB", (32, 32), (90, 100, 50)).save(tmp_path / kind / f"{i}.png")
            f.write(json.dumps({"index": i, "marker": marker, "t_marker": t, "dropped": False, "decoded_class": "boat",
                                "saliency": f"saliency/{i}.png", "reconstruction": f"reconstruction/{i}.png"}) + "\n")
    text, _ = _parse(write_run_report(tmp_path))
    table = text[text.index("<h2>Every marker"):]
    assert table.index("boat_001") < table.index("odd") < table.index("star_003")
    assert "<td>boat_001</td><td>0.00</td>" in table and "<td>star_003</td><td>2.00</td>" in table
    assert (tmp_path / "contact_sheet.png").exists()


def test_names_in_results_that_leave_the_folder_are_not_linked(tmp_path):
    """results.jsonl is plain text a person can edit or be sent, and its picture names went into report.html as
    they stood: `"reconstruction": "javascript:..."` became a link that runs a script when clicked, and a name
    that is not text stopped the whole report. Only the folder's own relative names are linked now."""
    (tmp_path / "saliency").mkdir()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "saliency" / "0.png")
    outside = tmp_path.parent / "outside.png"
    Image.new("RGB", (32, 32)).save(outside)
    bad = ["javascript:alert(1)", str(outside), "../outside.png", "saliency/../../outside.png", 7, "http://x/y.png"]
    with open(tmp_path / "results.jsonl", "w") as f:
        for i, name in enumerate(bad):
            f.write(json.dumps({"index": i, "marker": f"star_{i:03d}", "t_marker": 1.0 + i, "dropped": False,
                                "decoded_class": "star", "saliency": "saliency/0.png", "reconstruction": name,
                                "true_class": "star", "stimulus": name}) + "\n")
    text, parsed = _parse(write_run_report(tmp_path))
    assert text.count('"saliency/0.png"') == 2 * len(bad)  # the folder's own picture: href and src per row
    assert parsed.refs <= {"saliency/0.png", "contact_sheet.png", "latency.png"}
    assert "javascript" not in text.split("<h2>Every marker")[1].split("<td>star_000</td>")[1].split("</tr>")[0]


def test_a_picture_that_cannot_be_saved_is_not_called_a_failed_results_jsonl(tmp_path, monkeypatch, caplog):
    """A full disk under a PNG: the error names the PNG, its marker gets its error line (eegviz.pipeline), and
    results.jsonl holds every line. The warning at close called results.jsonl NOT complete, naming the PNG."""
    import errno

    import pytest

    from eegviz.messages import Decoded, Epoch, Marker, Reconstruction, SkipKind

    marker = Marker(timestamp=1.0, payload="star_000")
    epoch = Epoch(np.zeros((2, 10), np.float32), 100.0, ("a", "b"), 0.0, marker, t_ready=0.0)
    rec = Reconstruction(Decoded(epoch, np.zeros(4), np.zeros((8, 8, 3), np.float32), np.zeros((2, 4)),
                                 np.array([1.0]), ("star",)), np.zeros((8, 8, 3), np.uint8), "g")
    w = ResultsWriter(tmp_path)

    def full_disk(image, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(Image.Image, "save", full_disk)
        with pytest.raises(OSError) as e:
            w.on_result(rec)
    assert e.value.filename == str(tmp_path / "saliency" / "00000_star_000.png")
    w.on_skipped(marker, "session ended by an error before this epoch was generated", SkipKind.ERROR)
    monkeypatch.setattr(run_report, "write_run_report", lambda folder: (_ for _ in ()).throw(OSError("no room")))
    with caplog.at_level(logging.WARNING, logger="eegviz.record.results"):
        w.close()
    said = " ".join(r.message for r in caplog.records)
    assert "results.jsonl is complete" in said and "NOT" not in said
    assert json.loads((tmp_path / "results.jsonl").read_text())["skip"] == "error"


def test_a_result_whose_picture_is_cut_short_leaves_none_of_its_pictures(tmp_path, monkeypatch):
    """A full disk while the reconstruction PNG was written left it 0 bytes (no viewer opens it) and the saliency
    PNG beside it, which no line names (the marker gets its error line): a result is on disk whole or not at
    all. The results before it keep theirs."""
    import errno

    import pytest

    from eegviz.messages import Decoded, Epoch, Marker, Reconstruction

    def result(i):
        marker = Marker(timestamp=1.0 + i, payload=f"star_{i:03d}")
        epoch = Epoch(np.zeros((2, 10), np.float32), 100.0, ("a", "b"), 0.0, marker, t_ready=0.0, index=i)
        return Reconstruction(Decoded(epoch, np.zeros(4), np.zeros((8, 8, 3), np.float32), np.zeros((2, 4)),
                                      np.array([1.0]), ("star",)), np.zeros((8, 8, 3), np.uint8), "g")

    w = ResultsWriter(tmp_path)
    w.on_result(result(0))
    real_save = Image.Image.save

    def full_disk_at_reconstruction(image, fp, *args, **kwargs):
        if Path(fp).parent.name != "reconstruction":
            return real_save(image, fp, *args, **kwargs)
        with open(fp, "wb") as f:
            f.write(b"")  # what a full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk_at_reconstruction)
    with pytest.raises(OSError, match="No space left"):
        w.on_result(result(1), stimulus=np.zeros((8, 8, 3), np.uint8))
    monkeypatch.undo()
    w.close()
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*.png"))
    assert left == ["reconstruction/00000_star_000.png", "saliency/00000_star_000.png"]


def test_a_report_that_failed_can_be_written_again_by_the_command_the_warning_names(tmp_path, monkeypatch, caplog,
                                                                                    capsys):
    """The report 'can be rerun later', said the code, but no command did it: a session whose report failed (a
    full disk) or never came (a kill) kept its results and no way for its user to see them summed up. The
    warning names `python -m eegviz.record.run_report DIR`, which writes it; a folder without results is one line."""
    import runpy
    import shlex
    import sys

    from eegviz.messages import Marker, SkipKind

    real = run_report.write_run_report
    monkeypatch.setattr(run_report, "write_run_report", lambda folder: (_ for _ in ()).throw(OSError("no room")))
    w = ResultsWriter(tmp_path)
    w.on_skipped(Marker(timestamp=1.0, payload="star_000"), "gap", SkipKind.GAP)
    with caplog.at_level(logging.WARNING, logger="eegviz.record.results"):
        w.close()
    assert not (tmp_path / "report.html").exists()
    said = caplog.records[0].message
    command = shlex.split(re.search(r"`([^`]*)`", said).group(1))
    assert command[:3] == ["python", "-m", "eegviz.record.run_report"] and command[3:] == [str(tmp_path)]
    monkeypatch.setattr(run_report, "write_run_report", real)
    monkeypatch.setattr(sys, "argv", [command[2], *command[3:]])
    import pytest

    with pytest.raises(SystemExit) as done:
        runpy.run_module(command[2], run_name="__main__")
    assert done.value.code == 0 and (tmp_path / "report.html").exists()
    assert capsys.readouterr().out.strip() == f"eegviz: report in {tmp_path / 'report.html'}"
    assert run_report.main([str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eegviz: error: ") and "holds no results.jsonl" in err and len(err.splitlines()) == 1


def test_the_report_says_what_img2img_started_from(tmp_path):
    """--init latent: report.html showed each result's saliency map beside its reconstruction and nothing said the
    image was not drawn from it (found by review). results.jsonl's "init" is summed up in the report's table; a
    folder whose lines do not say (written before they did) gets no row."""
    def report(inits):
        folder = tmp_path / "_".join(str(i) for i in inits)
        folder.mkdir()
        with open(folder / "results.jsonl", "w") as f:
            for i, init in enumerate(inits):
                f.write(json.dumps({"index": i, "marker": f"star_{i:03d}", "t_marker": 1.0 + i, "dropped": False,
                                    "decoded_class": "star", **({"init": init} if init else {})}) + "\n")
        return _parse(write_run_report(folder))[0]

    assert ("<th>img2img started from</th><td>the decoder&#x27;s latent branch (--init latent; the saliency maps "
            "shown are not what it drew from)</td>") in report(["latent", "latent"])
    assert "<th>img2img started from</th><td>the saliency map</td>" in report(["saliency"])
    assert "started from" not in report([None])


def test_the_contact_sheet_says_when_its_saliency_maps_were_not_the_start():
    """With --init latent the sheet's middle image is still the saliency map, but img2img began at the latent
    branch: the header said "stimulus | saliency | reconstruction" as for a default run. The header fits a full
    sheet's width either way (121 results: the "first 120 of" note too)."""
    from PIL import ImageDraw, Image as PILImage

    from eegviz.record.run_report import MAX_SHEET, _font, sheet_title

    latent = [{"init": "latent"}] * (MAX_SHEET + 1)
    assert sheet_title(latent).startswith("stimulus | saliency (not the start: --init latent) | reconstruction")
    assert sheet_title([{"init": "saliency"}, {}]).startswith("stimulus | saliency | reconstruction   green")
    width = contact_sheet_size(len(latent))[0]
    draw = ImageDraw.Draw(PILImage.new("RGB", (1, 1)))
    for rows in (latent, [{}] * (MAX_SHEET + 1)):
        assert draw.textlength(sheet_title(rows), font=_font(16)) < width - 2 * 10, sheet_title(rows)


def test_rejected_and_nan_skips_are_one_row_a_kind_in_the_skipped_table(tmp_path):
    """A rejected epoch's reason carries its own channel and microvolts, so grouped by its text every marker was a
    row of 1 (forty rows at a low --reject-uv); such skips are one row a kind, with an example, and reasons without
    numbers keep a row each."""
    def rejected(i, uv):
        return {"marker": f"star_{i:03d}", "t_marker": float(i), "dropped": True, "skip": "rejected",
                "reason": f"epoch rejected: Fp1 {uv} uV peak to peak > 150 uV (--reject-uv; kept in the recording, "
                          "not decoded)"}
    lines = [rejected(0, 312), rejected(1, 208), rejected(2, 451),
             {"marker": "star_003", "t_marker": 3.0, "dropped": True, "skip": "gap", "reason": "window in a gap"},
             {"marker": "star_004", "t_marker": 4.0, "dropped": True, "skip": "gap", "reason": "window in a gap"}]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    table = write_run_report(tmp_path).read_text().split("<h2>Dropped and skipped markers</h2>")[1].split("</table>")[0]
    assert table.count("<tr>") == 3  # the header, the rejected, the gaps
    assert ("<tr><td>e.g. epoch rejected: Fp1 312 uV peak to peak &gt; 150 uV (--reject-uv; kept in the recording, "
            "not decoded) (each marker&#x27;s own below)</td><td>3</td></tr>") in table
    assert "<tr><td>window in a gap</td><td>2</td></tr>" in table
    (tmp_path / "results.jsonl").write_text(json.dumps(lines[0]) + "\n")  # one reason: as it is, no "e.g."
    assert "<tr><td>epoch rejected: Fp1 312 uV" in write_run_report(tmp_path).read_text()
