"""Where a session's results go, and the promise that nothing recorded earlier is ever overwritten.

A lab's session is often unrepeatable, so `--out DIR` follows LabRecorder's rule: never overwrite. A DIR that
does not exist yet, or is empty, becomes the session folder; a DIR that already holds anything gets a fresh
numbered sub-folder (DIR/session-002, DIR/session-003, ...), claimed with an exclusive mkdir so two runs
started at once cannot share one. A new or empty DIR is not claimed that way (two runs started at the same
instant both take it), but the files inside are opened exclusively (results.jsonl, session.xdf): the second
run is refused in one line, and a bug elsewhere cannot truncate a recording.

Two steps, because a refused run must leave nothing behind: check_out_dir() is asked before anything is
loaded and creates nothing (it names the problem in one line: a path under a regular file, a folder this
process cannot write in); SessionOutput.open() claims the folder only once the source and the model have
passed their checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from eegviz.errors import EegvizError
from eegviz.messages import StreamInfo

SESSION_PREFIX = "session-"


def check_out_dir(out: str | Path) -> Path:
    """The resolved --out folder if a session could be written there; EegvizError (one line) if not.

    Nothing is created: the nearest existing ancestor must be a folder this process can create entries in,
    which is probed with a temporary folder that is removed at once (os.access is no test for root, who may
    still be refused by a read-only file system).
    """
    path = Path(out).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    probe_in = path
    while not probe_in.exists():
        if probe_in.is_symlink():  # a dangling link: creating through it would write somewhere unexpected
            raise EegvizError(f"--out {out}: {probe_in} is a broken symbolic link")
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        where = "is" if probe_in == path else f"is under {probe_in}, which is"
        raise EegvizError(f"--out {out} {where} a regular file, not a folder; choose another --out")
    try:
        tempfile.TemporaryDirectory(dir=probe_in, prefix=".eegviz-probe-").cleanup()
    except OSError as e:
        raise EegvizError(f"--out {out}: cannot write in {probe_in} ({e.strerror or e})") from None
    return path


def new_session_folder(out: str | Path) -> Path:
    """Create and return the folder this session writes into (see the module docstring)."""
    base = check_out_dir(out)
    try:
        base.mkdir(parents=True, exist_ok=True)
        if not any(base.iterdir()):
            return base
        n = 2
        while True:
            candidate = base / f"{SESSION_PREFIX}{n:03d}"
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                n += 1
    except OSError as e:
        raise EegvizError(f"--out {out}: cannot create the session folder ({e.strerror or e})") from None


class SessionOutput:
    """The files of one headless/recorded session: session.xdf (every raw sample and marker) and results.

    Built from --out before anything is loaded (so a bad path fails first, in one line), opened by the
    pipeline once the source is open and fits the model. `folder` is None until then.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = out
        check_out_dir(out)
        self.folder: Path | None = None

    def open(self, info: StreamInfo):
        """Claim the session folder; returns (recorder, results sink)."""
        from eegviz.record.results import ResultsWriter
        from eegviz.record.xdf_writer import SessionRecorder

        self.folder = new_session_folder(self.out)
        try:
            recorder = SessionRecorder(self.folder / "session.xdf", info)
        except OSError as e:
            raise EegvizError(f"cannot write {self.folder / 'session.xdf'} ({e.strerror or e})") from None
        try:
            results = ResultsWriter(self.folder)
        except OSError as e:
            recorder.close()
            raise EegvizError(f"cannot write results in {self.folder} ({e.strerror or e})") from None
        return recorder, results


__all__ = ["SessionOutput", "check_out_dir", "new_session_folder"]
