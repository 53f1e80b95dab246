"""The built-in simulator as a live Source: continuous EEG paced in real time, one marker per stimulus onset.

Payloads are stimulus ids of the synthetic world, so the true stimulus is known and shown. `speed` > 1 runs
faster than real time (timestamps still advance at the nominal rate), for tests and soak runs. `config`
(eegviz.world.sim_config.SimConfig) sets the simulator's knobs; with class_snr_db the class components are
scaled to that SNR when the source is made (the window's SNR control), and blinks, EMG bursts and mains go
into the continuous stream at the config's rates (eegviz.world.artefacts.add_continuous_artefacts), drawn
from a random stream of their own so a config without artefacts streams exactly what it always did.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pylsl

from eegviz.messages import Chunk, Marker, StreamInfo
from eegviz.sources.base import ReadResult
from eegviz.world.artefacts import add_continuous_artefacts, line_topography


SIM_STREAM = "eegviz-sim"  # the simulated EEG's stream name by default


class SimulatorSource:
    def __init__(self, subject: int = 0, sfreq: float = 250.0, soa: float = 0.75, jitter: float = 0.1,
                 n_per_class: int = 50, seed: int = 0, speed: float = 1.0, n_trials: int | None = None,
                 chunk_s: float = 0.02, image_ids: list[str] | None = None, block_s: float = 10.0,
                 config=None, name: str = SIM_STREAM):
        """name: the stream's name (and its source_id's stem: eegviz-sim-0 for subject 0), which
        `eegviz simulate --stream --name` sets so that two simulators can stream side by side."""
        from eegviz.world.eeg_sim import EEGSimulator

        self.sim = EEGSimulator(subject=subject, sfreq=sfreq, seed=seed, config=config)
        self.info = StreamInfo(name, self.sim.ch_names, sfreq, source_id=f"{name}-{subject}")
        self.soa, self.jitter, self.speed, self.n_trials = soa, jitter, speed, n_trials
        self.chunk = max(1, int(round(chunk_s * sfreq)))
        self.block = int(block_s * sfreq)
        self.rng = np.random.default_rng([seed, subject, 99])
        if image_ids is None:
            from eegviz.world.stimuli import stimulus_set

            image_ids = [s.image_id for s in stimulus_set(n_per_class, seed=seed)]
        self.image_ids = list(image_ids)
        if self.sim.config.class_snr_db is not None:
            self.calibrate(self.sim.config.class_snr_db)
            if short := self.sim.below_class_snr_floor(self.sim.config.class_snr_db):
                # refused: it streamed the floor while the window's SNR box (or the command line) said the
                # lower value, and a live session has no dataset.json to record the SNR it really had
                from eegviz.errors import EegvizError

                raise EegvizError(f"{short}; choose {math.ceil(self.sim.class_snr_floor_db * 10) / 10:g} dB "
                                  "or more")
        self.artefact_counts = {"blinks": 0, "emg_bursts": 0}

    def calibrate(self, snr_db: float, n_specs: int = 400) -> float:
        """Scale the class components to a class-discriminative SNR of snr_db (eegviz.world.sim_config),
        measured on up to n_specs of this source's stimuli; returns the class gain."""
        from eegviz.world.stimuli import spec_from_id

        step = max(1, len(self.image_ids) // n_specs)
        specs = [spec_from_id(i) for i in self.image_ids[::step]]
        return self.sim.calibrate_class_snr(snr_db, specs, np.random.default_rng([self.sim.seed, 97]))

    def start(self) -> None:
        from eegviz.world.stimuli import spec_from_id

        self.specs = [spec_from_id(i) for i in self.image_ids]
        self.t0_clock = pylsl.local_clock()
        self.t0_perf = time.perf_counter()
        self.sent = 0  # samples delivered
        self.buf = np.zeros((len(self.info.ch_names), 0), np.float32)
        self.buf_start = 0  # sample index of buf[:, 0]
        self.carry = np.zeros((len(self.info.ch_names), 0), np.float32)  # evoked tails spilling into next block
        self.next_onset = 0.5
        self.trials = 0
        self.pending: list[Marker] = []
        self.end_sample = None
        self.artefact_rng = np.random.default_rng([self.sim.seed, self.sim.subject, 98])
        self.line_topo = line_topography(len(self.info.ch_names), self.artefact_rng)

    def _extend(self) -> None:
        """Simulate the next block: background + responses to the stimuli whose onsets fall in it."""
        sf = self.info.sfreq
        start = self.buf_start + self.buf.shape[1]
        x = self.sim.background(self.block, self.rng)
        x[:, : self.carry.shape[1]] += self.carry[:, : self.block]
        carry = np.zeros((x.shape[0], self.sim.n_evoked), np.float32)
        carry[:, : max(0, self.carry.shape[1] - self.block)] = self.carry[:, self.block :]
        while (self.n_trials is None or self.trials < self.n_trials) and self.next_onset * sf < start + self.block:
            spec = self.specs[int(self.rng.integers(len(self.specs)))]
            s = int(round(self.next_onset * sf)) - start
            ev = self.sim.trial_signal(spec, self.rng)
            inside = min(self.block - s, ev.shape[1])
            x[:, s : s + inside] += ev[:, :inside]
            carry[:, : ev.shape[1] - inside] += ev[:, inside:]
            self.pending.append(Marker(self.t0_clock + (start + s) / sf, spec.image_id, self.info.name))
            self.trials += 1
            if self.n_trials is not None and self.trials == self.n_trials:
                self.end_sample = start + s + int(1.0 * sf)
            self.next_onset += self.soa + self.rng.uniform(0, self.jitter)
        self.carry = carry
        counts = add_continuous_artefacts(x, self.sim.config, self.info.ch_names, sf, start / sf,
                                          1.0 / (self.soa + self.jitter / 2), self.artefact_rng, self.line_topo)
        for k, v in counts.items():
            self.artefact_counts[k] += v
        self.buf = np.concatenate([self.buf, x], axis=1)

    def read(self, timeout: float = 0.05) -> ReadResult:
        sf = self.info.sfreq
        elapsed = (time.perf_counter() - self.t0_perf) * self.speed
        due = int(elapsed * sf)
        if self.end_sample is not None:
            due = min(due, self.end_sample)
        at_end = self.end_sample is not None and due >= self.end_sample
        if due - self.sent < self.chunk and not (at_end and due > self.sent):
            wait = (self.sent + self.chunk - due) / sf / self.speed
            time.sleep(min(timeout, max(0.0, wait)))
            return ReadResult(finished=self.end_sample is not None and self.sent >= self.end_sample)
        if not at_end:
            due = self.sent + (due - self.sent) // self.chunk * self.chunk
        while self.buf_start + self.buf.shape[1] < due:
            self._extend()
        a, b = self.sent - self.buf_start, due - self.buf_start
        data = self.buf[:, a:b]
        times = self.t0_clock + np.arange(self.sent, due) / sf
        chunks = [Chunk(data[:, i : i + self.chunk].T.copy(), times[i : i + self.chunk], self.info.name)
                  for i in range(0, data.shape[1], self.chunk)]
        markers = [m for m in self.pending if m.timestamp <= times[-1]]
        self.pending = [m for m in self.pending if m.timestamp > times[-1]]
        self.sent = due
        drop = self.sent - self.buf_start
        if drop > self.block:
            self.buf, self.buf_start = self.buf[:, drop:], self.buf_start + drop
        return ReadResult(chunks, markers, finished=self.end_sample is not None and self.sent >= self.end_sample)

    def stop(self) -> None:
        pass
