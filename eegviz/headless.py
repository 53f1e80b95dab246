"""A session without a window (`eegviz demo|replay|live --headless`), and what it shares with the window's
SessionController (the model loading, the Pipeline's options), so that both read the same SessionSettings the
same way."""

from __future__ import annotations

import sys
from pathlib import Path

from eegviz.settings import GeneratorSettings, SessionSettings


def build_models(model_dir: Path, generator: GeneratorSettings):
    """(decoder, generator) for a resolved model folder: the embedded generator reads the folder, a generator
    plugin builds itself from the settings' GeneratorOptions and the model folder."""
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.errors import about
    from eegviz.generators import make_generator

    with about("--model"):  # "no model at X": a config file's `model` is named before it (eegviz.cli)
        decoder = TwoBranchDecoder.load(model_dir)
    return decoder, make_generator(generator.name, model_dir, generator.options)


def pipeline_options(settings: SessionSettings, model_dir: Path | None) -> dict:
    """The Pipeline's keyword arguments that a session's settings give, with or without a window: the model's
    electrodes from the source's (montage, bad ones), repeats averaged or not, inference threads, what the person
    was shown (--images-dir, read and refused here, before the pipeline is built), the synthetic worlds the model
    knows and the artefact threshold (--reject-uv). run_headless and the window's SessionController each wrote them
    out, so an option added to one could be missing from the other. Pacing is not here: the window takes its source
    choice's."""
    from eegviz.data.seen_images import model_world_seeds
    from eegviz.stimulus_truth import StimulusTruth

    return dict(montage=settings.source.montage, bads=settings.source.bads, average_repeats=settings.average_repeats,
                threads=settings.threads, truth=StimulusTruth(settings.images_dir),
                world_seeds=model_world_seeds(model_dir), reject_uv=settings.reject_uv)


def run_headless(source, settings: SessionSettings):
    """Run one session to its end and return its Stats.

    The output folder is checked first, the model loaded, then the pipeline opens the source and checks it
    (before its warm-up where the source can: Source.open()), warms up, starts it and only then claims the
    session folder (eegviz.record.session_folder). A progress bar counts markers on
    a terminal.
    """
    from eegviz.errors import about
    from eegviz.model_sources import resolve_model_dir
    from eegviz.pipeline import Pipeline
    from eegviz.record.session_folder import SessionOutput
    from eegviz.sinks import ProgressSink, close_sinks, make_sinks

    output = SessionOutput(settings.output.folder, settings) if settings.output.folder else None
    with about("--model"):
        model_dir = resolve_model_dir(settings.model.path)
    if output is not None:
        output.set_model(model_dir)  # named in session.json; its digest taken now, before the source opens
    decoder, generator = build_models(model_dir, settings.model.generator)
    if output is not None:
        output.set_generator(generator)  # what it draws with, where the options leave it to the model
    progress = ProgressSink(lambda: getattr(source, "n_markers", None), desc=settings.source.command)
    sinks = make_sinks(settings.output.sinks)
    try:
        pipe = Pipeline(source, decoder, generator, sinks + [progress], output=output, paced=settings.paced,
                        **pipeline_options(settings, model_dir))
    except BaseException:
        close_sinks(sinks)  # the pipeline closes them once it runs; a refused one never did
        raise
    try:
        return pipe.run(duration=settings.duration)
    except BaseException:
        # Ctrl-C or SIGTERM, or an error mid-session (a full disk, a generator failing): the pipeline has ended
        # the session (lines, footers, report), and the summary says what was kept and where, before
        # "interrupted" or the error's line. An error used to print that line alone, so a session's folder of
        # results went unmentioned; a run refused before it started has nothing to sum up and prints nothing.
        if pipe.stats.out_dir or pipe.stats.markers:
            print(pipe.stats.summary(), file=sys.stderr)
        raise
