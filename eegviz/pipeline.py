"""The data path, in one place: Source -> Epocher -> Decoder -> Generator -> Sinks.

Two threads. The acquisition thread polls the source, records every raw sample and marker (lossless, before
anything else can fail), and cuts epochs. The inference thread decodes and generates. Between them a bounded
queue: when generation falls behind a live source, the oldest pending epoch is dropped (newest wins) and
counted; acquisition never waits. For a replay running as fast as possible (`paced=False`) nothing is live,
so the queue blocks instead and every epoch is processed.

run() owns the start-up order, because each step protects the recording: the generator and the decoder warm up before
the source starts delivering (markers that arrive during a slow warm-up would otherwise be dropped or cut late), the
source's channels and rate are checked against the model before anything is written (before the warm-up, for
sources that can say what they will send without sending it: Source.open()), and only then is the
session folder claimed (SessionOutput). At the end every marker gets a line: epochs already cut are still
generated, and markers whose window never completed are reported with the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from eegviz.decoders.two_branch import TwoBranchDecoder
from eegviz.errors import EegvizError
from eegviz.generators.base import Generator, check_images
from eegviz.messages import Chunk, Epoch, Marker, Reconstruction, SkipKind, stimulus_id, why_no_image
from eegviz.sources.base import Source
from eegviz.stopping import stop_asked, stop_deferred
from eegviz.stream.epocher import Epocher
from eegviz.stream.preprocess import Preprocessor
from eegviz.stream.reject import check_reject_uv
from eegviz.stimulus_truth import StimulusTruth
from eegviz.stream.repeats import RepeatAverager
from eegviz.threads import inference_thread_count
from eegviz.words import counted

log = logging.getLogger(__name__)


def check_latent_start(generator, decoder) -> bool:
    """Whether `generator` starts img2img from the decoder's latent branch (--init latent); a one-line EegvizError
    when it asks to and the model has none, or has one for latents of another shape than the generator's VAE
    works on (`latent_shape`, where the generator says). Sessions and `eegviz eval` both check it before anything
    runs.

    The branch predicts latents of the model folder's own VAE. Handed to another pipeline's VAE (--sd-model)
    they were decoded in a latent space not theirs and, where the grid differed, every image came out at the
    wrong size (128 px from a 512 px pipeline) with a mid-session re-trace (found by review). A VAE of the same
    latent shape was taken as well and drawn from in a latent space not its own, at another scale (found by review):
    its weights and scaling factor are compared with the model folder's vae/, which the branch was fitted to."""
    from_latents = getattr(generator, "init", "saliency") == "latent"
    latent = getattr(decoder, "latent", None)
    if from_latents and latent is None:
        folder = getattr(decoder, "folder", None)
        if folder is not None and not (Path(folder) / "model_index.json").is_file():
            # a decoder-only folder (train --decoder-only, models/synthetic-realistic): the fit below refuses it, for
            # the branch regresses into the folder's own VAE, so the line sent its user to a tool that says no
            raise EegvizError(f"--init latent: this model has no latent branch (latent_regressor/), and {folder} "
                              "cannot take one: the branch regresses into the model folder's own generator VAE, "
                              "and it has no pipeline (model_index.json; a decoder-only folder); use --init saliency")
        raise EegvizError("--init latent: this model has no latent branch (latent_regressor/); fit one with "
                          "`python -m eegviz.train.latent_branch --model MODEL --data DATA`")
    why = foreign_latents(generator, latent) if from_latents else None
    if why is not None:
        raise EegvizError(f"--init latent: {why}: use --init saliency, or the model folder's own pipeline")
    return from_latents


def foreign_latents(generator, latent) -> str | None:
    """Why `generator` cannot start from what `latent` (a decoder's latent branch) predicts, None where it can: its
    VAE works on latents of another shape (`latent_shape`, where the generator says), or is not the VAE the branch
    was fitted to (other weights or scaling factor, where the generator has a diffusers `pipe`). Sessions refuse
    --init latent for it (check_latent_start); `eegviz eval` leaves its latent row out, saying why."""
    want = getattr(generator, "latent_shape", None)
    have = tuple(int(n) for n in latent.config.latent_shape)
    if want is not None and tuple(want) != have:
        shape = lambda s: "x".join(str(n) for n in s)  # noqa: E731
        return (f"this model's latent branch predicts {shape(have)} latents of its own VAE; the generator's pipeline "
                f"works on {shape(want)} (another VAE or image size)")
    fitted = getattr(latent, "fitted_vae", None)
    vae = getattr(getattr(generator, "pipe", None), "vae", None)
    if fitted is not None and vae is not None and not same_vae(vae, fitted):
        return (f"this model's latent branch predicts latents of the VAE in {fitted}; the generator's pipeline draws "
                "through another VAE (other weights or scaling factor), whose latents those are not")
    return None


def same_vae(vae, folder: Path) -> bool:
    """Whether `vae` (a loaded diffusers autoencoder, in any dtype or device) is the one saved in `folder`: the same
    scaling factor and, cast to its dtype, the same weights. False where the folder's weights cannot be read."""
    import json

    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        saved = json.loads((Path(folder) / "config.json").read_text())
        weights = load_file(Path(folder) / "diffusion_pytorch_model.safetensors")
    except (OSError, ValueError, SafetensorError):
        return False
    if saved.get("scaling_factor") != vae.config.get("scaling_factor"):
        return False
    state = vae.state_dict()
    if set(state) != set(weights):
        return False
    return all(state[k].shape == weights[k].shape
               and torch.equal(state[k].detach().cpu(), weights[k].to(state[k].dtype)) for k in state)


def warm_decoder(decoder, latent: bool) -> None:
    """Decode one epoch of zeros of the model's input shape, as the generator's warmup() draws one image: the
    decoder's first call pays torch's one-off costs (allocations, kernel choice; about 70 ms against 5 warm on 2
    CPU cores), and a session's first epoch, or the bench's, paid them after the warm-up that was to spare it.
    `latent`: the latent branch runs too, where the session will run it. The decoder is in eval mode under
    inference_mode: nothing it holds changes, and neither does any image."""
    spec = decoder.spec
    decoder.forward(np.zeros((1, len(spec.ch_names), spec.n_times), np.float32), latent=latent)


def check_caption_width(generator, decoder) -> None:
    """A one-line EegvizError when the decoder's caption states are not as wide as the generator's UNet attends
    over (a MiniLM or SD 1.x CLIP decoder, 384 / 768, before an SD 2.x UNet, 1024), unless the generator maps
    them (a projection). generate() refuses it too, but only at the first epoch: after warm-up and, live, after
    the first stimulus was shown (found by review). Sessions and `eegviz eval` check it before anything runs."""
    from eegviz.generators.diffusers_sd import caption_width_error

    want = getattr(generator, "ctx_dim", None)
    have = (getattr(decoder, "hparams", None) or {}).get("text_dim")
    if want is None or have is None or getattr(generator, "projection", None) is not None or int(want) == int(have):
        return
    raise EegvizError(caption_width_error(int(have), int(want)))


class Sink(Protocol):
    """Where reconstructions go (ResultsWriter, ProgressSink, plugins' sinks, the window). on_result is called
    from the generation thread; on_skipped from the acquisition thread at once (drops, gaps, NaN), so a sink
    that writes both must lock, and its lines are in completion order, not marker order (each carries t_marker).
    on_skipped gets why twice: reason, a sentence for people, and kind, the SkipKind for code."""

    def on_result(self, rec: Reconstruction, stimulus: np.ndarray | None) -> None: ...
    def on_skipped(self, marker: Marker, reason: str, kind: SkipKind) -> None: ...
    def close(self) -> None: ...


# how the summary line names each SkipKind
SKIP_WORDS = {SkipKind.DROPPED: "dropped", SkipKind.GAP: "in a gap", SkipKind.NAN: "with NaN samples",
              SkipKind.INCOMPLETE: "incomplete at the end", SkipKind.STOPPED: "cut short by the stop",
              SkipKind.ERROR: "ended by an error", SkipKind.NO_ID: "naming no image",
              SkipKind.CLOCK: "in another clock", SkipKind.REJECTED: "rejected as artefacts"}


@dataclass
class Stats:
    samples: int = 0
    markers: int = 0
    epochs: int = 0
    results: int = 0
    dropped: int = 0
    skipped: int = 0  # markers without an epoch (gap, NaN, rejected, incomplete at the end), NaN ones included
    skip_kinds: Counter = field(default_factory=Counter)  # the skipped markers by SkipKind
    gaps: int = 0
    # each result's marker -> image latency (ms) for the summary's percentiles: 8 bytes a result in an array, where
    # every result's whole timings dict was kept (about 50 MB a day for a kiosk's live session, found by review)
    marker_to_image_ms: array = field(default_factory=lambda: array("d"))
    out_dir: object = None  # the session folder results were written to, if any
    ended: str = ""  # why the session ended: "finished" (the source ran out), "duration", "stopped" (stop())

    @property
    def skipped_nan(self) -> int:
        """Of the skipped markers, those whose window held NaN/inf samples."""
        return self.skip_kinds[SkipKind.NAN]

    @property
    def rejected(self) -> int:
        """Of the skipped markers, those whose epoch was rejected as an artefact (--reject-uv)."""
        return self.skip_kinds[SkipKind.REJECTED]

    def summary(self) -> str:
        """The line a session ends with (headless and windowed runs alike)."""
        lat = np.frombuffer(self.marker_to_image_ms, dtype=np.float64)
        p = (f", marker->image p50 {np.percentile(lat, 50):.0f} ms p95 {np.percentile(lat, 95):.0f} ms"
             if lat.size else "")
        out = f"; results in {self.out_dir}" if self.out_dir else ""
        # '1 marker, 1 reconstruction': a session of one marker (a quick check, a disk full after the first) ended
        # on "1 markers, 0 reconstructions"
        return (f"eegviz: {counted(self.markers, 'marker')}, {counted(self.results, 'reconstruction')}, "
                f"{self.dropped} dropped, {self.skipped} skipped{self._skip_words()}{p}{out}")

    def _skip_words(self) -> str:
        """' (2 in a gap, 1 with NaN samples)': why markers were skipped, most common first, so a session's last
        line says whether its skips were the recording's fault (gaps, NaN) or only its end (cut short)."""
        parts = self._skip_parts()
        return f" ({', '.join(parts)})" if parts else ""

    def _skip_parts(self) -> list[str]:
        """['2 in a gap', '1 with NaN samples'], most common first: the summary's words, which the line of a session
        that made nothing gives too (it said '2 nan, 1 stopped' under a summary saying 'with NaN samples')."""
        return [f"{n} {SKIP_WORDS.get(kind, str(getattr(kind, 'value', kind)))}"
                for kind, n in self.skip_kinds.most_common() if n]

    def nothing_made(self) -> str | None:
        """One line when a session that ran to its own end (its source ran out, or its duration) saw markers but
        made no image from any of them, e.g. a replay whose every epoch held NaN samples or whose marker ids
        were all empty; else None. Such a run exits non-zero (`eegviz replay` in a script over many files must
        not pass it as done); a session stopped by hand or one whose epochs were dropped is not this case, nor one
        whose every marker was only cut short by its end (a --duration that came while their windows were still
        being recorded: skipped as "stopped", as by hand; nothing about the data failed). Markers stamped in
        another clock are skipped as "clock" (eegviz.stream.epocher.Epocher.other_clock), not "stopped", so a
        session of only those is this case; they used to wait for EEG that never came and pass as cut short.
        A source that ran out without a single marker (a replay of a recording with no marker stream or no
        annotations, which its loading warns of) is this case too: it played the whole file and exited 0, as if
        every stimulus had been decoded. A --duration that passed with none (a live stream's) is not judged: a
        marker may simply not have come yet."""
        if self.ended == "finished" and not self.markers:
            return ("the recording held no markers, so nothing was decoded (an image is made from the EEG after "
                    "each stimulus marker)")
        if self.ended not in ("finished", "duration") or not self.markers or self.results or self.dropped:
            return None
        if self.skip_kinds[SkipKind.STOPPED] >= self.markers:
            return None
        why = ", ".join(self._skip_parts())
        what = (f"none of the {self.markers} markers got a reconstruction" if self.markers != 1
                else "the one marker got no reconstruction")
        return (what +
                (f" (skipped: {why}; each marker's reason is in its line)" if why else ""))


def changed_since_open(opened, started) -> str | None:
    """One line where the source started with other channels, rate or sample format than it was opened and checked
    with (an amplifier's LSL outlet restarted with another setup during the warm-up, which LslSource.start() finds
    again), else None. The session maps the new channels anew; it used to do so with no word but a second
    montage warning of other counts, nothing saying the stream had changed."""
    parts = []
    old_ch, new_ch = tuple(opened.ch_names), tuple(started.ch_names)
    if len(new_ch) != len(old_ch):
        parts.append(f"{len(new_ch)} channels instead of {len(old_ch)}")
    elif new_ch != old_ch:
        i = next(i for i, (a, b) in enumerate(zip(new_ch, old_ch)) if a != b)
        parts.append(f"channel {i + 1} named '{new_ch[i]}' instead of '{old_ch[i]}'")
    if started.sfreq != opened.sfreq:
        parts.append(f"{started.sfreq:g} Hz instead of {opened.sfreq:g} Hz")
    old_fmt, new_fmt = getattr(opened, "eeg_format", ""), getattr(started, "eeg_format", "")
    if old_fmt and new_fmt and old_fmt != new_fmt:
        parts.append(f"{new_fmt} samples instead of {old_fmt}")
    if not parts:
        return None  # the same stream again (an outlet restarted as it was: only its header's uid differs)
    return (f"EEG stream '{started.name}' changed while the model warmed up: it now has {' and '.join(parts)}; "
            "its channels are mapped onto the model's anew")


def _same_failure(e: BaseException, other: BaseException | None) -> bool:
    """Whether a closing error repeats `other` (the session's own): the same OSError (type, errno) on the same
    file. One on another file is other news (which file is left incomplete), and is still said."""
    if other is None:
        return False
    if e is other:
        return True
    return (isinstance(e, OSError) and type(e) is type(other) and e.errno is not None
            and e.errno == other.errno and e.filename == other.filename)


class Pipeline:
    """See the module docstring. The source is not started yet: run() starts it (after the warm-up).

    output: a SessionOutput whose folder (session.xdf + results) is claimed once the source fits the model;
    recorder: alternatively an explicit recorder (add_chunk/add_marker/add_clock_offset/close).
    on_started(StreamInfo) is called once the source is open and fits the model, before acquisition begins.
    on_warming_up() is called before the warm-up, once the source is open where it can be (Source.open()): a
    kiosk says "starting" then, not "waiting for signal", for the generator's first image can take a minute.
    montage: the MNE montage the source's channel names refer to (--montage); None: guessed from the names.
    bads: the source's electrodes marked bad (--bads): left out, the model's channels they fed interpolated from the
    others (eegviz.stream.montage.build_channel_map).
    average_repeats: decode each epoch averaged with the earlier epochs of the same stimulus id
    (eegviz.stream.repeats), so a repeated image's reconstruction sharpens; results carry the count.
    threads: torch's kernel threads while the session runs (None: all cores but one, eegviz.threads), restored
    when run() returns.
    reject_uv: epochs whose peak to peak on any of the model's channels, as the decoder reads them, is over this many
    microvolts are skipped as artefacts (eegviz.stream.reject; None: every epoch is decoded).
    truth: what each marker's person was shown (eegviz.stimulus_truth; None: synthetic-world ids re-rendered),
    handed to the sinks beside each reconstruction, with its class in Reconstruction.true_class.
    """

    bads: tuple[str, ...] = ()  # set by __init__; here too for a Pipeline made without it (tests build parts)

    def __init__(self, source: Source, decoder: TwoBranchDecoder, generator: Generator, sinks: list[Sink],
                 recorder=None, paced: bool = True, max_pending: int = 2, max_batch: int = 4,
                 on_chunk: Callable[[Chunk], None] | None = None, on_marker: Callable[[Marker], None] | None = None,
                 output=None, on_started: Callable[[object], None] | None = None,
                 on_notice: Callable[[str], None] | None = None, montage: str | None = None,
                 average_repeats: bool = False, threads: int | None = None, truth: StimulusTruth | None = None,
                 world_seeds: set[int] | None = None, bads: tuple[str, ...] = (), reject_uv: float | None = None,
                 on_warming_up: Callable[[], None] | None = None):
        self.source, self.decoder, self.generator = source, decoder, generator
        # the synthetic world seeds the model learnt (eegviz.data.seen_images.model_world_seeds): a marker naming
        # another world's image is said once, as that session decodes at chance; None: nothing to compare with
        self.world_seeds, self._told_world = world_seeds, False
        self.truth = truth if truth is not None else StimulusTruth()
        self.sinks: list[Sink] = list(sinks)
        self.recorder, self.paced, self.max_batch = recorder, paced, max_batch
        self.on_chunk, self.on_marker = on_chunk, on_marker
        self.output, self.on_started, self.on_notice, self.montage = output, on_started, on_notice, montage
        self.threads, self.bads = threads, tuple(bads)
        self.on_warming_up = on_warming_up
        self.reject_uv = check_reject_uv(reject_uv)
        self.queue: queue.Queue[Epoch | None] = queue.Queue(maxsize=max_pending)
        # --init latent: img2img starts from the decoder's latent branch (checked here, before anything runs)
        self._from_latents = check_latent_start(generator, decoder)
        check_caption_width(generator, decoder)
        self.stats = Stats()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._infer_failed = threading.Event()  # nobody takes from the queue any more
        self._dropped_since = 0
        self._lock = threading.Lock()
        self.averager = RepeatAverager() if average_repeats else None  # used by the acquisition thread only

    # -- acquisition -------------------------------------------------------------------------------------------
    def _enqueue(self, ep: Epoch) -> None:
        if not self.paced:
            self._put_blocking(ep)
            return
        while True:
            try:
                self.queue.put_nowait(ep)
                return
            except queue.Full:
                try:
                    old = self.queue.get_nowait()
                except queue.Empty:
                    continue
                if old is not None:
                    with self._lock:
                        self.stats.dropped += 1
                        self._dropped_since += 1
                    for s in self.sinks:
                        s.on_skipped(old.marker, "dropped: generation behind the marker rate (newest wins)",
                                     SkipKind.DROPPED)

    def _acquire(self, epocher: Epocher) -> None:
        try:
            finished = False
            while not self._stop.is_set() and not finished:
                res = self.source.read(timeout=0.05)
                finished = res.finished
                self._take(res, epocher)
            if finished:
                self._end("finished")
            drain = getattr(self.source, "drain", None)  # what it held back (eegviz.sources.base.Source)
            if callable(drain):
                self._take(drain(), epocher)
            # Stopped (or finished): every marker still waiting gets its epoch if the window is complete,
            # else a line saying why not.
            self._dispatch(epocher.poll(flush=True, ended=not finished))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, reported there
            self._error = exc
            # every marker received gets its line in results.jsonl, those still waiting for their window too
            # (they had none when the source or the recorder failed); no epoch is cut after an error
            try:
                self._dispatch(epocher.drop_pending("session ended by an error before this epoch was cut",
                                                    SkipKind.ERROR))
            except BaseException:  # noqa: BLE001 - a sink failing too (the same full disk): the first error is reported
                pass
        finally:
            self._put_blocking(None)

    def _say_other_world(self, image_id: str) -> None:
        from eegviz.data.seen_images import other_world_marker_line

        line = other_world_marker_line(image_id, self.world_seeds)
        if line is not None:
            self._told_world = True
            log.warning("%s", line)
            if self.on_notice:
                self.on_notice(line)

    def _take(self, res, epocher: Epocher) -> None:
        """One read's worth: record first (lossless), then show, then cut epochs."""
        if res.gap:
            self.stats.gaps += 1
        for brk in res.breaks:  # before this read's markers and samples: no window may reach it
            epocher.add_break(brk)
        for note in res.notices:
            log.warning("%s", note)
            if self.on_notice:
                self.on_notice(note)
        if self.recorder:
            for off in res.clock_offsets:
                self.recorder.add_clock_offset(off)
        for m in res.markers:
            if self.recorder:
                self.recorder.add_marker(m)  # as sent: the recording is lossless
            if m.payload != stimulus_id(m.payload):
                # an id with stray whitespace (" bell_030\n" from a hand-written sender) or a C string's NUL
                # ("bell_030\0") names the same image: decoded, scored, averaged over repeats and written to
                # results.jsonl as that image's id
                m = replace(m, payload=stimulus_id(m.payload))
            self.stats.markers += 1
            # an empty id, or mne-lsl's PlayerLSL streaming a file's "BAD_blink" or "EDGE boundary" (a replay of the
            # same file leaves them out): decoding it would spend generation time on nothing
            no_image = why_no_image(m.payload)
            if no_image is not None:
                self._count_skipped(SkipKind.NO_ID)
                for s in self.sinks:
                    s.on_skipped(m, no_image, SkipKind.NO_ID)
            else:
                self.truth.prefetch(m.payload)  # its stimulus decodes while the epoch is recorded, off inference
                epocher.add_marker(m)
                if self.world_seeds and not self._told_world:
                    self._say_other_world(m.payload)
            if self.on_marker:
                self.on_marker(m)
        for c in res.chunks:
            if self.recorder:
                self.recorder.add_chunk(c)
            self.stats.samples += len(c.timestamps)
            if self.on_chunk:
                self.on_chunk(c)
        self._dispatch([r for c in res.chunks for r in epocher.add_chunk(c)])

    def _dispatch(self, results) -> None:
        for r in results:
            if r.epoch is None:
                self._count_skipped(r.kind)
                for s in self.sinks:
                    s.on_skipped(r.marker, r.reason, r.kind)
            else:
                self.stats.epochs += 1
                self._enqueue(self.averager.add(r.epoch) if self.averager else r.epoch)

    def _count_skipped(self, kind: SkipKind) -> None:
        """One marker skipped, by kind, under the lock: the acquisition thread (gaps, no id) and the inference
        thread (epochs lost to its error) both count."""
        with self._lock:
            self.stats.skipped += 1
            self.stats.skip_kinds[kind] += 1

    def _put_blocking(self, item: Epoch | None) -> None:
        """Put, waiting for room, unless the inference thread has failed (then nobody will take it). The end
        marker (None) always gets in: normally it waits for room like any epoch, so every epoch cut is still
        generated; after acquisition failed (a full disk, say) it replaces the oldest pending epoch when the
        queue is full, which gets its line, so the inference thread finishes."""
        while True:
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._infer_failed.is_set():
                    if item is not None:
                        self._lose([item])  # nobody will generate it: its line says why
                    return
                if item is None and self._error is not None:
                    try:
                        old = self.queue.get_nowait()
                    except queue.Empty:
                        continue
                    if old is not None:
                        self._lose([old])

    # -- inference ---------------------------------------------------------------------------------------------
    def _process(self, epochs: list[Epoch]) -> None:
        """Decode and generate a batch and hand each result to the sinks. Where that fails (a generator error,
        a full disk under results.jsonl's PNGs), the batch's epochs without their result get their line before
        the error goes up: they had none, and the summary did not count them."""
        try:
            images, decoded, (t0, t1, t2) = self._generate(epochs)
        except BaseException:
            self._lose(epochs)
            raise
        for i, (ep, dec) in enumerate(zip(epochs, decoded)):
            told: list = []
            try:
                self._hand_out(ep, dec, images[i], (t0, t1, t2), len(epochs), told)
            except BaseException:
                self._lose([ep], told=told)
                self._lose(epochs[i + 1:])
                raise

    def _generate(self, epochs: list[Epoch]):
        t0 = time.perf_counter()
        decoded = self.decoder.decode_batch(epochs, latent=self._from_latents)
        t1 = time.perf_counter()
        from_latents = {"latents": np.stack([d.latent for d in decoded])} if self._from_latents else {}
        images = check_images(self.generator.generate(np.stack([d.saliency for d in decoded]),
                                                      np.stack([d.embedding for d in decoded]),
                                                      seed=self._seeds(epochs), **from_latents),
                              len(epochs), self.generator)
        t2 = time.perf_counter()
        return images, decoded, (t0, t1, t2)

    def _hand_out(self, ep: Epoch, dec, image: np.ndarray, times: tuple, n: int, told: list) -> None:
        """One epoch's result (of a batch of n) to every sink; `told` collects the sinks that have it."""
        t0, t1, t2 = times
        timings = {
            "epoch_wait": (ep.t_ready - ep.t_marker_seen) * 1e3,
            "queue": (t0 - ep.t_ready) * 1e3,
            "decode": (t1 - t0) * 1e3 / n,
            "generate": (t2 - t1) * 1e3 / n,
            "epoch_to_image": (t2 - ep.t_ready) * 1e3,
            "marker_to_image": (t2 - ep.t_marker_seen) * 1e3,
        }
        with self._lock:
            dropped, self._dropped_since = self._dropped_since, 0
        shown = self.truth(ep.marker.payload)
        rec = Reconstruction(decoded=dec, image=image, generator=self.generator.name,
                             timings_ms=timings, dropped_before=dropped,
                             true_class=None if shown is None else shown.class_name,
                             init="latent" if self._from_latents else "saliency")
        for s in self.sinks:
            s.on_result(rec, None if shown is None else shown.image)
            if not told:
                self._count_result(timings)
            told.append(s)
        if not self.sinks:
            self._count_result(timings)

    def _count_result(self, timings: dict) -> None:
        """One result made, counted once the first sink has it: the session's writer, where it has one
        (results.jsonl is the first sink), so the summary counts what that file holds. Counted after every sink,
        a --sink failing after the writer had saved the result left the summary one result short of
        results.jsonl, and the result counted as skipped besides."""
        self.stats.results += 1
        self.stats.marker_to_image_ms.append(timings["marker_to_image"])

    def _lose(self, epochs: list[Epoch], told: list = ()) -> None:
        """Give each epoch that will not be generated (the inference side failed) its line, in every sink but
        those in `told` (they have its result), and count it as skipped, so every marker received still has one
        line and the summary adds up. An epoch some sinks have (`told` not empty) was counted as a result
        (_count_result): the sinks after them get their line, and nothing more is counted. A sink that fails again
        (the same full disk) is passed over: the first error is the one raised."""
        for ep in epochs:
            if not told:
                self._count_skipped(SkipKind.ERROR)
            reason = ("session ended by an error before this result reached this sink" if told
                      else "session ended by an error before this epoch was generated")
            for s in self.sinks:
                if any(s is t for t in told):
                    continue
                try:
                    s.on_skipped(ep.marker, reason, SkipKind.ERROR)
                except Exception:  # noqa: BLE001 - see the docstring
                    pass

    def _seeds(self, epochs: list[Epoch]) -> int | list[int]:
        """Each epoch's own index where the generator takes one seed per image (base.Generator.generate), else
        the batch's first (a generator written to `seed: int`)."""
        if getattr(self.generator, "per_image_seeds", False):
            return [ep.index for ep in epochs]
        return epochs[0].index

    def _infer(self) -> None:
        done = False
        while not done:
            item = self.queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                    break
                batch.append(nxt)
            self._process(batch)

    # -- control -----------------------------------------------------------------------------------------------
    def run(self, duration: float | None = None) -> Stats:
        """Open the source and check its channels (sources with open(): files, LSL, BrainFlow), warm up, start
        the source, check it, claim the output, then run until the source finishes, `duration` seconds pass, or
        stop() is called; everything is closed on the way out."""
        with inference_thread_count(self.threads) as n:
            log.debug("inference on %d torch thread(s)", n)
            return self._run(duration)

    def _run(self, duration: float | None) -> Stats:
        """run() without the thread count. The error raised is the session's own where it has one (out of its
        start, or its threads'), else the first that closing it met; every other closing error is logged, each
        once. The raised one was logged as well, so a --sink whose close() failed was said twice."""
        raised = None
        ended = False
        try:
            self._open_and_run(duration)
            ended = True
        finally:
            with stop_deferred():  # a second Ctrl-C while closing used to cost the report, even the contact sheet
                closing = self._close_all()
            if ended and self._error is None and closing:
                raised = closing[0]
            for e in closing:
                if e is raised:
                    continue
                if _same_failure(e, self._error or raised):
                    # a full disk: session.xdf's write failed mid-session, and its close, writing the footers,
                    # failed the same way; "closing the session: ... session.xdf" at ERROR came above the raised
                    # "No space left on device: .../session.xdf", one failure said twice
                    log.debug("closing the session: %s (as the session's own error)", e)
                    continue
                log.error("closing the session: %s", e)
        if self._error:
            raise self._error
        if raised:
            raise raised
        return self.stats

    def _preprocessor(self, info) -> Preprocessor:
        """The Preprocessor for the source's channels, by the session's --montage or their names. Where that is
        refused and the user named no montage, a source that carries its electrodes' positions (a FIF, EEGLAB or
        BrainVision file of an EGI net's E1..E128: MneFileSource.positions_file) is mapped by them instead, with
        a line saying so; where they do no better, the first refusal stands."""
        hint = getattr(self.source, "label_hint", None)  # how its channels get labels, where it labels none
        # --bads names the file itself left out (its info['bads'], or all NaN: MneFileSource says which) are out
        # already; they were refused as "not a channel of the source"
        gone = {str(n).lower() for n in getattr(self.source, "bads_why", None) or ()}
        bads = tuple(b for b in self.bads if b.lower() not in gone)
        try:
            return Preprocessor(self.decoder.spec, info.ch_names, info.sfreq, montage=self.montage, label_hint=hint,
                                bads=bads)
        except EegvizError as refused:
            own = getattr(self.source, "positions_file", None)
            if self.montage is not None or own is None:
                raise
            try:
                pre = Preprocessor(self.decoder.spec, info.ch_names, info.sfreq, montage=str(own), label_hint=hint,
                                   bads=bads)
            except EegvizError:
                raise refused from None
            log.warning("%s: its channel names place too few electrodes on any montage, so they are placed by the "
                        "electrode positions the file carries", info.name)
            return pre

    def _open_and_run(self, duration: float | None) -> None:
        """run()'s steps up to the end of the session; closing is _run's, whichever way this returns."""
        pre = opened = None
        if callable(getattr(self.source, "open", None)):  # its channels are known before it delivers
            self.source.open()
            opened = self.source.info
            pre = self._preprocessor(opened)
        if self.on_warming_up:
            self.on_warming_up()
        self.generator.warmup()
        warm_decoder(self.decoder, self._from_latents)
        if self._stop.is_set():
            return
        self.source.start()
        info = self.source.info
        if pre is None or info != opened:
            if opened is not None and (changed := changed_since_open(opened, info)):
                log.warning("%s", changed)
                if self.on_notice:
                    self.on_notice(changed)
            pre = self._preprocessor(info)  # or one line

        if left := getattr(self.source, "bads_why", None):  # a file's channels its reader left out (info['bads'])
            self._bads_marked({"electrodes": dict(left), "from": "start"})
        if pre.channel_map.bads:  # --bads, in session.json's record of the electrodes marked bad
            self._bads_marked({"electrodes": {n: "--bads" for n in pre.channel_map.bads}, "from": "start",
                               "replaced": list(pre.channel_map.replaced)})
        if self.output is not None:
            self.recorder, results = self.output.open(info)
            self.sinks.insert(0, results)
            self.stats.out_dir = self.output.folder
        if self._stop.is_set():
            return
        if self.on_started:
            self.on_started(info)
        cmap = pre.channel_map
        if (cmap.n_interpolated or cmap.left_out or cmap.bads) and self.on_notice:  # the window says so too
            left = f"; {len(cmap.left_out)} unplaced channel(s) left out ({', '.join(cmap.left_out[:5])})" \
                if cmap.left_out else ""
            bad = f"; marked bad: {', '.join(cmap.bads[:5])}{' ...' if len(cmap.bads) > 5 else ''}" if cmap.bads else ""
            where = f" from the {cmap.source_montage} montage" if cmap.source_montage else ""
            self.on_notice(f"{cmap.n_interpolated} of the model's {len(self.decoder.spec.ch_names)} channels "
                           f"interpolated{where}{left}{bad}")
        # a replay's markers were judged against its EEG when it loaded: its wall time is not the recording's
        judge_clock = not getattr(self.source, "replayed", False)
        # electrodes dead at the start (NaN, flat, railed) are marked bad once the first seconds are in, and those
        # found dead later (Epocher.judge_electrodes) from the epoch they are found at
        epocher = Epocher(pre, info.ch_names, judge_clock=judge_clock, check_electrodes=True, on_notice=self.on_notice,
                          on_bads=self._bads_marked, reject_uv=self.reject_uv)
        self._run_threads(epocher, duration)

    def _bads_marked(self, marking: dict) -> None:
        """Electrodes marked bad (--bads at the start, or found dead by the Epocher), into the session folder's
        session.json and so its report (SessionOutput.add_bads): only the log and the window's notices said so, and
        a lab reading the folder later could not tell which of the model's channels had been interpolated."""
        add = getattr(self.output, "add_bads", None)
        if callable(add):
            add(marking)

    def _close_all(self) -> list[Exception]:
        """Stop the source, then close the recorder and every sink, each whatever the others do: a source or plugin
        whose stop()/close() raises must not leave session.xdf without its footers, results.jsonl open or the report
        unwritten. Returns their errors, in order (_run says them)."""
        errors = []
        closers = [self.stop, self.source.stop, *([self.recorder.close] if self.recorder else []),
                   *(s.close for s in self.sinks), self.truth.close]
        for close in closers:
            try:
                close()
            except Exception as e:  # noqa: BLE001 - every part gets closed; the errors are said after
                errors.append(e)
        return errors

    def _run_threads(self, epocher: Epocher, duration: float | None) -> None:
        acq = threading.Thread(target=self._acquire, args=(epocher,), name="eegviz-acquire", daemon=True)
        inf = threading.Thread(target=self._infer_guarded, name="eegviz-infer", daemon=True)
        acq.start()
        inf.start()
        t_end = time.perf_counter() + duration if duration else None
        try:
            while acq.is_alive():
                acq.join(0.1)
                if stop_asked():  # a `kill PID` whose KeyboardInterrupt Python swallowed (eegviz.stopping)
                    raise KeyboardInterrupt
                if t_end and time.perf_counter() > t_end:
                    self._end("duration")
                    self._stop.set()
            inf.join()
        except KeyboardInterrupt:
            # Ctrl-C ends a headless live session: stop as a duration would, so pending markers still get
            # their lines and the files are closed only once both threads are done with them.
            self.stop()
            with stop_deferred():  # a second Ctrl-C (or SIGTERM) now is said to wait, not obeyed
                acq.join()
                inf.join()
            raise
        finally:
            if self._infer_failed.is_set() and not acq.is_alive():
                self._lose_queued()

    def _lose_queued(self) -> None:
        """The epochs the failed inference thread left in the queue (and those cut after it failed): each gets
        its line. They used to have none, and results.jsonl was short of markers without a word."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._lose([item])

    def _infer_guarded(self) -> None:
        try:
            self._infer()
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            self._infer_failed.set()
            self._stop.set()

    def _end(self, reason: str) -> None:
        """Record why the session ends; the first reason wins (a replay that runs out as its duration does)."""
        with self._lock:
            if not self.stats.ended:
                self.stats.ended = reason

    def stop(self) -> None:
        """End the session early (from any thread); run() returns once both threads are done."""
        self._end("stopped")
        self._stop.set()
