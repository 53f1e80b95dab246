"""SessionSettings: everything one `eegviz demo|replay|live` session is told, as one typed object.

The command line (whose defaults a --config file has already set, see eegviz.config) is read once, in
eegviz.cli, into a SessionSettings; from there on the headless runner, the window, its SessionController and
the pipeline's sinks read typed fields, never an argparse Namespace - so a field's name, type and default are
written here once, and a typo is an AttributeError at the first test instead of a silent None from getattr.

The object is frozen: a running session cannot change under its worker thread. The window's controls start a
session with another model through with_model_path(), which returns a copy.

Plugins that build themselves from options get the part they belong to: a source's from_cli gets
SourceSettings, whose field names are the option names (file, speed, sfreq, unit); a generator's
from_options gets GeneratorSettings.options (eegviz.generators.options.GeneratorOptions) and the model folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from eegviz.generators.options import GeneratorOptions
from eegviz.sources.brainflow_params import brainflow_params

SESSION_COMMANDS = ("demo", "replay", "live")


@dataclass(frozen=True)
class SourceSettings:
    """Where the samples come from.

    command: demo | replay | live. reader: replay's --source (auto, xdf, mne or a source plugin), or live's
    --source NAME (a live source plugin; "auto": live's built-ins, chosen by --stream, --board or --simulate), whose
    text after "NAME:" is source_args (None: none given), for the plugin's from_cli to read. board: a
    BrainFlow board id (None: no BrainFlow), board_params its BrainFlowInputParams as sorted (field, value)
    pairs. montage: the MNE montage the source's channel names refer to (None: guessed from the names). bads: its
    electrodes marked bad (--bads), left out and the model's channels they fed interpolated from the others.
    """

    command: str = "demo"
    file: str | None = None
    reader: str = "auto"
    stream: str | None = None
    markers: str | None = None
    speed: float = 1.0
    board: int | None = None
    board_params: tuple[tuple[str, object], ...] = ()
    simulate: bool = False
    montage: str | None = None
    bads: tuple[str, ...] = ()
    sfreq: float | None = None
    unit: str | None = None  # replay's --unit; None: not given (csv reads microvolts then)
    class_snr_db: float | None = None  # live --simulate's class SNR (None: the demo world, as the window's box)
    source_args: str | None = None  # live --source NAME:ARGS's ARGS: a live source plugin's own options
    event_ids: str | None = None  # replay's --event-ids FILE: the image id of each trigger code or event (MNE files)
    event_codes: str | None = None  # replay's --event-codes LIST: which trigger codes are stimuli (None: all)

    @property
    def resolved_reader(self) -> str:
        """replay's file reader: 'auto' picks xdf for .xdf files (ours, LabRecorder's; .xdfz and .xdf.gz
        compressed) and MNE for the rest."""
        if self.reader != "auto":
            return self.reader
        from eegviz.sources.xdf_chunks import is_xdf_name

        return "xdf" if self.file and is_xdf_name(self.file) else "mne"


@dataclass(frozen=True)
class GeneratorSettings:
    """Which generator plugin, and the options every plugin is built from (eegviz.generators.options)."""

    name: str = "embedded"
    options: GeneratorOptions = field(default_factory=GeneratorOptions)

    @classmethod
    def from_options(cls, opts: Mapping[str, object]) -> GeneratorSettings:
        """From {option dest: value}: a session's options, or eval's."""
        return cls(name=str(opts.get("generator") or "embedded"), options=GeneratorOptions.from_mapping(opts))


@dataclass(frozen=True)
class ModelSettings:
    """path: a model folder or a Hugging Face repo id; None: the shipped default model."""

    path: str | None = None
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)


@dataclass(frozen=True)
class OutputSettings:
    """folder: where session.xdf, results.jsonl and PNGs go (None: nothing is written); sinks: --sink specs;
    screenshot: a PNG of the window saved when the first session ends."""

    folder: str | None = None
    sinks: tuple[str, ...] = ()
    screenshot: str | None = None


@dataclass(frozen=True)
class DisplaySettings:
    headless: bool = False
    kiosk: bool = False
    title: str = "eegviz"


@dataclass(frozen=True)
class SessionSettings:
    """One session: its source, model, output and display, and how long it runs (duration None: until the
    source ends or the session is stopped)."""

    source: SourceSettings = field(default_factory=SourceSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    duration: float | None = None
    average_repeats: bool = False  # combine the epochs of a stimulus id shown again (eegviz.stream.repeats)
    threads: int | None = None  # torch kernel threads for inference; None: all cores but one (eegviz.threads)
    images_dir: str | None = None  # the stimulus folder the person was shown (eegviz.stimulus_truth)
    reject_uv: float | None = None  # skip epochs over this peak to peak, in uV (eegviz.stream.reject); None: off

    @property
    def paced(self) -> bool:
        """A replay at speed 0 runs as fast as possible and processes every epoch; all else runs in real time."""
        return not (self.source.command in ("demo", "replay") and self.source.speed <= 0)

    @property
    def restarts_on_end(self) -> bool:
        """An unattended kiosk starts its session again whenever it ends, unless it was told when to stop."""
        return self.display.kiosk and not self.output.screenshot and not self.duration

    def with_model_path(self, path: str | Path | None) -> SessionSettings:
        return replace(self, model=replace(self.model, path=str(path) if path else None))

    def with_output_folder(self, folder: str | Path | None) -> SessionSettings:
        return replace(self, output=replace(self.output, folder=str(folder) if folder else None))

    @classmethod
    def from_options(cls, opts: Mapping[str, object]) -> SessionSettings:
        """The settings of one parsed `eegviz demo|replay|live` command line, given as {option dest: value}
        (vars() of the Namespace); options a command does not have take the defaults above. BrainFlow's
        connection parameters are live's only (its --board-file shares the dest `file` with replay's FILE)."""
        command = str(opts.get("cmd") or "demo")
        reader, args = str(opts.get("source") or "auto"), None
        if command == "live" and ":" in reader:  # live --source NAME:ARGS, as --sink NAME:ARGS
            reader, _, args = reader.partition(":")
            reader = reader.strip()
        source = SourceSettings(
            command=command, file=_str(opts.get("file")), reader=reader, source_args=args,
            stream=_str(opts.get("stream")), markers=_str(opts.get("markers")),
            speed=float(opts.get("speed", 1.0) or 0.0),
            board=None if opts.get("board") is None else int(opts["board"]),
            board_params=tuple(sorted(brainflow_params(opts).items())) if command == "live" else (),
            simulate=bool(opts.get("simulate", False)), montage=_str(opts.get("montage")),
            bads=bad_names(opts.get("bads")),
            sfreq=None if opts.get("sfreq") is None else float(opts["sfreq"]), unit=_str(opts.get("unit")),
            class_snr_db=None if opts.get("class_snr_db") is None else float(opts["class_snr_db"]),
            event_ids=_str(opts.get("event_ids")), event_codes=_str(opts.get("event_codes")))
        model = ModelSettings(path=_str(opts.get("model")), generator=GeneratorSettings.from_options(opts))
        output = OutputSettings(folder=_str(opts.get("out")), sinks=tuple(opts.get("sink") or ()),
                                screenshot=_str(opts.get("screenshot")))
        display = DisplaySettings(headless=bool(opts.get("headless", False)), kiosk=bool(opts.get("kiosk", False)),
                                  title=_title(source))
        duration = opts.get("duration")
        threads = opts.get("threads")
        return cls(source, model, output, display, None if duration is None else float(duration),
                   average_repeats=bool(opts.get("average_repeats", False)),
                   threads=None if threads is None else int(threads), images_dir=_str(opts.get("images_dir")),
                   reject_uv=None if opts.get("reject_uv") is None else float(opts["reject_uv"]))


def bad_names(value) -> tuple[str, ...]:
    """--bads NAME[,NAME...] as its names, blanks and repeats left out (None: none marked)."""
    if value is None:
        return ()
    return tuple(dict.fromkeys(n.strip() for n in str(value).split(",") if n.strip()))


def _str(value) -> str | None:
    return None if value is None else str(value)


def _title(source: SourceSettings) -> str:
    if source.command == "replay" and source.file:
        return f"eegviz replay {Path(source.file).name}"
    if source.command == "live" and source.reader != "auto":
        return f"eegviz live {source.reader}"
    return f"eegviz {source.command}"
