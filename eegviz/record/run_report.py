"""The summary a person reads after a headless run: report.html and a PNG contact sheet beside results.jsonl.

results.jsonl is for programs; after a session someone wants to see at a glance whether it worked: what was
shown next to what was decoded and drawn, how many markers were lost and why, how long the images took, and,
where the stimuli are known (the synthetic world's ids, which eegviz can re-render), how often the decoded
class was right, and which electrodes were marked bad. write_run_report(folder) builds that from the folder's
files alone (results.jsonl and the PNGs it names, session.json's "bads"), so it can also be rerun on an old
session folder (`python -m eegviz.record.run_report DIR`, after a full disk or a kill cost a session its report);
ResultsWriter.close() calls it at the end of every headless session, and a failure there only logs a warning
naming that command: the results are already on disk.

Written:
  report.html        counts, accuracy, latency table, electrodes marked bad, skip reasons, one row per marker
                     (links to its PNGs)
  contact_sheet.png  stimulus | saliency | reconstruction per result, framed green/red for hit/miss where the
                     stimulus is known (grey otherwise); the first MAX_SHEET results, in marker order
  latency.png        histogram of marker -> image latency with its median and 95th percentile
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from eegviz.data.images import IMAGE_FORMATS
from eegviz.atomic import replacing
from eegviz.errors import os_error_line
from eegviz.messages import SkipKind

log = logging.getLogger(__name__)

REPORT = "report.html"
SHEET = "contact_sheet.png"
LATENCY = "latency.png"

# Contact-sheet geometry (pixels): a cell is three tiles side by side over a caption strip.
TILE = 112
GAP = 4  # between the three tiles of a cell
FRAME = 4  # hit/miss frame around a cell
PAD = 10  # between cells and at the edges
CAPTION = 36  # two text lines under a cell
HEADER = 30  # title line at the top
COLS = 3  # cells per row
MAX_SHEET = 120  # results drawn on the sheet; the HTML table lists all of them

CELL_W = 3 * TILE + 2 * GAP + 2 * FRAME
CELL_H = TILE + 2 * FRAME + CAPTION
HIT, MISS, UNKNOWN = (40, 170, 70), (210, 50, 50), (120, 120, 120)


def contact_sheet_size(n_results: int) -> tuple[int, int]:
    """(width, height) of the contact sheet for n results (at least one row, so an empty run still has one)."""
    n = min(n_results, MAX_SHEET)
    cols = max(1, min(COLS, n))
    rows = max(1, math.ceil(n / cols))
    return PAD + cols * (CELL_W + PAD), HEADER + PAD + rows * (CELL_H + PAD)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: scalable
    except (TypeError, OSError):
        return ImageFont.load_default()


def read_results(path: Path) -> tuple[list[dict], int]:
    """The rows of results.jsonl and how many lines could not be read (a crash can cut the last one)."""
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def _true_class(folder: Path, row: dict, cache: dict,
                tile: bool = True) -> tuple[Image.Image | np.ndarray | None, str | None]:
    """The stimulus shown (a tile; None when `tile` is False, but for older rows without "true_class", which give
    the re-rendered array) and its class, where known, else (None, None).

    A row that has "true_class" says it itself (eegviz.stimulus_truth decided during the session, from the
    session's --images-dir or the synthetic world; its picture in stimulus/). Folders from before it was
    recorded: a synthetic-world id is rendered again, anything else is not known."""
    if "true_class" in row:
        cls = row["true_class"] if isinstance(row["true_class"], str) else None
        path = _own_file(row.get("stimulus"))
        return (_tile(folder / path) if tile and cls is not None and path is not None else None), cls
    marker = str(row.get("marker", ""))
    if marker not in cache:
        from eegviz.stimulus_truth import synthetic_shown

        try:
            shown = synthetic_shown(marker, size=TILE)
        except Exception:  # noqa: BLE001 - an id the world cannot render is simply not known
            shown = None
        cache[marker] = (None, None) if shown is None else (shown.image, shown.class_name)
    return cache[marker]


def _own_file(value) -> str | None:
    """`value` where it names a file of the results folder as the session writes them ("reconstruction/3.png"),
    else None. results.jsonl is plain text that a person can edit or receive from elsewhere, and its names go
    into report.html's links: an absolute path, a "../" or a URL ("javascript:...") would make a click open
    another file or run a script, so the report shows such a row's pictures as missing instead."""
    if not isinstance(value, str) or not value or "\\" in value or ":" in value:
        return None
    parts = value.split("/")
    if value.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return None
    return value


def _tile(path: Path) -> Image.Image | None:
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as im:  # PIL's own decoders only (eegviz.data.images)
            return im.convert("RGB").resize((TILE, TILE), Image.BICUBIC)
    except (OSError, ValueError):
        return None


def _placeholder(text: str, font) -> Image.Image:
    im = Image.new("RGB", (TILE, TILE), (45, 45, 45))
    d = ImageDraw.Draw(im)
    w = d.textlength(text, font=font)
    d.text(((TILE - w) / 2, TILE / 2 - 7), text, fill=(170, 170, 170), font=font)
    return im


def _fit(d: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text` on one line (a marker may hold newlines or tabs, which Pillow cannot measure), cut to `width`."""
    text = " ".join(text.split())
    if d.textlength(text, font=font) <= width:
        return text
    while text and d.textlength(text + "...", font=font) > width:  # ASCII: the bundled font has no ellipsis
        text = text[:-1]
    return text + "..."


def sheet_title(done: list[dict]) -> str:
    """The contact sheet's one header line. With --init latent (results.jsonl's init) the middle image is still
    the saliency map, but img2img did not start from it: the header said "saliency" as for a default run, so a
    sheet shown on its own read the maps as what the images were drawn from."""
    more = f" (first {MAX_SHEET} of {len(done)})" if len(done) > MAX_SHEET else ""
    if any(r.get("init") == "latent" for r in done):
        return (f"stimulus | saliency (not the start: --init latent) | reconstruction{more}   green: right, red: "
                "wrong, grey: not known")
    return (f"stimulus | saliency | reconstruction{more}   green: decoded class right, red: wrong, grey: stimulus "
            "not known")


def write_contact_sheet(folder: Path, done: list[dict], cache: dict) -> Path:
    """stimulus | saliency | reconstruction per result, with marker, decoded class and hit/miss under it."""
    shown = done[:MAX_SHEET]
    width, height = contact_sheet_size(len(shown))
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    d = ImageDraw.Draw(sheet)
    title, small, tiny = _font(16), _font(13), _font(11)
    d.text((PAD, 7), sheet_title(done), fill=(30, 30, 30), font=title)
    if not shown:
        d.text((PAD, HEADER + PAD + 10), "no reconstructions in this run", fill=(120, 120, 120), font=title)
    cols = max(1, min(COLS, len(shown)))
    for k, row in enumerate(shown):
        x0 = PAD + (k % cols) * (CELL_W + PAD)
        y0 = HEADER + PAD + (k // cols) * (CELL_H + PAD)
        marker = str(row.get("marker", ""))
        stim, true_cls = _true_class(folder, row, cache)
        decoded = row.get("decoded_class")
        colour = UNKNOWN if true_cls is None else (HIT if decoded == true_cls else MISS)
        d.rectangle([x0, y0, x0 + CELL_W - 1, y0 + TILE + 2 * FRAME - 1], fill=colour)
        if isinstance(stim, np.ndarray):
            stim = Image.fromarray(stim).convert("RGB").resize((TILE, TILE))
        tiles = [stim if stim is not None else _placeholder("not known", tiny)]
        for key in ("saliency", "reconstruction"):
            name = _own_file(row.get(key))
            tile = _tile(folder / name) if name is not None else None
            tiles.append(tile if tile is not None else _placeholder("missing", tiny))
        for i, tile in enumerate(tiles):
            sheet.paste(tile, (x0 + FRAME + i * (TILE + GAP), y0 + FRAME))
        verdict = "" if true_cls is None else ("  hit" if decoded == true_cls else f"  MISS (was {true_cls})")
        lat = (row.get("latency_ms") or {}).get("marker_to_image")
        line1 = f"#{row.get('index', k)}  {marker}"
        line2 = f"decoded: {decoded}{verdict}" + (f"   {lat:.0f} ms" if isinstance(lat, (int, float)) else "")
        ty = y0 + TILE + 2 * FRAME + 2
        d.text((x0 + 2, ty), _fit(d, line1, small, CELL_W - 4), fill=(20, 20, 20), font=small)
        d.text((x0 + 2, ty + 17), _fit(d, line2, small, CELL_W - 4), fill=colour if true_cls else (60, 60, 60),
               font=small)
    path = folder / SHEET
    with replacing(path) as tmp:  # whole or not at all; a full disk says which file
        sheet.save(tmp)
    return path


def write_latency_plot(folder: Path, latencies: np.ndarray) -> Path | None:
    """Histogram of marker -> image latency (matplotlib's Agg backend: no display needed)."""
    if latencies.size == 0:
        return None
    from matplotlib.figure import Figure  # a bare Figure uses Agg and leaves pyplot's global state alone

    fig = Figure(figsize=(7, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(latencies, bins=min(40, max(5, latencies.size // 2)), color="#4c72b0", edgecolor="white")
    for q, style in ((50, "-"), (95, "--")):
        v = float(np.percentile(latencies, q))
        ax.axvline(v, color="#c44e52", linestyle=style, label=f"p{q} {v:.0f} ms")
    ax.set_xlabel("marker -> image latency (ms)")
    ax.set_ylabel("markers")
    ax.set_title(f"{latencies.size} reconstructions")
    ax.legend()
    fig.tight_layout()
    path = folder / LATENCY
    with replacing(path) as tmp:
        fig.savefig(tmp)
    return path


def _pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.0f}" if values else "–"


# Skips whose reason carries the epoch's own numbers (a rejected epoch's channel and microvolts, a NaN epoch's sample
# count) are one row per kind with an example, not a row per marker: grouped by their text, a session at a low
# --reject-uv listed forty rows of 1, each marker's reason already in "Every marker" below.
NUMBERED_KINDS = ("rejected", "nan")


def _reasons(skipped: list[dict]) -> list[tuple[str, int]]:
    """(reason, markers) rows for the skipped table, most first: one per reason text, but one per kind for
    NUMBERED_KINDS, its text the first such marker's ("e.g. ...") where the kind's reasons differ."""
    groups: dict[str, list[str]] = {}
    for r in skipped:
        reason = str(r.get("reason", "no reason given"))
        kind = r.get("skip")
        groups.setdefault(f"kind:{kind}" if kind in NUMBERED_KINDS else f"text:{reason}", []).append(reason)
    rows = []
    for reasons in groups.values():
        first = reasons[0]
        rows.append((first if len(set(reasons)) == 1 else f"e.g. {first} (each marker's own below)", len(reasons)))
    return sorted(rows, key=lambda row: -row[1])


def write_run_report(folder: str | Path) -> Path:
    """Write report.html, contact_sheet.png and latency.png into a session folder; returns report.html's path."""
    folder = Path(folder)
    rows, unreadable = read_results(folder / "results.jsonl")
    done = [r for r in rows if not r.get("dropped")]
    skipped = [r for r in rows if r.get("dropped")]
    drops = [r for r in skipped if str(r.get("reason", "")).startswith("dropped")]
    gaps = [r for r in skipped if not str(r.get("reason", "")).startswith("dropped")]
    cache: dict = {}
    known = [(r, _true_class(folder, r, cache, tile=False)[1]) for r in done]
    known = [(r, c) for r, c in known if c is not None]
    hits = sum(r.get("decoded_class") == c for r, c in known)
    from eegviz.stimulus_truth import synthetic_classes

    classes = synthetic_classes()
    # chance is the synthetic world's where its classes are what was shown; a lab's own folder has its own
    # number of classes, which this folder does not record
    synthetic = all(c in classes for _, c in known)
    chance = f", chance {100 / len(classes):.1f}% ({len(classes)} classes)" if synthetic else ""
    if known:
        accuracy = f"Decoded-class accuracy: {hits}/{len(known)} ({100 * hits / len(known):.1f}%){chance}"
    elif not done:
        # nothing decoded (every epoch rejected over --reject-uv, in a gap, dropped): the line below blamed the
        # markers' names, and sent a demo whose every epoch was over --reject-uv 60 looking at its stimuli
        accuracy = "Decoded-class accuracy: not known (no marker got a reconstruction)"
    else:
        # a session with --images-dir judges by that folder (eegviz.stimulus_truth): "a stimulus eegviz can render"
        # sent a lab whose markers missed its folder looking at the synthetic world
        accuracy = ("Decoded-class accuracy: not known (no marker names an image in the --images-dir folder, "
                    "or, without one, a synthetic-world stimulus)")

    stages: dict[str, list[float]] = {}
    for r in done:
        for k, v in (r.get("latency_ms") or {}).items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                stages.setdefault(k, []).append(float(v))
    m2i = np.asarray(stages.get("marker_to_image", []), dtype=float)

    write_contact_sheet(folder, done, cache)
    lat_png = write_latency_plot(folder, m2i)

    e = html.escape
    out = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>eegviz run report: {e(folder.name)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1300px} table{border-collapse:collapse;"
        "margin:.5em 0 1.5em} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left} th{background:#eee}"
        " .hit{color:#1a7f37} .miss{color:#c62828} img.t{width:64px;height:64px;image-rendering:pixelated}"
        " .big{font-size:1.25em;font-weight:bold}</style></head><body>",
        f"<h1>eegviz run report</h1><p>Session folder: <code>{e(str(folder))}</code></p>",
        f'<p class="big">{e(accuracy)}</p>',
        "<table>",
        f"<tr><th>markers</th><td>{len(rows)}</td></tr>",
        f"<tr><th>reconstructions</th><td>{len(done)}</td></tr>",
        f"<tr><th>dropped (generation behind the marker rate)</th><td>{len(drops)}</td></tr>",
        # the causes a skip has, artefacts among them: the row "of those, rejected as artefacts" under it read as a
        # part of "gaps, bad samples, session end"
        f"<tr><th>skipped (gaps, bad samples, artefacts, session end)</th><td>{len(gaps)}</td></tr>",
    ]
    rejected = sum(r.get("skip") == SkipKind.REJECTED.value for r in skipped)
    threshold = _reject_threshold(folder)
    if rejected or threshold is not None:  # --reject-uv: what the artefacts cost, apart from the stream's faults
        over = f"--reject-uv {threshold:g} uV" if threshold is not None else "--reject-uv"
        out.append(f"<tr><th>of those, rejected as artefacts (peak to peak over {over})</th><td>{rejected}</td></tr>")
    starts = Counter(str(r["init"]) for r in done if r.get("init"))  # older results.jsonl lines do not say
    if starts:
        # --init latent: the saliency maps beside the reconstructions (sheet, table) read as their start
        words = {"saliency": "the saliency map", "latent": "the decoder's latent branch (--init latent; the saliency "
                                                            "maps shown are not what it drew from)"}
        out.append("<tr><th>img2img started from</th><td>" + e("; ".join(
            words.get(k, k) + (f" ({n})" if len(starts) > 1 else "") for k, n in starts.most_common())) + "</td></tr>")
    if unreadable:
        out.append(f"<tr><th>unreadable lines in results.jsonl</th><td>{unreadable}</td></tr>")
    out.append("</table>")

    out.append("<h2>Latency (ms)</h2>")
    if stages:
        out.append("<table><tr><th>stage</th><th>p50</th><th>p95</th><th>max</th></tr>")
        for k, v in stages.items():
            out.append(f"<tr><td>{e(k)}</td><td>{_pct(v, 50)}</td><td>{_pct(v, 95)}</td><td>{max(v):.0f}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No reconstructions, so no latencies.</p>")
    if lat_png is not None:
        out.append(f'<p><img src="{LATENCY}" alt="latency histogram"></p>')

    out += _bads_section(folder)
    out.append("<h2>Dropped and skipped markers</h2>")
    if skipped:
        out.append("<table><tr><th>reason</th><th>markers</th></tr>")
        for reason, n in _reasons(skipped):
            out.append(f"<tr><td>{e(reason)}</td><td>{n}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>None: every marker got a reconstruction.</p>")

    out.append("<h2>Contact sheet</h2>")
    out.append(f'<p><a href="{SHEET}"><img src="{SHEET}" alt="contact sheet" style="max-width:100%"></a></p>')

    out.append("<h2>Every marker</h2><table><tr><th>#</th><th>marker</th><th>t (s)</th><th>decoded</th>"
               "<th>result</th><th>marker→image (ms)</th><th>saliency</th><th>reconstruction</th></tr>")
    # in marker order, timed from the first marker: results.jsonl is written as results complete, and a marker
    # dropped or skipped can be written before the results of markers that came before it
    stamps = [r["t_marker"] for r in rows if isinstance(r.get("t_marker"), (int, float))]
    t0 = min(stamps, default=0.0)
    ordered = sorted(rows, key=lambda r: r["t_marker"] if isinstance(r.get("t_marker"), (int, float)) else math.inf)
    for r in ordered:
        marker = str(r.get("marker", ""))
        t = r.get("t_marker")
        t_txt = f"{t - t0:.2f}" if isinstance(t, (int, float)) else ""
        if r.get("dropped"):
            out.append(f"<tr><td></td><td>{e(marker)}</td><td>{t_txt}</td><td colspan=5>"
                       f"{e(str(r.get('reason', 'skipped')))}</td></tr>")
            continue
        true_cls = _true_class(folder, r, cache, tile=False)[1]
        decoded = str(r.get("decoded_class"))
        verdict = ("" if true_cls is None else '<span class="hit">hit</span>' if decoded == true_cls
                   else f'<span class="miss">miss (was {e(true_cls)})</span>')
        lat = (r.get("latency_ms") or {}).get("marker_to_image")
        names = [_own_file(r.get(k)) for k in ("saliency", "reconstruction")]
        cells = [f'<a href="{e(n)}"><img class="t" src="{e(n)}" alt="{k}" loading="lazy"></a>' if n else ""
                 for k, n in zip(("saliency", "reconstruction"), names)]
        out.append(f"<tr><td>{e(str(r.get('index', '')))}</td><td>{e(marker)}</td><td>{t_txt}</td>"
                   f"<td>{e(decoded)}</td><td>{verdict}</td>"
                   f"<td>{f'{lat:.0f}' if isinstance(lat, (int, float)) else ''}</td><td>{cells[0]}</td>"
                   f"<td>{cells[1]}</td></tr>")
    out.append("</table></body></html>")
    path = folder / REPORT
    with replacing(path) as tmp:
        tmp.write_bytes(_utf8("\n".join(out)))
    return path


def _reject_threshold(folder: Path) -> float | None:
    """The session's --reject-uv, from session.json's settings (None: off, not recorded, or unreadable), so the
    report says what the rejected epochs were over, and that a session with none rejected was judged at all."""
    try:
        value = json.loads((folder / "session.json").read_text(encoding="utf-8"))["settings"]["reject_uv"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _bads_section(folder: Path) -> list[str]:
    """The report's "Electrodes marked bad" section, from session.json's "bads" (eegviz.record.session_folder):
    each electrode left out by --bads, by the file's reader or found dead, why, from when, and the model's channels
    in its place, interpolated instead; only the log and the window had said so. Nothing for a folder whose
    session.json does not record them (older sessions), or cannot be read."""
    try:
        marked = json.loads((folder / "session.json").read_text(encoding="utf-8")).get("bads")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(marked, list):
        return []
    e = html.escape
    out = ["<h2>Electrodes marked bad</h2>"]
    rows = []
    for m in marked:
        if not isinstance(m, dict) or not isinstance(m.get("electrodes"), dict):
            continue
        start = m.get("from")
        t = start.get("t_marker") if isinstance(start, dict) else None
        at = f" (at {t:.3f} s)" if isinstance(t, (int, float)) else ""  # an LSL stamp: 76871.0488319265
        when = f"marker {start.get('marker')}{at} on" if isinstance(start, dict) else "the start"
        replaced = m.get("replaced")
        chans = ("" if not isinstance(replaced, list)  # not known: a file's channels its reader left out
                 else ", ".join(str(c) for c in replaced) or "none (the model has no channel in its place)")
        whys = {str(name): ("named by --bads" if why == "--bads" else str(why) if str(why).startswith("left out")
                            else f"found dead: {why}") for name, why in m["electrodes"].items()}
        # one row a marking: the channels in their place are the marking's, not each electrode's
        why = "; ".join(f"{n}: {w}" for n, w in whys.items()) if len(whys) > 1 else "".join(whys.values())
        rows.append(f"<tr><td>{e(', '.join(whys))}</td><td>{e(why)}</td><td>{e(when)}</td><td>{e(chans)}</td></tr>")
    if rows:
        out += ["<table><tr><th>electrodes</th><th>why</th><th>from</th><th>the model's channels in their place, "
                "interpolated instead</th></tr>", *rows, "</table>"]
    else:
        out.append("<p>None.</p>")
    return out


def _utf8(text: str) -> bytes:
    """The report's text as UTF-8 (its <meta charset>). A path the system's encoding could not decode is held in
    lone surrogates (an ASCII locale, LC_ALL=C with PYTHONUTF8=0, and an --out folder named 'Müller'): writing them
    strictly failed, and such a session had no report.html, only a warning. Those stand for the path's own bytes,
    which are written as they are; anything else that is no text (a lone surrogate from a marker) becomes '?'."""
    return re.sub("[\ud800-\udc7f\udd00-\udfff]", "?", text).encode("utf-8", "surrogateescape")


RERUN = "python -m eegviz.record.run_report"


def main(argv: list[str] | None = None) -> int:
    """`python -m eegviz.record.run_report DIR`: write a session folder's report again from its results.jsonl.

    The report is derived: a session whose report failed (a full disk) or never came (a kill, a power cut) keeps
    its results, and the warning at its end names this command; nothing else wrote the report after the
    session. Errors are one line and exit 2, as eegviz's commands do."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=RERUN, description="Write a session folder's run report (report.html, "
                                     "contact_sheet.png, latency.png) again from its results.jsonl.",
                                     allow_abbrev=False)  # as eegviz's own commands: options only in full
    parser.add_argument("folder", help="a session folder: the --out DIR of a session, or DIR/session-NNN")
    folder = Path(parser.parse_args(argv).folder).expanduser()
    if not (folder / "results.jsonl").is_file():
        print(f"eegviz: error: {folder} holds no results.jsonl: name a session folder (a session's --out DIR, "
              f"or DIR/session-NNN)", file=sys.stderr)
        return 2
    try:
        path = write_run_report(folder)
    except OSError as e:
        print(f"eegviz: error: {os_error_line(e)}", file=sys.stderr)
        return 2
    print(f"eegviz: report in {path}")
    return 0


__all__ = ["contact_sheet_size", "main", "read_results", "write_run_report"]

if __name__ == "__main__":
    raise SystemExit(main())
