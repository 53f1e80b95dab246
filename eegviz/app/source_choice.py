"""SourceChoice: a source as the window and the command line describe it, built later on a worker thread.

It lives apart from the session controller and the window because both need it: the controls turn their
widgets into a SourceChoice, the controller calls make_source() off the GUI thread (so opening a file or
resolving a stream never blocks the GUI), and `eegviz demo/replay/live` build one from their SourceSettings
(initial_source), headless and windowed alike, so a source is built one way whichever runs it.
Keeping it here, with no Qt in it, is what lets session.py import the window without the window importing
session.py back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from eegviz.errors import EegvizError, one_line
from eegviz.settings import SourceSettings

SOURCE_KINDS = ("demo", "xdf", "file", "simulator", "lsl", "brainflow-synthetic", "brainflow", "plugin")
BUILTIN_LIVE = {"lsl": "--stream NAME", "brainflow": "--board ID", "simulator": "--simulate"}  # live's own options
REPLAY_KINDS = ("demo", "xdf", "file")  # the kinds a speed applies to
SYNTHETIC_BOARD = -1  # BrainFlow's synthetic board id


@dataclass(frozen=True)
class SourceChoice:
    """A source as the window offers it; make_source() builds it (not started) and may raise EegvizError.

    kind: "demo" (the bundled recording), "xdf" (path), "file" (path: any other recording `eegviz replay` reads,
    through MNE or a source plugin, as the command line's `replay` options say), "simulator", "lsl" (name = EEG
    stream name, None = the first stream of type EEG), "brainflow-synthetic", "brainflow" (board_id), or
    "plugin" (name = a live source plugin, `eegviz live --source NAME`, built from the command line's options in
    `replay`, whose reader is NAME). speed
    is the replay speed for demo/xdf/file (0 = as fast as possible, unpaced) and the simulator's time factor
    (> 0). markers names the marker stream (LSL; in the file for XDF; an LSL marker outlet for BrainFlow); name
    picks the EEG stream in an XDF.
    """

    kind: str = "demo"
    path: str | None = None
    name: str | None = None
    markers: str | None = None
    speed: float = 1.0
    board_id: int | None = None
    board_params: tuple[tuple[str, object], ...] = ()  # BrainFlowInputParams fields, e.g. (("serial_port", ...),)
    snr_db: float | None = None  # simulator: class-discriminative SNR (None: the demo world; eegviz.world.sim_config)
    replay: SourceSettings | None = None  # "file", "plugin": the command line's source options (reader, sfreq, ...)

    @property
    def paced(self) -> bool:
        """Live sources and replays at a finite speed drop epochs when generation falls behind; speed 0 never does."""
        return not (self.kind in REPLAY_KINDS and self.speed <= 0)

    @property
    def label(self) -> str:
        if self.kind == "demo":
            return "demo recording"
        if self.kind == "xdf":
            return f"XDF {Path(self.path).name}" if self.path else "XDF file"
        if self.kind == "file":  # "FIF rec_raw.fif", "CSV rec.csv": named as an XDF replay is
            return f"{Path(self.path).suffix.lstrip('.').upper() or 'file'} {Path(self.path).name}"
        if self.kind == "lsl":
            return f"LSL {self.name}" if self.name else "LSL stream"
        if self.kind == "brainflow-synthetic" or (self.kind == "brainflow" and self.board_id in (None, SYNTHETIC_BOARD)):
            return "BrainFlow synthetic board"
        if self.kind == "brainflow":
            return f"BrainFlow board {self.board_id}"
        if self.kind == "plugin":
            return f"plugin {self.name}"
        if self.kind == "simulator":
            # the SNR the running session has: the SNR box applies on Start, so once changed mid-session it
            # showed a value the simulator was not using, and the status bar and title said only "simulator"
            return "simulator, demo world" if self.snr_db is None else f"simulator, class SNR {self.snr_db:g} dB"
        return self.kind

    def make_source(self):
        from eegviz.plugins import get

        if self.kind == "demo":
            from eegviz.paths import demo_recording_checked
            from eegviz.sources.xdf import XdfReplaySource

            return XdfReplaySource(demo_recording_checked(), speed=self.speed)
        if self.kind == "xdf":
            from eegviz.sources.xdf import XdfReplaySource

            if not self.path:
                raise EegvizError("no XDF file chosen; pick one with 'XDF file…'")
            return XdfReplaySource(self.path, speed=self.speed, eeg_stream=self.name, marker_stream=self.markers)
        if self.kind == "file":
            source = replace(self.replay or SourceSettings("replay"), file=self.path, speed=self.speed)
            if source.resolved_reader == "mne":
                from eegviz.sources.mne_file import MneFileSource

                return MneFileSource(source.file, speed=source.speed, event_ids=source.event_ids,
                                     event_codes=source.event_codes)
            return _from_cli(source)  # e.g. the csv example in plugins/
        if self.kind == "simulator":
            from eegviz.world.sim_config import make_config

            config = make_config("demo", class_snr_db=self.snr_db) if self.snr_db is not None else None
            return get("sources", "simulator")(speed=self.speed if self.speed > 0 else 1.0, config=config)
        if self.kind == "lsl":
            return get("sources", "lsl")(stream_name=self.name, marker_name=self.markers)
        if self.kind in ("brainflow", "brainflow-synthetic"):
            board = SYNTHETIC_BOARD if self.kind == "brainflow-synthetic" or self.board_id is None else self.board_id
            return get("sources", "brainflow")(board_id=board, params=dict(self.board_params),
                                                marker_lsl_name=self.markers)
        if self.kind == "plugin":
            return _from_cli(self.replay or SourceSettings("live", reader=self.name or ""))
        raise EegvizError(f"unknown source kind '{self.kind}'; one of {', '.join(SOURCE_KINDS)}")

    @classmethod
    def from_settings(cls, source: SourceSettings) -> SourceChoice:
        """The choice an `eegviz demo|replay|live` command line makes (an XDF replay for `replay`)."""
        if source.command == "demo":
            return cls("demo", speed=source.speed)
        if source.command == "replay":
            return cls("xdf", path=source.file, name=source.stream, markers=source.markers, speed=source.speed)
        if source.command == "live":
            if source.reader != "auto":
                return cls("plugin", name=source.reader, replay=source)
            if source.board is not None:
                kind = "brainflow-synthetic" if source.board == SYNTHETIC_BOARD else "brainflow"
                return cls(kind, board_id=source.board, markers=source.markers, board_params=source.board_params)
            if source.simulate:
                return cls("simulator", snr_db=source.class_snr_db)
            return cls("lsl", name=source.stream, markers=source.markers)
        raise EegvizError(f"command '{source.command}' does not run a session")


def initial_source(source: SourceSettings) -> SourceChoice:
    """What a session starts with: a SourceChoice the window's controls can show and Start can run again. A file
    only MNE or a source plugin reads is a "file" choice carrying the replay's options. (It used to be a bare
    callable: the window then ran it paced, dropping most markers at --speed 0, named it "<lambda>" in the
    status bar, and its controls showed the demo recording, which Start then replayed instead of the file.)
    A plugin that cannot replay a file, or (live --source) is no live source, is refused here, before any window
    opens or model loads."""
    if source.command == "live" and source.reader != "auto":
        _source_plugin(source)
    if source.command != "replay" or source.resolved_reader == "xdf":
        return SourceChoice.from_settings(source)
    if source.resolved_reader != "mne":
        _source_plugin(source)
    return SourceChoice("file", path=source.file, speed=source.speed, replay=source)


def _source_plugin(source: SourceSettings):
    """The source plugin the command line names: replay's --source, which replays the file, or live's --source,
    which must say it is live (a class attribute `live = True`): a file reader run by `live` would have replayed
    no file, and one that does not say so is taken as a file reader, as every source plugin was before live could
    run one; one that says so is not run by replay. Refused in one line if it cannot, an unknown name listing the sources there are."""
    from eegviz.plugins import get

    live = source.command == "live"
    if live and source.reader in BUILTIN_LIVE:  # eegviz's own, built from live's own options
        raise EegvizError(f"source '{source.reader}' is live's built-in: give {BUILTIN_LIVE[source.reader]} instead "
                          "of --source (--source NAME runs a live source plugin)")
    cls = get("sources", source.reader)
    if live and getattr(cls, "live", False) is not True:
        # a config file's top-level `source = "csv"`, meant for replay, is read by live too since live has --source
        raise EegvizError(f"source '{source.reader}' replays a file (its class does not set live = True): run it "
                          f"with `eegviz replay FILE --source {source.reader}` (a --config file's top-level `source` "
                          "is read by replay and live alike: put it in [replay])")
    if not live and getattr(cls, "live", False) is True:
        # it would have been built for the file and decoded the amplifier instead, its markers taken as a file's
        raise EegvizError(f"source plugin '{source.reader}' acquires live (its class sets live = True) and replays no "
                          f"file: run it with `eegviz live --source {source.reader}`")
    if not hasattr(cls, "from_cli"):
        raise EegvizError(f"source plugin '{source.reader}' cannot {'be built by live' if live else 'replay a file'} "
                          "(it has no from_cli)")
    return cls


def _from_cli(source: SourceSettings):
    """The source plugin built from the replay's settings. Its own failure (a file it cannot parse, a bug) is one
    line naming it, as a generator or sink plugin's is (README: "a plugin that fails while being built is refused
    in one line naming it"); it used to end `eegviz replay FILE --source NAME` in a traceback. EegvizError (the
    plugin's own words) and OSError (a path the command line reports with its name) pass unchanged."""
    cls = _source_plugin(source)
    try:
        src = cls.from_cli(source)
    except (EegvizError, OSError):
        raise
    except (Exception, SystemExit) as e:  # noqa: BLE001 - a plugin's own failure (a sys.exit() too)
        what = "" if source.command == "live" else f" for {source.file}"
        raise EegvizError(f"source plugin '{source.reader}' failed to build{what} ({one_line(e)})") from e
    # the Source protocol (eegviz.sources.base), checked as a sink's methods are: one lacking read() or info
    # failed with an AttributeError traceback once the session had loaded its model
    from eegviz.plugins import lacking

    missing = lacking(src, ("start", "read", "stop"))
    missing += [] if hasattr(src, "info") else ["info"]
    if missing:
        raise EegvizError(f"source plugin '{source.reader}' is not a source: what from_cli returned lacks "
                          f"{', '.join(missing)}")
    # how a session calls them (eegviz.pipeline): a read() taking no timeout= failed at the first read
    from eegviz.plugins import miscalled

    wrong = miscalled(src, {"open": (0, (), "open()"), "start": (0, (), "start()"),
                            "read": (0, ("timeout",), "read(timeout=...)"), "drain": (0, (), "drain()"),
                            "stop": (0, (), "stop()")})
    if wrong:
        raise EegvizError(f"source plugin '{source.reader}' cannot take the session's calls: {'; '.join(wrong)}")
    from eegviz.plugins import wrap

    # its failure in read() mid-session is one line naming it. It replays a FILE: its markers are in the file's
    # clock, not judged by when they arrive (eegviz.sources.replay.ReplaySource.replayed), unless it says otherwise;
    # one that handed its markers over at once had every marker past 60 s skipped as "stamped in another clock"
    # A live plugin's markers are judged by when they arrive, as a live LSL stream's are, unless it says otherwise.
    return wrap(src, "source", source.reader, defaults={"replayed": source.command != "live"})
