"""The simulator's knobs (eegviz.world.sim_config) do what they say, and the demo preset is the old world."""

import json

import numpy as np
import pytest

from eegviz.data.synthetic import load_dataset, simulate_dataset
from eegviz.errors import EegvizError
from eegviz.world.eeg_sim import EEGSimulator
from eegviz.world.sim_config import DEMO, make_config
from eegviz.world.stimuli import make_spec, stimulus_set


def test_demo_preset_draws_exactly_the_old_trials():
    """The demo world as it was written before the knobs: background for all trials, then evoked times a
    uniform 0.8-1.2 gain per trial from the same generator; class patterns weighted exactly 0.8 / 0.2."""
    specs = stimulus_set(2, seed=0)[:12]
    sim = EEGSimulator(subject=1, config=DEMO)
    got = sim.epochs(specs, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    want = sim.background(175, rng, n_trials=len(specs))
    for i, spec in enumerate(specs):
        want[i, :, 25:] += (sim.gain @ sim.source_waveforms(spec)).astype(np.float32)[:, :150] * rng.uniform(0.8, 1.2)
    np.testing.assert_array_equal(got, want)
    shared, own = np.random.default_rng([0, 12345]), np.random.default_rng([0, 777, 1])
    np.testing.assert_array_equal(sim.class_pattern, 0.8 * shared.standard_normal((40, 16))
                                  + 0.2 * own.standard_normal((40, 16)))


def _between_over_background(signal_minus_noise, noise, labels):
    """Independent of the simulator's meter: class-mean variance / background variance over 0-0.6 s."""
    w = slice(25, 175)
    means = np.stack([signal_minus_noise[labels == c][:, :, w].mean(0) for c in np.unique(labels)])
    between = ((means - means.mean(0)) ** 2).mean()
    return 10 * np.log10(between / noise[:, :, w].var(0, ddof=1).mean())


@pytest.mark.parametrize("db", [-20.0, -8.0])
def test_class_snr_is_what_was_asked(tmp_path, db):
    """The same seeds with the signal off give the same background, so the difference is the evoked part."""
    cfg = make_config("realistic", class_snr_db=db, repeats=1, blink_rate=0.0, emg_rate=0.0, line_uv=0.0)
    a = load_dataset(simulate_dataset(tmp_path / "a", subjects=1, n_per_class=5, config=cfg))
    b = load_dataset(simulate_dataset(tmp_path / "b", subjects=1, n_per_class=5, config=cfg, signal=0.0))
    measured = _between_over_background(a.eeg - b.eeg, b.eeg, a.labels)
    recorded = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert abs(measured - db) < 1.0, measured
    assert abs(recorded["class_snr_db"] - db) < 0.5 and recorded["sim"]["class_snr_db"] == db
    assert recorded["sim"]["jitter_late_ms"] == cfg.jitter_late_ms  # every knob recorded


def _peak_latencies(sim, spec, part, rows, n=60):
    rng = np.random.default_rng(0)
    lat = []
    for _ in range(n):
        rest, cls = sim.trial_parts(spec, rng)
        x = (cls if part == "class" else rest)[rows]
        lat.append(np.argmax((x ** 2).sum(0)) / sim.sfreq)
    return np.std(lat)


def test_latency_jitter_widens_the_latency_spread():
    spec = make_spec(3, 0)
    still = EEGSimulator(config=make_config("demo", class_snr_db=-10.0))
    jittery = EEGSimulator(config=make_config("demo", class_snr_db=-10.0, jitter_early_ms=15, jitter_late_ms=60))
    late_rows = slice(None)
    early_rows = np.argsort(-np.abs(still.gain[:, still.idx["lo_L"]]))[:8]
    assert _peak_latencies(still, spec, "class", late_rows) < 0.002
    assert 0.04 < _peak_latencies(jittery, spec, "class", late_rows) < 0.09
    assert _peak_latencies(still, spec, "rest", early_rows) < 0.002
    assert 0.008 < _peak_latencies(jittery, spec, "rest", early_rows) < 0.025


def test_exemplars_of_a_class_differ_and_subject_share_follows_the_knob():
    a, b = make_spec(2, 0), make_spec(2, 1)
    same = EEGSimulator(config=make_config("demo", class_snr_db=-10.0))
    varied = EEGSimulator(config=make_config("demo", class_snr_db=-10.0, exemplar=0.5))
    assert same.exemplar_patterns(a) is None
    pa, pb = varied.exemplar_patterns(a)[0], varied.exemplar_patterns(b)[0]
    assert np.corrcoef(pa, pb)[0, 1] < 0.9 and np.corrcoef(pa, varied.class_pattern[2])[0, 1] > 0.4

    def cross_subject_corr(f):
        p0 = EEGSimulator(subject=0, config=make_config("demo", shared_fraction=f)).class_pattern
        p1 = EEGSimulator(subject=1, config=make_config("demo", shared_fraction=f)).class_pattern
        return np.corrcoef(p0.ravel(), p1.ravel())[0, 1]

    assert cross_subject_corr(0.9) > 0.9 > 0.5 > cross_subject_corr(0.3)


def test_repeats_show_each_test_image_n_times(tmp_path):
    cfg = make_config("demo", repeats=4, train_repeats=2)
    ds = load_dataset(simulate_dataset(tmp_path / "r", subjects=1, n_per_class=10, config=cfg))
    for split, n in (("test", 4), ("train", 2), ("val", 2)):
        idx = ds.subset(split)
        _, counts = np.unique([f"{s}/{i}" for s, i in zip(ds.subjects[idx], ds.image_ids[idx])], return_counts=True)
        assert set(counts.tolist()) == {n}, split
    assert len(ds.labels) == 40 * (8 * 2 + 1 * 2 + 1 * 4)


def test_artefacts_land_where_they_should(tmp_path):
    from eegviz.world.artefacts import frontal_weights

    base = make_config("demo")
    clean = load_dataset(simulate_dataset(tmp_path / "c", subjects=1, n_per_class=2, config=base))
    art = make_config("demo", blink_rate=1.0, line_uv=10.0, line_hz=60.0)
    dirty = load_dataset(simulate_dataset(tmp_path / "d", subjects=1, n_per_class=2, config=art))
    extra = dirty.eeg - clean.eeg  # artefacts have their own random stream: the rest is unchanged
    w = frontal_weights(clean.ch_names)
    front, back = np.argsort(-w)[:5], np.argsort(w)[:5]
    assert extra[:, front].std() > 5 * extra[:, back].std()  # blinks are frontal
    spec = np.abs(np.fft.rfft(extra[:, back], axis=-1)).mean((0, 1))
    f = np.fft.rfftfreq(extra.shape[-1], 1 / 250)
    assert abs(f[np.argmax(spec[1:]) + 1] - 60) < 2  # at the back what is left is the mains
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert meta["artefacts"]["blinks"] == len(clean.labels)


def test_bad_knobs_are_one_line_errors():
    with pytest.raises(EegvizError, match="exemplar"):
        make_config("demo", exemplar=1.5)
    with pytest.raises(EegvizError, match="preset"):
        make_config("hard")
    with pytest.raises(EegvizError, match="repeats"):
        make_config("demo", repeats=0)
    for knob in ("block_alpha", "class_snr_db", "amp_sd", "line_uv", "jitter_early_ms"):  # "nan" / "inf" parse
        with pytest.raises(EegvizError, match=f"--{knob.replace('_', '-')} must be a finite number"):
            make_config("demo", **{knob: float("nan")})
    with pytest.raises(EegvizError, match="--jitter-late-ms must be a finite number, got inf"):
        make_config("demo", jitter_late_ms=float("inf"))
    with pytest.raises(EegvizError, match="--class-snr-db must be at most 40"):  # +60 dB wrote inf, exit 0
        make_config("demo", class_snr_db=60.0)


def test_a_dataset_too_big_for_memory_is_refused_before_its_folder_exists(tmp_path):
    """--repeats 100000 asked for 209 GiB and ended in a MemoryError traceback, leaving an empty folder."""
    with pytest.raises(EegvizError, match=r"4000000 simulated trials would need about \d+ GiB"):
        simulate_dataset(tmp_path / "big", subjects=1, n_per_class=1, config=make_config("demo", repeats=100000))
    assert not (tmp_path / "big").exists()


def test_too_many_images_are_refused_from_the_counts_before_any_stimulus_is_drawn(tmp_path, monkeypatch):
    """--images 200000 drew stimuli for minutes, memory growing, before the check could run (found by review)."""
    import eegviz.world.stimuli as stimuli
    from eegviz.data.synthetic import trial_count, trial_list

    drawn = []
    monkeypatch.setattr(stimuli, "stimulus_set", lambda *a, **k: drawn.append(a) or [])
    with pytest.raises(EegvizError, match=r"80000000 simulated trials would need about \d+ GiB"):
        simulate_dataset(tmp_path / "big", subjects=1, n_per_class=2_000_000)
    assert drawn == [] and not (tmp_path / "big").exists()
    monkeypatch.undo()
    configs = ((1, DEMO), (7, make_config("demo", repeats=3)), (25, make_config("demo", repeats=4, train_repeats=2)))
    for n, cfg in configs:
        assert trial_count(n, 40, cfg) == len(trial_list(stimulus_set(n, seed=0), n, cfg)[0])


def test_block_confounds_differ_between_blocks_and_a_notch_removes_the_mains(tmp_path):
    """Block-locked mains: the same waveform in every trial of a block (so it survives averaging and baseline
    correction), a different one in each block; a 60 Hz notch takes it out. Block alpha: power per block."""
    from eegviz.stream.preprocess import notch

    kw = dict(subjects=1, n_per_class=4, design="block", signal=0.0)
    clean = load_dataset(simulate_dataset(tmp_path / "c", config=make_config("demo"), **kw))

    def confound(**knobs):
        folder = tmp_path / "_".join(knobs)  # a new folder each: simulate never writes into a used one
        ds = load_dataset(simulate_dataset(folder, config=make_config("demo", **knobs), **kw))
        return (ds.eeg - clean.eeg).astype(np.float64), ds.blocks

    extra, b = confound(block_line_uv=5.0, line_hz=60.0)
    ev = {k: extra[b == k].mean(0) for k in np.unique(b)[:6]}  # block-averaged confound
    corr = np.corrcoef(ev[0].ravel(), ev[1].ravel())[0, 1]
    assert np.abs(ev[0]).max() > 1e-6 and abs(corr) < 0.9  # present, and not the same in two blocks
    assert np.abs(notch(extra, 250.0, 60.0)[b == 0].mean(0)).max() < 0.05 * np.abs(ev[0]).max()
    extra, b = confound(block_alpha=1.0)
    power = [extra[b == k].var() for k in np.unique(b)]
    assert max(power) > 2 * min(power)  # alpha power differs between blocks


def test_a_class_snr_below_the_worlds_floor_is_said(tmp_path, caplog):
    """The rest of the response differs between classes too, so with the class components off the world still
    measures a class SNR: a request below it was simulated at that floor without a word (a sweep's levels below
    it came out as one point, the live simulator streamed it while the window said the lower value). A dataset
    warns and records the floor it measured; the live simulator refuses, naming the least it can do."""
    from eegviz.sources.simulator import SimulatorSource

    cfg = make_config("realistic", class_snr_db=-80.0)
    with caplog.at_level("WARNING", logger="eegviz.data.synthetic"):
        simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3, config=cfg)
    (warning,) = [r.getMessage() for r in caplog.records if "below the least" in r.getMessage()]
    floor = float(warning.split("reaches (")[1].split(" dB")[0])
    assert -40 < floor < -20 and "class SNR -80 dB" in warning
    recorded = json.loads((tmp_path / "d" / "dataset.json").read_text())["class_snr_db"]
    assert abs(recorded - floor) < 1.5  # what the dataset really is, near the floor the warning named
    with pytest.raises(EegvizError, match=r"class SNR -80 dB is below .*; choose -\d+(\.\d)? dB or more") as e:
        SimulatorSource(n_per_class=3, config=make_config("demo", class_snr_db=-80.0))
    assert "\n" not in str(e.value)
    assert SimulatorSource(n_per_class=3, config=make_config("demo", class_snr_db=-24.0)).sim.class_gain > 0


@pytest.mark.parametrize("opt, said", [
    ("--jitter-early-ms=-5", "--jitter-early-ms must be >= 0, got -5"),
    ("--shared-fraction=1.5", "--shared-fraction must be in [0, 1], got 1.5"),
    ("--amp-sd=nan", "--amp-sd must be a finite number, got nan"),
])
def test_a_bad_knob_is_named_as_the_option_given(tmp_path, capsys, opt, said):
    """They were named as SimConfig's fields ("simulator option jitter_early_ms must be >= 0, got -5.0"), names
    the user never typed, where --class-snr-db, --repeats and --line-hz were named as options."""
    from eegviz.cli import main

    assert main(["simulate", "--out", str(tmp_path / "x"), opt]) == 2
    err = capsys.readouterr().err
    assert err == f"eegviz: error: {said}\n" and not (tmp_path / "x").exists()
