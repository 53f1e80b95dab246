"""BrainFlowSource: EEG straight from a BrainFlow-supported board (OpenBCI, Muse, the synthetic board...).

BrainFlow stamps samples in unix time and reports EEG in microvolts; the rest of eegviz works in the LSL clock and
volts, so each read shifts timestamps by a (local_clock - time.time()) offset taken at start (and again when the
system clock is stepped) and scales by 1e-6. The board's stamps wobble (it stamps samples as its driver hands them
over), so epochs are cut in a Dejitter line through them (eegviz.stream.dejitter, as the LSL source does); the
recording keeps the board's own stamps. Boards that number their samples (Cyton, the synthetic board) say exactly
where samples were lost (a radio link drops packets), which the wobbling stamps hide: the line counts them
(eegviz.stream.counter), so later samples keep their place and the epochs across the loss are refused as holes.
Markers come from the board's marker channel (board.insert_marker; a playback's from its file, where BrainFlow
sends none) or, when the stimulus program publishes them over LSL, from a named LSL string stream, found again in
the background if it goes (eegviz.sources.lsl_reconnect). A board that falls silent, or whose samples contradict the
rate BrainFlow describes it by, is said.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import types

import numpy as np
import pylsl
from brainflow.board_shim import BoardControllerDLL, BoardIds, BoardShim, BrainFlowError, BrainFlowInputParams
from brainflow.exit_codes import BrainFlowExitCodes

from eegviz.errors import EegvizError, SourceNotFound, one_line, os_error_line
from eegviz.messages import Chunk, Marker, StreamInfo, usable_ch_names
from eegviz.sources import lsl_reconnect
from eegviz.sources.base import ReadResult, nan_notice
from eegviz.sources.rate import LiveRateCheck
from eegviz.stream.counter import SampleCounter, with_lost
from eegviz.stream.dejitter import Dejitter

LONG_JUMP_S = 0.25  # a jump in the board's stamps this long is a gap, whatever its sample counter says
# no samples for this long: the board is said to be silent (off, out of radio range, a flat battery), once per silence
SILENT_S = 2.0
# the system clock (which BrainFlow stamps samples by) moved this far against LSL's steady clock: it was stepped
CLOCK_STEP_S = 0.1
RATE_CHECK_S = 4.0  # the board's rate, as BrainFlow describes it, is judged over its first this-many seconds of data


class _Board(BoardShim):
    """A BoardShim that, once BrainFlowSource.stop is done with it, cannot release another board when collected.

    BrainFlow knows a session by board id and parameters, and BoardShim.__del__ releases the session if one with
    them is prepared. A stopped board kept alive a while (by a traceback's frames, a cycle, a plugin's reference)
    therefore released the NEXT board opened with the same parameters whenever it was finally collected, and that
    session's next read failed with BOARD_NOT_CREATED; so did a board whose prepare_session failed (the board
    off), never released, collected after a retry.
    """

    released = False  # set by BrainFlowSource.stop, released or not: the source is done with it

    def __del__(self) -> None:
        if not self.released:
            super().__del__()


def _load_board_controller() -> None:
    """Load BrainFlow's shared library once, or refuse in one line: a brainflow package whose library is missing
    or cannot load on this machine (its wheel for another platform, a system library it needs not installed)
    raised OSError, a traceback instead of a line saying what to do."""
    try:
        _load_library()
    except OSError as e:
        raise EegvizError(f"BrainFlow's board library could not be loaded ({one_line(e)}); reinstall brainflow "
                          "for this machine: pip install --force-reinstall brainflow") from None


def _load_library() -> None:
    """Load BrainFlow's shared library once, working around its pkg_resources fallback.

    BrainFlow 5.23 locates libBoardController via pkg_resources on Python 3.11 (importlib.resources.files
    rejects its module name), and setuptools >= 81 no longer ships pkg_resources. When it is missing, a
    one-function stand-in is put in sys.modules just for the load and removed right after, so no other
    library ever sees a fake pkg_resources.
    """
    try:
        import pkg_resources  # noqa: F401

        BoardControllerDLL.get_instance()
        return
    except ImportError:
        pass
    shim = types.ModuleType("pkg_resources")

    def resource_filename(package: str, path: str) -> str:
        spec = importlib.util.find_spec(package)
        return os.path.join(os.path.dirname(spec.origin) if spec and spec.origin else "", path)

    shim.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
    try:
        BoardControllerDLL.get_instance()
    finally:
        if sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]


# how long open() looks for LSL marker streams it will not use (without --markers), to say so
MARKER_LOOK_S = 0.3
# how long the LSL marker stream named with --markers is looked for (open(), and start() again when it went away);
# a module constant so that a test of a stream that stays away need not sit all of it out
MARKER_RESOLVE_S = 5.0


# boards that stream another board's data (a playback of its file, a relay of its stream), described by that board,
# BrainFlowInputParams.master_board; asked for their own channels, BrainFlow says it has no information on them
RELAY_BOARDS = (BoardIds.STREAMING_BOARD.value, BoardIds.PLAYBACK_FILE_BOARD.value)


def _board_name(board_id: int) -> str:
    try:
        return BoardIds(board_id).name
    except ValueError:
        return f"board {board_id}"


def _check_described(board: int) -> None:
    """Refuse, in one line, a board BrainFlow does not know or describes with no EEG channels (an EMG armband, an
    ECG or motion sensor). Said as the source is made, before a model loads: the unknown id was said only once the
    model had loaded, and a board without EEG as "BrainFlow does not support board id 10", which it does."""
    _load_board_controller()
    BoardShim.disable_board_logger()  # its error line for what it cannot tell, on stderr
    try:
        BoardShim.get_sampling_rate(board)
    except BrainFlowError as e:
        raise EegvizError(f"BrainFlow does not support board id {board}: {e}") from None
    try:
        BoardShim.get_eeg_channels(board)
    except BrainFlowError:
        # (BrainFlow adds a null entry for each kind it was asked for and lacks: those are left out)
        kinds = [k.removesuffix("_channels").upper() for k, rows in BoardShim.get_board_descr(board).items()
                 if k.endswith("_channels") and rows]
        raise EegvizError(f"{_board_name(board)} sends no EEG, by BrainFlow's description of it"
                          + (f" (only {', '.join(kinds)} channels)" if kinds else "")
                          + ": eegviz decodes EEG; choose a board that records it") from None


PLAYBACK_LOOK_LINES = 50  # a playback file's first this-many non-blank lines are read to see it can be played


def _check_playback_file(path: str, master: int) -> None:
    """Refuse, in one line, a playback file BrainFlow's playback board would send nothing from.

    BrainFlow 5.23 prepares and starts a playback of such a file without an error and then sends nothing, so the
    session waited for ever, saying only that the board fell silent, "its file played to its end?": with no
    --board-file (it plays no file at all), and with a file whose lines do not hold the master board's row count
    (a recording of another board, a CSV of another program: BrainFlow skips each such line). A file that is not
    there, or is empty, was refused by BrainFlow with "check the port/address parameters". The lines are split
    as BrainFlow splits them: at tabs, at commas where a line has no tab."""
    where = f"--board-file {path}"
    if not path:
        raise EegvizError("PLAYBACK_FILE_BOARD plays a BrainFlow recording: name its file with --board-file FILE")
    if os.path.isdir(path):
        raise EegvizError(f"{where} is a folder: name the BrainFlow recording (a .csv file) to play")
    try:
        with open(path, "rb") as f:
            lines = []
            for line in f:
                if line.strip():
                    lines.append(line)
                if len(lines) == PLAYBACK_LOOK_LINES:
                    break
    except OSError as e:
        raise EegvizError(f"{where}: {os_error_line(e)}") from None
    if not lines:
        raise EegvizError(f"{where} is empty: it holds no samples to play")
    try:
        _load_board_controller()
        BoardShim.disable_board_logger()  # its error line for an unknown board, on stderr
        rows = int(BoardShim.get_num_rows(master))
    except BrainFlowError:
        return  # a master board BrainFlow does not know: _check_described says so
    counts = [len(_values_in(line)) for line in lines]
    if rows not in counts:
        most = max(counts, key=counts.count)
        raise EegvizError(f"{where} is no BrainFlow recording of {_board_name(master)} (--master-board {master}): "
                          f"its lines hold {most} values, where that board's hold {rows} (a sample a line, "
                          "tab-separated, as BrainFlow writes them), so BrainFlow's playback would send nothing; "
                          "name the board that recorded it with --master-board")


def _values_in(line: bytes) -> list[bytes]:
    """The values BrainFlow's playback reads in a line of its file, its line end kept: it splits at tabs (at
    commas where the line has none), and the piece after the last separator is no value when it is the line end
    alone or nothing (the file's last line, unended): "1\\t2\\t\\n" holds 2 values, "1\\t2\\t\\r\\n" 3."""
    values = line.split(b"\t" if b"\t" in line else b",")
    if values[-1] in (b"\n", b""):
        values.pop()
    return values


PLAYBACK_LINE_MAX = 8191  # BrainFlow reads a playback file's lines in pieces of this many bytes (fgets, 8192)


def _playback_markers(path: str, rows: int, marker_row: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The markers a BrainFlow recording holds: the place of each among the samples BrainFlow's playback sends
    (its lines of `rows` values, in order, as BrainFlow reads them), and its value; and how many samples it sends.

    BrainFlow's playback sends the marker channel empty (Board::push_package writes there the markers inserted
    into the playing board: none), so a recording's markers were lost without a word, and a playback session
    never decoded an epoch; --markers NAME, which the README offered instead, needs a stimulus program running
    in step with a recording made long before."""
    places, values, n = [], [], 0
    with open(path, "rb") as f:
        for line in f:
            if len(line) > PLAYBACK_LINE_MAX:
                continue  # read in pieces, none of which BrainFlow plays
            line = _values_in(line)
            if len(line) != rows:
                continue  # skipped by BrainFlow too
            try:
                value = float(line[marker_row])
            except ValueError:
                value = 0.0
            if np.isfinite(value) and value != 0:
                places.append(n)
                values.append(value)
            n += 1
    return np.array(places, dtype=np.int64), np.array(values, dtype=np.float64), n


def _port_group_hint(port: str) -> str:
    """How to be let in to a serial port's group (dialout on Debian and Ubuntu, uucp on Arch), where it has one."""
    try:
        import grp

        group = grp.getgrgid(os.stat(port).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return ""
    if group == "root":
        return " (ask the machine's administrator for it)"
    return f" (it is the {group} group's: add yourself with 'sudo usermod -aG {group} $USER', then log in again)"


def _marker_text(value: float) -> str:
    """A board marker's id: insert_marker takes any non-zero number; integral ones read without '.0' ("3"), others
    as they are ("2.5"), the rule an XDF file's numeric markers are read by (eegviz.sources.xdf._payload). Every
    marker was cut to an integer, so 2.5 and 2.7 became image "2" (and were recorded so)."""
    v = float(value)
    return str(int(v)) if v.is_integer() else str(v)


def _clock_offset() -> float:
    """LSL's clock minus the system clock, read between two LSL clock readings close together: a thread descheduled
    between the two clocks' readings (a busy machine) would read a step that was not there."""
    for _ in range(5):
        before = pylsl.local_clock()
        wall = time.time()
        after = pylsl.local_clock()
        if after - before < 2e-3:
            break
    return (before + after) / 2 - wall


class BrainFlowSource:
    """Source reading one BrainFlow board; board_id -1 is the synthetic board (no hardware needed)."""

    # where BrainFlow names no EEG channel of a board (get_eeg_names), nothing the user sets can label them, so a
    # refusal offers --montage FILE alone, not labelling them "in the sender" (eegviz.stream.montage)
    label_hint = ""

    def __init__(
        self,
        board_id: int = BoardIds.SYNTHETIC_BOARD.value,
        params: dict | None = None,
        marker_lsl_name: str | None = None,
    ) -> None:
        self.board_id = int(board_id)
        self.params = dict(params or {})
        self.marker_lsl_name = marker_lsl_name
        self._input_params = self._checked_params()  # wrong names or a missing port: said now, not after warm-up
        self.board: BoardShim | None = None
        self.info = StreamInfo(name=_board_name(self.board_id), ch_names=(), sfreq=0.0)
        # with marker_lsl_name: the marker stream's inlet, made by open() and not connected yet (liblsl sends it
        # nothing before start()), and its header; start() connects it and hands it over to _markers, which reads
        # the stream from then on and finds it again if it goes. Without, both stay None: the board's markers
        self._marker_inlet: pylsl.StreamInlet | None = None
        self._marker_info: pylsl.StreamInfo | None = None
        self._marker_passed_over: set[str] = set()
        self._markers: lsl_reconnect.RecoveringInlet | None = None
        self._streaming = False  # start() ran (open() only prepares the board)
        self._file_markers: tuple[np.ndarray, np.ndarray] | None = None
        self._playback_samples: int | None = None
        self._offset = 0.0
        self._last_ts: float | None = None
        self._dejitter: Dejitter | None = None
        self._counter: SampleCounter | None = None
        self._counter_row: int | None = None
        self.lost_samples = 0  # told by the board's sample counter since start()
        self._open_notices: list[str] = []

    def _checked_params(self) -> BrainFlowInputParams:
        """BrainFlow's input parameters from `params`, checked before anything is loaded: an unknown name, or a
        serial port given as a device path that does not exist (the dongle not plugged in, the usual first
        failure in a lab) is one clear line at once, instead of BrainFlow's own error after the model has loaded
        and warmed up. Ports that are not paths (Windows' COM3) are left to BrainFlow."""
        name = _board_name(self.board_id)
        input_params = BrainFlowInputParams()
        for key, value in self.params.items():
            if not hasattr(input_params, key):
                raise EegvizError(f"unknown BrainFlow parameter '{key}' for {name}; see BrainFlowInputParams")
            setattr(input_params, key, value)
        # BrainFlow reads `file` for its playback board only and `master_board` for it and the streaming board;
        # any other board ignores them: `--board -1 --board-file rec.csv` decoded the synthetic board's noise, not
        # the recording, and `--board 0 --board-file rec.csv` waited for a Cyton, without a word
        ignored = [(opt, whose) for opt, field, used_by, whose in (
            ("--board-file", "file", (BoardIds.PLAYBACK_FILE_BOARD.value,), "BrainFlow's playback board's (-3)"),
            ("--master-board", "master_board", RELAY_BOARDS, "the playback and streaming boards' (-3, -2)"))
            if self.params.get(field) not in (None, "") and self.board_id not in used_by]
        if ignored:
            them = "it" if len(ignored) == 1 else "them"
            raise EegvizError(" and ".join(f"{opt} is only {whose}" for opt, whose in ignored) + f": {name} ignores "
                              f"{them}{'' if self.board_id in RELAY_BOARDS else ' and sends its own data'}; to play "
                              f"a recording give --board -3 --master-board ID --board-file FILE, else leave {them} out "
                              "(on the command line or in the --config file)")
        if self.board_id in RELAY_BOARDS and self.params.get("master_board") is None:
            # BrainFlow's own answer was "does not support board id -3", though it does
            playback = self.board_id == BoardIds.PLAYBACK_FILE_BOARD.value
            raise EegvizError(f"{name} streams another board's data: name that board with --master-board ID (e.g. "
                              "-1 for a recording of the synthetic board)"
                              + (", and its file with --board-file" if playback else ""))
        _check_described(int(self.params["master_board"]) if self.board_id in RELAY_BOARDS else self.board_id)
        if self.board_id == BoardIds.PLAYBACK_FILE_BOARD.value:
            _check_playback_file(str(self.params.get("file") or ""), int(self.params["master_board"]))
        port = str(self.params.get("serial_port") or "")
        if port.startswith("/") and not os.path.exists(port):
            raise SourceNotFound(f"could not start {name}: there is no serial port {port} on this machine (is "
                                 "the board's dongle plugged in? check the port parameter)")
        if port.startswith("/") and not os.access(port, os.R_OK | os.W_OK):
            # Linux gives a USB dongle's port (/dev/ttyUSB0) to the dialout group: a user not in it got BrainFlow's
            # "unable to prepare streaming session (check the port/address parameters)" for the right port
            raise EegvizError(f"could not start {name}: you have no permission to open the serial port {port}"
                              + _port_group_hint(port))
        return input_params

    def open(self) -> None:
        """Ask BrainFlow what the board sends and prepare its session (connect to the hardware) without starting
        the stream, which start() does: a board that is off or out of reach, or whose channels the model cannot
        use, is refused before the session warms its generator up, and no data piles up meanwhile."""
        self.stop()
        self._open_notices = []  # said by the first read()
        name = _board_name(self.board_id)
        # the board whose rows and rate the data has: a playback's or relay's master board (RELAY_BOARDS)
        desc = int(self.params["master_board"]) if self.board_id in RELAY_BOARDS else self.board_id
        try:
            _load_board_controller()
            BoardShim.disable_board_logger()
            sfreq = float(BoardShim.get_sampling_rate(desc))
            self._eeg_rows = list(BoardShim.get_eeg_channels(desc))
            self._ts_row = BoardShim.get_timestamp_channel(desc)
            self._marker_row = BoardShim.get_marker_channel(desc)
            try:
                self._counter_row = BoardShim.get_package_num_channel(desc)
            except BrainFlowError:
                self._counter_row = None  # a board without a sample counter: losses told from the stamps only
        except BrainFlowError as e:
            raise EegvizError(f"BrainFlow does not support board id {desc}: {e}") from None
        try:
            names = list(BoardShim.get_eeg_names(desc))
        except BrainFlowError:
            names = []
        # none, too few, blank or doubled: ch1..chN
        names = usable_ch_names(names, len(self._eeg_rows), "the BrainFlow board")
        # a playback's recording: its markers, put back on their samples (_playback_markers), unless --markers
        # takes an LSL stream's, and how many samples it plays before it ends
        self._file_markers = self._playback_samples = None
        if self.board_id == BoardIds.PLAYBACK_FILE_BOARD.value:
            try:
                *markers, self._playback_samples = _playback_markers(
                    str(self.params["file"]), BoardShim.get_num_rows(desc), self._marker_row)
            except OSError as e:
                raise EegvizError(f"--board-file {self.params['file']}: {os_error_line(e)}") from None
            self._file_markers = None if self.marker_lsl_name else tuple(markers)
        self.board = _Board(self.board_id, self._input_params)
        self._try("prepare_session")
        self.info = StreamInfo(name=name, ch_names=tuple(names), sfreq=sfreq, source_id=f"brainflow-{self.board_id}")
        if self.marker_lsl_name:  # found now, its samples taken from start() on (an LSL inlet gets none before)
            try:
                self._find_marker_stream(self._open_notices)
            except EegvizError:
                self.stop()
                raise
        else:
            # a lab's stimulus program sends its image ids on LSL; without --markers they were passed over
            # without a word, and the session waited for board markers that never came
            from eegviz.sources.lsl import marker_streams_seen

            seen = marker_streams_seen(MARKER_LOOK_S)
            if seen:
                self._open_notices.append(
                    f"LSL marker stream {', '.join(seen)} is not used: a BrainFlow session takes its markers from "
                    f"the board's marker channel; to take them from LSL, name the stream with --markers NAME")
            elif self.board_id not in RELAY_BOARDS:
                # (a playback has its file's markers, a streaming board its master's) nothing fills the board's
                # marker channel but BrainFlow's insert_marker in this process: the session ran, recorded and
                # decoded nothing, and only a presenter already running (the notice above) was ever said
                self._open_notices.append(
                    f"BrainFlow board {name}: no marker stream, so no epochs will be cut: a board session takes its "
                    "markers from the board's marker channel, which nothing here fills (BrainFlow's insert_marker); "
                    "to decode a stimulus program's markers, name its LSL marker stream with --markers NAME "
                    "(`eegviz present` sends 'eegviz-presenter')")

    def _find_marker_stream(self, notices: list[str]) -> None:
        """Find the LSL marker stream named marker_lsl_name and make its inlet, not connected yet (start() does).

        Without liblsl's recovery, which found no stream without a source_id (a stimulus program restarted: no
        markers again, without a word) and blocks pulls while it looks: a RecoveringInlet (start()) looks in the
        background and says when the stream is lost and back, as for LSL sessions. Where several streams have the
        name, which one was taken is said in `notices`, as in an LSL session."""
        from eegviz.sources.lsl import resolve_streams

        self._marker_passed_over = set()  # same-named streams not chosen: never taken for it when it is lost
        _, mk = resolve_streams(None, None, self.marker_lsl_name, "Markers", MARKER_RESOLVE_S, notices,
                                self._marker_passed_over)  # markers only
        self._marker_inlet, self._marker_info = lsl_reconnect.new_inlet(mk), mk

    def _connect_marker_inlet(self) -> None:
        """Start the data of the marker inlet open() made; a stream that does not answer stops the source (one line).

        One whose outlet went away since (a stimulus program restarted during the model's warm-up; a PsychoPy
        script makes a new outlet each run) is looked for once more, as the LSL source looks for its streams: the
        session was refused, "did not answer", though a stream of the name was there again."""
        name = self.marker_lsl_name
        try:
            self._marker_inlet.open_stream(timeout=5.0)
            return
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            first = str(e).rstrip(".")
        lsl_reconnect.close_inlet(self._marker_inlet)
        self._marker_inlet = None
        notices: list[str] = []
        try:
            self._find_marker_stream(notices)
        except EegvizError as e:
            self.stop()
            raise EegvizError(f"LSL marker stream '{name}' did not answer ({first}) and was looked for again: "
                              f"{e}") from None
        try:
            self._marker_inlet.open_stream(timeout=5.0)
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            self.stop()
            raise EegvizError(f"LSL marker stream '{name}' did not answer: {e}") from None
        self._open_notices += [n for n in notices if n not in self._open_notices]  # what open() said is said once

    def _try(self, call: str) -> None:
        try:
            getattr(self.board, call)()
        except BrainFlowError as e:
            self.stop()
            given = ", ".join(f"{k}={v}" for k, v in self.params.items() if v not in ("", None))
            hint = "check the port/address parameters"
            if not given and getattr(e, "exit_code", None) == BrainFlowExitCodes.INVALID_ARGUMENTS_ERROR.value:
                # `--board 0` alone: "check the port/address parameters" sent the user looking at parameters
                # they had not given; BrainFlow says only that an argument is missing, not which
                hint = ("it needs its connection parameters, and none was given: --serial-port for a board on a "
                        "USB dongle or serial port (/dev/ttyUSB0, COM3), --mac-address or --serial-number for "
                        "Bluetooth, --ip-address for WiFi; BrainFlow's list of supported boards says which")
            raise EegvizError(f"could not start {_board_name(self.board_id)}" + (f" with {given}" if given else "")
                              + f": {e} ({hint})") from None

    def start(self) -> None:
        """Start the board's stream (open() first if the caller did not) and the marker inlet, if any."""
        if self.board is None:
            self.open()
        if self._marker_inlet is not None:  # first, so a marker stream gone since open() leaves no board running
            self._connect_marker_inlet()
            lsl_reconnect.begin_offset(self._marker_inlet)  # its ~0.65 s probe overlaps the board's start
        self._try("start_stream")
        inlet = self._marker_inlet
        if inlet is not None:
            from eegviz.sources.lsl import first_channel_notice

            # measured once the board streams: it blocks ~0.65 s, and markers received meanwhile had no EEG yet
            offset = lsl_reconnect.first_offset(inlet, 5.0)
            self._markers = lsl_reconnect.RecoveringInlet(inlet, self._marker_info, offset, "markers",
                                                          passed_over=self._marker_passed_over)
            self._marker_inlet = None  # the RecoveringInlet owns it now (and closes it)
            # [image id, condition, ...]: the first is read, as in an LSL session, which says so; here it went unsaid
            self._open_notices += first_channel_notice(self._marker_info)
        self._streaming = True
        self._offset = _clock_offset()
        self._last_ts = None
        self._dejitter = Dejitter(self.info.sfreq) if self.info.sfreq > 0 else None
        self._counter = (SampleCounter(most=int(self.info.sfreq))
                         if self._counter_row is not None and self.info.sfreq > 0 else None)
        self.lost_samples = 0
        self._played = 0  # samples read since start(): a playback's place in its file
        self._told_nan = self._told_lost = self._told_text = False
        self._rate_check = LiveRateCheck(self.info.sfreq, RATE_CHECK_S)
        self._rate_error: str | None = None
        self._last_data_at = time.monotonic()
        self._silent = False  # the silence notice was given and no sample has come since
        self._seen_data = False  # a sample came since start(): a silence before it is a slow start, not a loss

    def read(self, timeout: float = 0.05) -> ReadResult:
        """Take everything the board buffered; polls up to timeout when nothing is there yet."""
        if not self._streaming:
            raise EegvizError("BrainFlow source read before start()")
        if self._rate_error is not None:
            raise EegvizError(self._rate_error)
        result = ReadResult()
        result.notices += self._open_notices
        self._open_notices = []
        try:
            t_end = time.monotonic() + timeout
            while self.board.get_board_data_count() == 0 and time.monotonic() < t_end:
                time.sleep(0.005)
            data = self.board.get_board_data()
        except BrainFlowError as e:
            raise EegvizError(f"BrainFlow board {self.info.name} failed: {e}") from None
        self._watch_silence(data.shape[1] > 0, result)
        first = self._played
        self._played += data.shape[1]
        if self._file_markers is not None:
            self._put_back_file_markers(data, first)
        if self._playback_samples is not None and self._played >= self._playback_samples:
            # the whole file is played (BrainFlow's playback then sends nothing, and the session waited for
            # ever): it ends as a replay of a recording does, its last epochs cut, and says so
            result.finished = True
        if data.shape[1]:
            raw = data[self._ts_row].astype(np.float64) + self._offsets(data[self._ts_row], result)
            if (measured := self._rate_check.add(raw, time.monotonic())) is not None:
                # BrainFlow's table has each board's default rate: a board set to another (its firmware, a playback
                # of another board's file) had every epoch cut at the wrong length, without a word. Said by the next
                # read, as for an LSL stream, so this read's samples are recorded
                self._rate_error = (
                    f"BrainFlow board {self.info.name} runs at {self.info.sfreq:g} Hz by BrainFlow's description, but "
                    f"its samples come at {measured}: the board is set to another rate (or loses over half its "
                    "samples), and epochs cut at that rate would not be the EEG that followed each marker; set the "
                    "board to its default rate (for a playback, name the recorded board with --master-board)")
            samples = data[self._eeg_rows].T * 1e-6
            if not self._told_nan and (notice := nan_notice(f"BrainFlow board {self.info.name}",
                                                            self.info.ch_names, samples)):
                # as LSL's source does, in its words (base.nan_notice: which channels, and what the epocher does
                # with NaN in the model's channels): the recording keeps the samples as they came; ending the
                # session here lost the chunk (already taken from the board)
                self._told_nan = True
                result.notices.append(notice)
            ts = raw
            if self.info.sfreq > 0:
                ts, result.gap = self._steady(raw, data, result)
            self._last_ts = float(raw[-1])
            result.chunks.append(Chunk(samples=samples.astype(np.float32), timestamps=ts, source=self.info.name,
                                       raw_timestamps=raw))  # the recording keeps the board's own stamps
            if self._markers is None:  # the board's marker channel
                values = data[self._marker_row]
                for i in np.flatnonzero(np.isfinite(values) & (values != 0)):
                    # on its sample's place in the steady clock: a replay of the recording dejitters the EEG
                    # stamps the same way, so the marker lands on that sample again
                    result.markers.append(
                        Marker(timestamp=float(ts[i]), payload=_marker_text(values[i]), source=self.info.name)
                    )
        if self._markers is not None:
            from eegviz.sources.lsl import read_marker_inlet

            # stamped in the local LSL clock, which the board's samples are moved onto (_offsets); the recording
            # stamps markers in that clock, so it takes no sender stamps or clock offsets (sender_clock=False)
            self._told_text = read_marker_inlet(self._markers, result, self.marker_lsl_name, self._told_text,
                                                sender_clock=False)
        return result

    def _put_back_file_markers(self, data: np.ndarray, first: int) -> None:
        """Write the playing recording's markers into the marker channel of these samples (`first` the place of
        the first in the file), where BrainFlow sent none."""
        places, values = self._file_markers
        lo, hi = np.searchsorted(places, [first, first + data.shape[1]])
        at = places[lo:hi] - first
        row = data[self._marker_row]
        empty = row[at] == 0  # a marker inserted into the playing board on that very sample is kept
        row[at[empty]] = values[lo:hi][empty]

    def _offsets(self, wall: np.ndarray, result: ReadResult) -> np.ndarray:
        """What moves each of this chunk's board stamps (`wall`: the system clock's, time.time()) onto the LSL clock.

        The offset is taken at start(); both clocks run at the same rate (NTP slews both), so it holds until the
        system clock is stepped (NTP's step at a large error, a time set by hand or after suspend). Then BrainFlow
        stamped the board's samples seconds off the LSL clock, which markers from an LSL stream are stamped in:
        every later epoch was cut that far from its marker, without a word. A step is taken again here, for the
        samples stamped after it (those after the chunk's jump by about the step, else all), and said."""
        now = _clock_offset()
        old = self._offset
        offsets = np.full(len(wall), old)
        if abs(now - old) < CLOCK_STEP_S:
            return offsets
        self._offset = now
        step = old - now  # how far the system clock moved
        stamps = wall.astype(np.float64)
        if self._last_ts is not None:
            stamps = np.concatenate(([self._last_ts - old], stamps))
        moved = np.flatnonzero(np.abs(np.diff(stamps) - step) < abs(step) / 2)
        first = int(moved[0]) + (self._last_ts is None) if len(moved) else 0
        offsets[first:] = now
        result.notices.append(f"the system clock was stepped by {step:+.2f} s; the BrainFlow board's samples, which "
                              "BrainFlow stamps by it, are moved onto the LSL clock again, so markers stay on them")
        return offsets

    def _watch_silence(self, got_data: bool, result: ReadResult) -> None:
        """One notice when the board has sent nothing for SILENT_S, and one when its samples come again.

        BrainFlow keeps a session whose board went quiet (a Cyton switched off or out of its dongle's range, a
        flat battery) without an error: get_board_data just returns nothing. The session went on without a
        word, every marker meanwhile waiting for EEG that never came, where an LSL stream's loss and return are
        said (eegviz.sources.lsl)."""
        now = time.monotonic()
        if got_data:
            if self._silent:
                self._silent = False
                if self._seen_data:
                    result.notices.append(f"BrainFlow board {self.info.name} sends samples again after "
                                          f"{now - self._last_data_at:.1f} s of silence; epochs across it are skipped")
                else:  # a board slow to start (a Bluetooth headset): late, nothing skipped
                    result.notices.append(f"BrainFlow board {self.info.name} sends samples now, "
                                          f"{now - self._last_data_at:.1f} s after its stream was started")
            self._last_data_at = now
            self._seen_data = True
        elif not self._silent and now - self._last_data_at >= SILENT_S:
            self._silent = True
            since = "for {:g} s" if self._seen_data else "in the {:g} s since its stream was started"
            # a playback's end is said by read() (finished): a silence before it is the recording's own pause
            why = ("a pause in the recording it plays?" if self.board_id == BoardIds.PLAYBACK_FILE_BOARD.value
                   else "switched off, out of range, a flat battery?")
            result.notices.append(f"BrainFlow board {self.info.name} has sent no samples {since.format(SILENT_S)} "
                                  f"({why}); the session waits for it, and markers meanwhile get no epoch")

    def _steady(self, raw: np.ndarray, data: np.ndarray, result: ReadResult) -> tuple[np.ndarray, bool]:
        """The steady stamps for this chunk's board stamps `raw`, and whether samples were lost before or in it.

        The board stamps samples as its driver hands them over (steps of 0 to 2 periods on the synthetic board): the
        epocher cuts in a steady clock recovered from them, as the LSL source does. Where the board's sample counter
        can tell (eegviz.stream.counter), it decides what was lost: the line counts lost samples, so later ones keep
        their place and the loss is a hole the epocher refuses windows across. Elsewhere the line's own test
        decides, as for an LSL stream: a step its learnt jitter does not explain, after which the stamps stay off
        the line (eegviz.stream.dejitter). A jump of over LONG_JUMP_S is a gap either way (the counter wraps: it
        cannot count a long one) and the line restarts. A step over 2 periods used to restart it too:
        on a board whose stamps wobble by a period (sd 3 ms at 250 Hz), that cut a hole into most epochs."""
        period = 1.0 / self.info.sfreq
        steps = np.diff(raw if self._last_ts is None else np.concatenate(([self._last_ts], raw)))
        # where the counter could not tell (UNKNOWN, -1), as no loss: what it told still counts
        told = (np.maximum(self._counter.lost_before(data[self._counter_row]), 0) if self._counter is not None
                else np.zeros(len(raw), dtype=np.int64))
        n_lost = int(told.sum())
        if n_lost:
            self.lost_samples += n_lost
            if not self._told_lost:
                self._told_lost = True
                result.notices.append(f"BrainFlow board {self.info.name} lost {n_lost} sample(s) (its sample counter "
                                      "skipped; a weak radio link?); epochs across a loss are skipped")
        jumps = np.flatnonzero(steps > LONG_JUMP_S) + (self._last_ts is None)  # (steps[0] is raw[1] - raw[0] then)
        if len(jumps):
            # the line restarts at each jump (the sample count does not continue the old line), and only there: a
            # read that holds both sides of one (the acquisition thread late, the system clock stepped) was fitted
            # whole on one new line, which stamped its samples evenly around their mean, up to half the jump off
            parts = np.split(raw, jumps)
            out = [self._dejitter.follow(parts[0])[0]]
            for part in parts[1:]:
                self._dejitter.reset()
                out.append(self._dejitter.follow(part)[0])
            return np.concatenate(out), True
        if n_lost:
            full, real = with_lost(raw, told, self._last_ts, period)
            return self._dejitter.follow(full)[0][real], True
        return self._dejitter.follow(raw)  # lost samples, told from late ones as LSL's are

    def stop(self) -> None:
        self._streaming = False
        board, self.board = self.board, None
        if board is not None:
            try:
                if board.is_prepared():
                    try:
                        board.stop_stream()
                    except BrainFlowError:
                        pass  # the stream was never started or already stopped
                    board.release_session()
            except BrainFlowError:
                pass  # releasing a board that failed must not mask the original error
            finally:
                board.released = True  # done with, released or not (_Board)
        inlet, self._marker_inlet = self._marker_inlet, None
        lsl_reconnect.close_inlet(inlet)  # opened, never started
        markers, self._markers = self._markers, None
        if markers is not None:
            markers.close()
