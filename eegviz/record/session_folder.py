"""Where a session's results go, and the promise that nothing recorded earlier is ever overwritten.

A lab's session is often unrepeatable, so `--out DIR` follows LabRecorder's rule: never overwrite. A DIR that
does not exist yet, or is empty, becomes the session folder; a DIR that already holds anything gets a fresh
numbered sub-folder (DIR/session-002, DIR/session-003, ...; after the highest number there, so a
folder deleted since is not reused and the names stay in start order), claimed with an exclusive mkdir so two runs
started at once cannot share one. A new or empty DIR is not claimed that way (two runs started at the same
instant both take it), but the files inside are opened exclusively (results.jsonl, session.xdf): the second
run is refused in one line, and a bug elsewhere cannot truncate a recording.

Two steps, because a refused run must leave nothing behind: check_out_dir() is asked before anything is
loaded and creates nothing (it names the problem in one line: a path under a regular file, a folder this
process cannot write in); SessionOutput.open() claims the folder only once the source and the model have
passed their checks.

Every session folder also holds session.json, written once the folder is claimed: what produced it, so that a lab
can tell two folders apart months later and run the session again. It is JSON beside results.jsonl (not a comment
in report.html or an XDF header field) because a script reads it as it reads results.jsonl, and a session that
ends in a crash, before report.html is written, still has it. It holds eegviz's version (and git commit in a
checkout), the UTC start time, the command line and the working directory it was given in (a relative FILE
or --model reads from there), the source as chosen (the command line's --stream/--file/--board/
--simulate and class SNR, or the window's choice: its controls may pick another source and model than the command
line did), the stream it opened ("opened": name, source_id, the sender's host for LSL, rate, channels;
"opened_markers": the LSL marker stream's name, source_id and host), the model as given and the folder it resolved
to with its digest (eegviz.modelio.model_digest, the same digest a benchmark file names), the generator with
its options (None: the model's own sampling.json, which is copied in; with --sd-model, that pipeline's own or its
family's, and model.sd_model names its folder and digest: sd_model_identity), what the built generator draws
with (model.sampler: steps, strength, guidance, size, family, scheduler), the rest of the session's settings and,
where the session runs plugins that are not eegviz's own, where each came from ("plugins": an installed package's
entry point with its version, a plugin file with its SHA-256), and "bads": every electrode the session marked bad,
by --bads or found dead (eegviz.stream.bads), why, from when ("start", or the marker whose epoch was the first
without it) and the model's channels in its place, interpolated since ("replaced"); session.json is written
again at each marking, since a dead electrode is found after the claim (the log and the window's notices are
gone once the session ends).
Nothing is added beyond what the user gave (no environment), and a password or token in a URL the user gave
(a sink plugin's --sink) is written as ***.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from pathlib import Path

from eegviz.atomic import replacing
from eegviz.errors import EegvizError
from eegviz.paths import check_creatable
from eegviz.messages import StreamInfo
from eegviz.sysinfo import process_commit, run_provenance

log = logging.getLogger(__name__)

SESSION_PREFIX = "session-"
_NUMBERED = re.compile(re.escape(SESSION_PREFIX) + r"(\d+)(?:\.|$)")  # session-007, or an archive of it


def check_out_dir(out: str | Path) -> Path:
    """The resolved --out folder if a session could be written there; EegvizError (one line) if not. Nothing is
    created (eegviz.paths.check_creatable). ~ is expanded here, as new_session_folder writes there; ~name of no
    user on this machine (a typo the shell leaves as it is) is one line, not pathlib's RuntimeError."""
    try:
        path = Path(out).expanduser()
    except RuntimeError:
        raise EegvizError(f"--out {out}: {str(out).split('/')[0]} is no user's home folder on this machine; "
                          f"choose another --out") from None
    path = check_creatable(path, "--out")
    package = Path(__file__).resolve().parents[1]
    if path.resolve().is_relative_to(package):
        # a session kept among eegviz's own files goes with them: an upgrade or reinstall of the package deletes
        # it, and in a checkout it sits among the sources, to be committed or cleaned away
        raise EegvizError(f"--out {out} is inside eegviz's own package folder ({package}), which an upgrade or a "
                          f"reinstall replaces; choose another --out")
    return path


def check_out_beside_model(out: str | Path, model_dir: Path) -> None:
    """EegvizError (one line) where --out (checked by check_out_dir) is the model folder or inside it: a session's
    session.json there counts in the model's digest (eegviz.modelio.model_digest: the folder's .json files), so
    every later session and benchmark would name another model, and a rotation would delete folders inside a
    model. Asked when the model folder is known (SessionOutput.set_model), and before a window opens where it is
    a local folder (eegviz.cli): a kiosk found it only at its first session, and retried it for ever."""
    folder = Path(model_dir).expanduser().resolve()
    if Path(out).expanduser().resolve().is_relative_to(folder):
        raise EegvizError(f"--out {out} is inside the model folder {folder}: a session recorded there changes the "
                          f"model's digest; choose another --out")


def new_session_folder(out: str | Path) -> Path:
    """Create and return the folder this session writes into (see the module docstring)."""
    base = check_out_dir(out)
    try:
        base.mkdir(parents=True, exist_ok=True)
        entries = list(base.iterdir())
        if not entries:
            return base
        # After the highest number there, not in the first gap: a kiosk records a folder a loop, and an exhibition
        # that rotates them (the README's advice) deletes the oldest, session-002 first; the next loop then took
        # session-002 again, so the newest session sat among the oldest and a rotation by name deleted it next.
        n = max([int(m.group(1)) for e in entries if (m := _NUMBERED.match(e.name))], default=1) + 1
        while True:
            candidate = base / f"{SESSION_PREFIX}{n:03d}"
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                n += 1
    except OSError as e:
        raise EegvizError(f"--out {out}: cannot create the session folder ({e.strerror or e})") from None


def _write_record(path: Path, record: dict) -> None:
    """session.json, whole or not at all (eegviz.atomic.replacing), with secrets redacted (_redacted)."""
    with replacing(path) as tmp:
        tmp.write_text(_redacted(json.dumps(record, indent=1, default=str)) + "\n")


class SessionOutput:
    """The files of one headless/recorded session: session.xdf (every raw sample and marker) and results.

    Built from --out before anything is loaded (so a bad path fails first, in one line), opened by the
    pipeline once the source is open and fits the model. `folder` is None until then.
    """

    def __init__(self, out: str | Path, settings=None, source: dict | None = None) -> None:
        """settings: the SessionSettings the session runs on, recorded in session.json; source: the source as
        chosen (the window's SourceChoice as a dict) where settings.source is not it. set_model() names the folder
        the model was loaded from."""
        self.out = out
        check_out_dir(out)
        self.folder: Path | None = None
        self.settings, self.source = settings, source
        self.model: dict = {}
        self.sampler: dict = {}
        self.bads: list[dict] = []  # session.json's "bads": each marking (add_bads)
        self._written: dict | None = None  # session.json as the claim wrote it

    def set_model(self, model_dir: Path) -> None:
        """The model folder, its digest and sampling.json, for session.json; called once the model is resolved,
        before the source opens. The digest reads every weight file (a diffusers folder: gigabytes, seconds), so
        it is taken here and kept per folder (model_identity), not at open(): the source is running by then,
        and a claim that took seconds would hold up its first samples."""
        check_out_beside_model(self.out, model_dir)
        self.model = model_identity(model_dir)
        generator = getattr(getattr(self.settings, "model", None), "generator", None)
        sd_model = getattr(getattr(generator, "options", None), "sd_model", None)
        if sd_model:
            self.model["sd_model"] = sd_model_identity(str(sd_model))
        process_commit()  # and eegviz's git commit (two git calls), once per process, not at the claim

    def set_generator(self, generator) -> None:
        """What the built generator draws with, for session.json's model.sampler: its steps, strength, guidance,
        image size and, for a diffusers pipeline, its family and scheduler. The generator options recorded are None
        wherever the model or, with --sd-model, the pipeline's family chose, and the eegviz folder's sampling.json
        beside them is not what an --sd-model pipeline runs with (SD: guidance 7.5, strength 0.5): the record did
        not say what drew the images (found by review). What a generator plugin does not have is left out."""
        self.sampler = drawn_with(generator)

    def add_bads(self, marking: dict) -> None:
        """One marking of electrodes as bad ({"electrodes": {name: why}, "from": ..., "replaced": [...]}, see
        eegviz.stream.epocher.Epocher._mark_dead) into session.json's "bads", written again at once where the folder
        is claimed. A rewrite that fails (a full disk) is a warning: the session and its recording go on."""
        self.bads.append(marking)
        if self._written is None or self.folder is None:
            return  # the claim writes it
        record = self.folder / "session.json"
        try:  # the claim's record with the markings: record() again would give started_utc as now
            _write_record(record, {**self._written, "bads": self.bads})
        except OSError as e:
            log.warning("could not record the electrodes marked bad in %s (%s)", record, e.strerror or e)

    def open(self, info: StreamInfo):
        """Claim the session folder; returns (recorder, results sink).

        A claim that fails (a full disk: session.xdf's header cannot be written) takes back what it made: the
        files it created, and the folders, where they were new. It used to leave DIR/session-002 holding a
        0-byte session.xdf, and a kiosk retrying its session on a full disk one more such folder every retry.
        A file that another run holds (FileExistsError: two runs that took one empty DIR at the same instant) is
        not this run's and stays, and so does every folder that is not empty."""
        from eegviz.record.results import ResultsWriter
        from eegviz.record.xdf_writer import SessionRecorder

        base = check_out_dir(self.out)
        new = _first_missing(base)  # the top folder this claim creates, if any
        self.folder = new_session_folder(self.out)
        xdf = self.folder / "session.xdf"
        try:
            recorder = SessionRecorder(xdf, info)
        except OSError as e:
            self._take_back(base, new, [] if isinstance(e, FileExistsError) else [xdf])
            raise EegvizError(f"cannot write {xdf} ({e.strerror or e})") from None
        record = self.folder / "session.json"
        try:
            # whole or not at all (eegviz.atomic); replacing nothing: session.xdf, opened exclusively above,
            # proves the folder is this run's, and an earlier session's record is never in it
            written = self.record(info)
            _write_record(record, written)
        except OSError as e:
            try:
                recorder.close()
            except OSError:  # its footers on the same full disk: the file goes anyway
                pass
            self._take_back(base, new, [xdf, record])
            raise EegvizError(f"cannot write {record} ({e.strerror or e})") from None
        self._written = written
        try:
            results = ResultsWriter(self.folder)
        except OSError as e:
            try:
                recorder.close()
            except OSError:  # its footers on the same full disk: the file goes anyway
                pass
            mine = [] if isinstance(e, FileExistsError) else [self.folder / "results.jsonl"]
            self._take_back(base, new, [xdf, record, *mine])
            raise EegvizError(f"cannot write results in {self.folder} ({e.strerror or e})") from None
        return recorder, results

    def record(self, info: StreamInfo) -> dict:
        """session.json's content (see the module docstring)."""
        settings = asdict(self.settings) if self.settings is not None else {}
        source = self.source if self.source is not None else settings.get("source", {})
        settings.pop("source", None)
        if source.get("command", source.get("kind")) == "demo" and not source.get("file", source.get("path")):
            # the demo names no file (it is the bundled recording), so its record said where nothing came from
            from eegviz.paths import demo_recording

            source = {**source, ("path" if "kind" in source else "file"): str(demo_recording())}  # window / CLI
        used = _plugins_used(settings, source)
        model = dict(settings.pop("model", {}) or {})
        model["given"] = model.pop("path", None)
        model.update(self.model)
        if self.sampler:
            model["sampler"] = self.sampler
        return {**run_provenance("started_utc"),
                "source": {**source, "opened": {"name": info.name, "source_id": info.source_id,
                                                **_sender(getattr(info, "eeg_header", "")),
                                                "sfreq": info.sfreq, "ch_type": info.ch_type, "unit": info.unit,
                                                "channels": list(info.ch_names)},
                           **({"opened_markers": _sender(info.marker_header, ("name", "source_id"))}
                              if getattr(info, "marker_header", "") else {})},
                "model": model, "settings": settings, **({"plugins": used} if used else {}), "bads": list(self.bads)}

    def _take_back(self, base: Path, new: Path | None, files: list[Path]) -> None:
        """Remove `files`, then each folder of this claim that is empty: the session folder's sub-folders, a
        numbered session folder, and --out and its parents up to `new` where this claim created them."""
        for path in files:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        chain = [self.folder / sub for sub in ("saliency", "reconstruction", "stimulus")]
        if self.folder != base:
            chain.append(self.folder)  # DIR/session-NNN, made by this claim
        if new is not None:
            chain += [p for p in (base, *base.parents) if p.is_relative_to(new)]
        for path in chain:
            try:
                path.rmdir()  # only an empty folder
            except OSError:
                pass


def _plugins_used(settings: dict, source: dict) -> dict:
    """{group: {name: origin}} of the plugins this session runs that are not eegviz's own (eegviz.plugins.origin):
    replay's --source reader (or the window's file reader), the --generator and each --sink."""
    from eegviz.plugins import origin

    reader = None
    if source.get("kind", "file") in ("file", "plugin"):  # the window's lsl, simulator, ...: eegviz's own
        reader = source.get("reader") or (source.get("replay") or {}).get("reader")
    names = {"sources": [reader] if reader not in (None, "auto", "xdf", "mne") else [],
             "generators": [((settings.get("model") or {}).get("generator") or {}).get("name")],
             "sinks": [spec.partition(":")[0].strip() for spec in (settings.get("output") or {}).get("sinks") or ()]}
    used: dict = {}
    for group, found in names.items():
        for name in found:
            where = origin(group, name) if name else None
            if where is not None:
                used.setdefault(group, {})[name] = where
    return used


def drawn_with(generator, keys: tuple[str, ...] = ("steps", "strength", "guidance", "size", "family")) -> dict:
    """What a built generator draws with: those of `keys` it has as a plain number or text and, for a diffusers
    pipeline, its scheduler's class; for session.json's model.sampler and an eval report's run record."""
    found = {key: value for key in keys
             if isinstance(value := getattr(generator, key, None), (int, float, str)) and not isinstance(value, bool)}
    scheduler = getattr(getattr(generator, "pipe", None), "scheduler", None)
    if scheduler is not None:
        found["scheduler"] = type(scheduler).__name__
    return found


_SECRETS = re.compile(r"(://[^/\s:@\"]+:)[^@\s/\"]+@"  # a URL's password: scheme://user:PASSWORD@host
                      r"|((?:token|key|secret|password|passwd|auth)=)[^&\s\"]+", re.IGNORECASE)  # ?token=...


def _redacted(text: str) -> str:
    """session.json is kept, copied and shared with a dataset; a sink plugin's URL (--sink, a --config file's
    $NAME expanded) may carry a password or token, which is replaced by *** so the record does not spread it."""
    return _SECRETS.sub(lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", text)


_identities: dict = {}


def model_identity(model_dir: Path) -> dict:
    """{"folder", "digest", "sampling_json"} of a model folder (see SessionOutput.set_model). The digest is
    eegviz.modelio.model_digest, kept for as long as the folder's files keep their names, sizes and times:
    the window's every Start would otherwise read the weights again."""
    from eegviz.modelio import model_digest

    folder = Path(model_dir).resolve()
    try:
        stamp = tuple(sorted((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in folder.rglob("*")
                             if f.suffix in (".json", ".safetensors") and f.is_file()))
        key = (str(folder), stamp)
        if key not in _identities:
            _identities[key] = model_digest(folder)
        digest = _identities[key]
    except OSError:
        digest = None
    identity = {"folder": str(folder), "digest": digest}
    try:
        identity["sampling_json"] = json.loads((folder / "sampling.json").read_text())
    except (OSError, ValueError):
        pass
    return identity


def sd_model_identity(sd_model: str) -> dict:
    """{"folder", "digest", "sampling_json" where it has one} of the pipeline --sd-model names (a folder, or a Hub
    id's snapshot in the HF cache, never the network), for session.json; {"folder": None, "digest": None} for an id
    not cached. session.json named --sd-model as given only, beside the eegviz model folder's digest and
    sampling.json, which are not what drew the images: a folder whose weights were replaced under the same path,
    or a Hub id that moved on, left no trace (found by review).

    The digest is model_digest's, the same bench writes as sd_model_digest, so a session and a benchmark can be
    matched: a hash of the weights themselves, kept per folder as long as its files keep their names, sizes and
    times. Cheaper stand-ins were judged wrong: names, sizes and times differ for a byte-identical copy on another
    machine, and safetensors headers (names, shapes, offsets) are the same for every fine-tune of one
    architecture. Its cost, about a second a GB, is paid once per folder and process, before the source opens,
    on the files the pipeline's load reads next."""
    folder: Path | None = Path(sd_model).expanduser()
    if not folder.is_dir():
        from eegviz.generators.diffusers_sd import cached_snapshot

        folder = cached_snapshot(sd_model)
    if folder is None:
        return {"folder": None, "digest": None}
    return model_identity(folder)


def _sender(header: str, fields: tuple[str, ...] = ()) -> dict:
    """The host an LSL stream came from (and `fields`), read from the header its sender declared
    (eegviz.sources.lsl.LslStreamInfo); {} for other sources, or a header that does not parse. Two amplifiers
    of one model send the same name, and a lab tells them apart by the machine they were on."""
    if not header:
        return {}
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(header)
    except ElementTree.ParseError:
        return {}
    return {key: root.findtext(key) or "" for key in (*fields, "hostname")}


def _first_missing(path: Path) -> Path | None:
    """The top one of `path` and its parents that does not exist yet (None when `path` exists)."""
    top = None
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            break
        top = p
    return top


__all__ = ["SessionOutput", "check_out_beside_model", "check_out_dir", "new_session_folder"]
