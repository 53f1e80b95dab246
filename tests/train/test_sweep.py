"""`eegviz sweep` end to end on a tiny setting, and `eegviz eval` curves / --no-reconstructions."""

import json

import pytest

from eegviz.cli import main
from eegviz.data.synthetic import simulate_dataset
from eegviz.world.sim_config import make_config


@pytest.fixture
def stand_in_decoder(monkeypatch):
    """Replace the sweep's decoder training by a decoder that names class 0 for every trial (for tests of what a
    sweep records, not of training); stop_at=k raises KeyboardInterrupt as the k-th level starts training."""
    import numpy as np

    from eegviz.eval.curves import spec_for
    from eegviz.train import decoder as decoder_module

    class Constant:
        def forward(self, x):
            n = len(x)
            return {"scores": np.tile(np.eye(40)[0], (n, 1)), "saliency": np.zeros((n, 32, 32, 3)),
                    "embedding": np.zeros((n, 1, 4))}

    def use(stop_at: int | None = None):
        trained = []

        def train_decoder(ds, **kw):
            trained.append(1)
            if len(trained) == stop_at:
                raise KeyboardInterrupt
            dec = Constant()
            dec.spec = spec_for(ds)
            return dec, {}

        monkeypatch.setattr(decoder_module, "train_decoder", train_decoder)

    return use


def test_sweep_writes_curves_and_plot(tmp_path, capsys):
    from eegviz.train.sweep import MIN_IMAGES

    out = tmp_path / "sweep"  # at the smallest --images the sweep accepts: it trains
    assert main(["sweep", "--snr-db=-3", "--out", str(out), "--images", str(MIN_IMAGES), "--repeats", "2",
                 "--epochs", "1", "--gan-steps", "1"]) == 0
    res = json.loads((out / "curves.json").read_text())
    assert [r["snr_db"] for r in res["levels"]] == [-3.0]
    for r in res["levels"]:
        assert abs(r["class_snr_db_measured"] - r["snr_db"]) < 1.5
        for who in ("decoder", "probe"):
            assert [p["repeats"] for p in r[who]] == [1, 2]
            assert all(0 <= p["ci_low"] <= p["top1"] <= p["ci_high"] <= 1 for p in r[who])
    assert {a["name"] for a in res["anchors"]} == {"NICE", "ATM", "UBP"}
    assert "different task" in res["anchors_note"]
    assert res["sim"]["jitter_late_ms"] == make_config("realistic").jitter_late_ms  # the sweep's default preset
    assert res["sim"]["class_snr_db"] == "per level (levels[].snr_db)"  # not the preset's, which no level used
    assert (out / "curves.png").stat().st_size > 10_000
    assert not any(p.name.startswith("data_") for p in out.iterdir())  # levels' data removed by default
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("-3 dB (measured ") and "decoder 1x " in printed[0] and "curves.json" in printed[-1]
    assert "chance 0.025" in printed[-1]  # what the printed figures are to be held against


def test_the_printed_level_line_gives_each_point_its_interval():
    """A level's printed figures were bare ("decoder 1x 0.037, 2x 0.062"): at sweep sizes each one's interval spans
    about +-0.07, so a difference the intervals do not support read as a gain. Each point now has its interval."""
    from eegviz.train.sweep import level_line

    pt = lambda k, a, lo, hi: {"repeats": k, "top1": a, "ci_low": lo, "ci_high": hi}
    row = {"snr_db": -10.0, "class_snr_db_measured": -9.53, "decoder": [pt(1, 0.0375, 0.0087, 0.1473),
                                                                         pt(2, 0.0625, 0.0196, 0.1821)],
           "probe": [pt(1, 0.044, 0.011, 0.156)]}
    assert level_line(row) == ("-10 dB (measured -9.5): decoder 1x 0.037 [0.009, 0.147], 2x 0.062 [0.020, 0.182]; "
                               "probe 1x 0.044 [0.011, 0.156]")


def test_sweep_plot_draws_several_levels(tmp_path):
    from eegviz.train.sweep import ANCHOR_NOTE, ANCHORS, plot_sweep

    pt = lambda k, a: {"repeats": k, "top1": a, "ci_low": a / 2, "ci_high": min(1, a * 1.5)}
    levels = [{"snr_db": d, "class_snr_db_measured": d + 0.1, "decoder": [pt(1, a), pt(8, 2 * a)],
               "probe": [pt(1, a / 2)]} for d, a in ((-20, 0.05), (-10, 0.2), (0, 0.4))]
    plot_sweep({"task": "t", "chance": 0.025, "levels": levels, "anchors": list(ANCHORS),
                "anchors_note": ANCHOR_NOTE}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_sweep_bad_levels_are_one_line(tmp_path, capsys):
    assert main(["sweep", "--snr-db=-12,loud", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--snr-db" in err


@pytest.mark.parametrize("opt, name", [
    (["--average-augment", "2"], "--average-augment"),
    (["--images", "2"], "--images"),  # no training images left: KMeans failed on 0 samples after simulating
    (["--seed", "-1"], "--seed"),  # was a numpy traceback
    (["--gan-steps", "-1"], "--gan-steps"),  # was accepted
    (["--epochs", "0"], "--epochs"),
    (["--subjects", "0"], "--subjects"),
    (["--snr-db=-10,-10.0", "--keep-data"], "--snr-db"),  # one folder for two levels
    (["--snr-db=-20,,-10"], "empty level"),  # the empty item was skipped without a word
    (["--snr-db=-3,50"], "at most 40 dB"),  # was refused by the simulator after -3 dB had trained
    (["--class-snr-db=-30"], "--class-snr-db"),  # was ignored without a word: --snr-db sets each level's
    # was refused by the first level's simulation, in the new folder; then named --repeats, which a sweep has not
    (["--images", "1000000"], "GiB of memory, more than this machine's"),
])
def test_sweep_refuses_bad_options_before_writing(tmp_path, capsys, monkeypatch, opt, name):
    import eegviz.data.synthetic

    def simulated(*a, **k):
        raise AssertionError("the sweep simulated before checking its options")

    monkeypatch.setattr(eegviz.data.synthetic, "simulate_dataset", simulated)
    out = tmp_path / "s"
    args = ["sweep", "--snr-db=-10", "--out", str(out), "--images", "3"]
    assert main(args + opt) == 2
    err = capsys.readouterr().err
    assert err.startswith("eegviz: ") and err.count("\n") == 1 and name in err
    assert "--repeats" not in err  # an option of `eegviz simulate`, not of the sweep
    assert not out.exists()  # a refused run leaves nothing, so the corrected rerun is accepted


def test_sweep_help_does_not_offer_the_class_snr_it_refuses(capsys):
    """sweep --help listed --class-snr-db among the simulator's knobs, and sweep refuses it (--snr-db sets each
    level's); it is left out of the help, and still refused with that reason."""
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = capsys.readouterr().out
    assert "--snr-db" in text and "--class-snr-db" not in text and "--jitter-late-ms" in text


def test_sweep_minimum_images_is_the_split_rule():
    """MIN_IMAGES is the smallest number of images per class whose simulated dataset has every split."""
    from eegviz.data.synthetic import trial_list
    from eegviz.train.sweep import MIN_IMAGES
    from eegviz.world.stimuli import stimulus_set

    cfg = make_config("demo")
    splits = lambda n: set(trial_list(stimulus_set(n), n, cfg)[1])
    assert splits(MIN_IMAGES) == {"train", "val", "test"}
    assert "train" not in splits(MIN_IMAGES - 1)


class _MustNotRun:
    name = "must-not-run"

    def generate(self, *a, **k):
        raise AssertionError("--no-reconstructions must not call the generator")


def test_eval_reports_the_repetition_curve_without_reconstructions(tmp_path):
    from eegviz.eval.report import evaluate
    from eegviz.paths import default_model_dir

    # the shipped decoder (read, not written) on images it never saw (seed 2): the curve and the skipped
    # reconstructions are what is checked, and training a decoder for it here cost ~10 s of fits
    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=5, seed=2, config=make_config("demo", repeats=4))
    m = evaluate(data, default_model_dir(), tmp_path / "report", controls=False, generator=_MustNotRun(),
                 reconstructions=False)
    assert "--no-reconstructions" in m["reconstruction"]["skipped"]
    curve = m["curves"]["repetitions"]
    assert [p["repeats"] for p in curve] == [1, 2, 4] and [p["n"] for p in curve] == [160, 80, 40]
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["curves"]["repetitions"] == curve


def test_eval_no_reconstructions_builds_no_generator(tmp_path, monkeypatch, capsys):
    """`eegviz eval --no-reconstructions` still built (loaded and warmed) the model's pipeline, in cmd_eval and
    again in evaluate, for an evaluation that makes no image."""
    import eegviz.eval.report as report
    from eegviz.paths import default_model_dir

    def must_not_build(*a, **k):
        raise AssertionError("--no-reconstructions must not build a generator")

    monkeypatch.setattr(report, "eval_generator", must_not_build)
    data = simulate_dataset(tmp_path / "d", subjects=1, n_per_class=3, seed=2, config=make_config("demo"))
    assert main(["eval", "--data", str(data), "--model", str(default_model_dir()), "--out", str(tmp_path / "r"),
                 "--no-reconstructions", "--no-controls"]) == 0, capsys.readouterr().err
    assert "--no-reconstructions" in json.loads((tmp_path / "r" / "metrics.json").read_text())["reconstruction"][
        "skipped"]


def test_simulate_cli_records_preset_and_knobs(tmp_path):
    out = tmp_path / "ds"
    assert main(["simulate", "--out", str(out), "--subjects", "1", "--images", "2", "--preset", "realistic",
                 "--class-snr-db=-10", "--repeats", "1", "--line-hz", "60"]) == 0
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["sim"]["class_snr_db"] == -10 and meta["sim"]["line_hz"] == 60
    assert meta["sim"]["exemplar"] == make_config("realistic").exemplar  # the preset's other knobs
    assert abs(meta["class_snr_db"] + 10) < 1.5


@pytest.mark.parametrize("opt", [["--exemplar", "2"], ["--repeats", "0"], ["--line-hz", "200"]])
def test_simulate_cli_bad_knob_is_one_line(tmp_path, capsys, opt):
    assert main(["simulate", "--out", str(tmp_path / "x"), "--images", "2"] + opt) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_sweep_without_repetitions_gives_both_single_trial_points_their_units(tmp_path, stand_in_decoder):
    """Without repeated test images the decoder's single-trial point lacked n_images (the probe's, beside it,
    had one): curves.json's rows did not all say how many (subject, image) units their interval counts. The
    decoder is a stand-in here (training is not what is checked)."""
    from eegviz.train.sweep import run_sweep

    stand_in_decoder()
    res = run_sweep(tmp_path / "s", [-3.0], make_config("realistic", repeats=1), subjects=2, n_per_class=3)
    (level,) = res["levels"]
    for who in ("decoder", "probe"):
        (point,) = level[who]
        assert point["n"] == point["n_images"] == 80, (who, point)


def test_sweep_records_its_seed(tmp_path, stand_in_decoder):
    """curves.json named the simulator's knobs, subjects and images but not the seed (the world's and training's):
    a sweep on --seed 3 could not be told from one on seed 0, nor made again from its own record. The decoder is
    a stand-in (training is not what is checked)."""
    from eegviz.train.sweep import run_sweep

    stand_in_decoder()
    run_sweep(tmp_path / "s", [-3.0], make_config("realistic", repeats=1), n_per_class=3, seed=3)
    res = json.loads((tmp_path / "s" / "curves.json").read_text())
    assert res["seed"] == 3
    assert res["training"]["text_encoder"] == "minilm"


def test_a_stopped_sweep_keeps_the_levels_it_finished(tmp_path, stand_in_decoder, capsys):
    """curves.json and curves.png were written once, after the last level: a sweep stopped during its last level
    (Ctrl-C, a job's time limit) lost every level it had finished, and the rerun into its --out was refused
    without saying that a sweep does not resume. Now both are written after each level, the levels not run are
    listed, and the refusal says so; the stopped level's data is removed as a finished one's is. The decoder is a
    stand-in (training is not what is checked)."""
    from eegviz.train.sweep import run_sweep

    stand_in_decoder(stop_at=2)  # stopped while the second level trains
    out = tmp_path / "s"
    done = []  # each level's row as it is written: the command printed the figures only after the last level
    with pytest.raises(KeyboardInterrupt):
        run_sweep(out, [-3.0, -6.0, -9.0], make_config("realistic", repeats=1), n_per_class=3, on_level=done.append)
    assert [r["snr_db"] for r in done] == [-3.0]
    res = json.loads((out / "curves.json").read_text())
    assert [r["snr_db"] for r in res["levels"]] == [-3.0] and res["levels_not_run"] == [-6.0, -9.0]
    assert (out / "curves.png").stat().st_size > 10_000
    # the stopped level's simulated data went too (no --keep-data): it stayed in --out, whole or partial
    assert not any(p.name.startswith("data_") for p in out.iterdir())
    assert main(["sweep", "--snr-db=-6,-9", "--out", str(out)]) == 2
    assert "a sweep does not resume" in capsys.readouterr().err


def test_the_sweep_figure_says_what_it_was_measured_on(tmp_path, monkeypatch):
    """curves.png named the task and the anchors but not the seed, the data's size, the training or the levels
    asked for (its x axis is the measured SNR): shown on its own it could not be told from another sweep's, and
    its chance line gave no value."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from eegviz.train.sweep import ANCHOR_NOTE, ANCHORS, plot_sweep

    texts = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (texts.extend(t.get_text() for t in fig.findobj(Text)), close(fig)))
    pt = {"repeats": 1, "top1": 0.1, "ci_low": 0.05, "ci_high": 0.2}
    levels = [{"snr_db": d, "class_snr_db_measured": d + 0.4, "decoder": [pt], "probe": [pt]} for d in (-20, -10)]
    plot_sweep({"task": "t", "chance": 0.025, "levels": levels, "anchors": list(ANCHORS), "anchors_note": ANCHOR_NOTE,
                "seed": 3, "subjects": 1, "n_per_class": 20,
                "training": {"epochs": 4, "gan_steps": 50, "average_augment": 0.5}}, tmp_path / "c.png")
    shown = "\n".join(texts)
    for needle in ("seed 3", "1 subject(s) x 20 images per class", "decoder 4 epochs, average-augment 0.5",
                   "levels asked -20, -10 dB", "chance (0.025)"):
        assert needle in shown, (needle, shown)


def test_the_sweep_figure_draws_each_curve_in_snr_order(tmp_path, monkeypatch):
    """Each curve was drawn in the order the levels were asked: `--snr-db=0,-20,-10` gave a line from 0 dB
    straight to -20 dB, past the -10 dB point, and a self-crossing interval band. The points go in x order."""
    import matplotlib.pyplot as plt

    from eegviz.train.sweep import ANCHOR_NOTE, ANCHORS, plot_sweep

    drawn = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (drawn.extend(
        list(line.get_xdata()) for line in fig.axes[0].get_lines() if line.get_label().startswith("decoder")),
        close(fig)))
    pt = lambda a: {"repeats": 1, "top1": a, "ci_low": a / 2, "ci_high": a * 1.5}
    levels = [{"snr_db": d, "class_snr_db_measured": d + 0.3, "decoder": [pt(a)], "probe": [pt(a)]}
              for d, a in ((0, 0.4), (-20, 0.05), (-10, 0.2))]
    plot_sweep({"task": "t", "chance": 0.025, "levels": levels, "anchors": list(ANCHORS), "anchors_note": ANCHOR_NOTE},
               tmp_path / "c.png")
    assert drawn == [pytest.approx([-19.7, -9.7, 0.3])]


def test_a_one_level_sweep_figure_shows_its_intervals(tmp_path, monkeypatch):
    """The intervals were drawn as bands between levels only: a sweep of one level (one x) drew its points with
    no interval at all, under a y axis that says "95% CI". One level's intervals are error bars."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from eegviz.train.sweep import ANCHOR_NOTE, ANCHORS, plot_sweep

    bars = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (bars.extend(
        [tuple(map(tuple, seg)) for seg in c.get_segments()] for c in fig.axes[0].collections
        if isinstance(c, LineCollection)), close(fig)))
    pt = lambda a: {"repeats": 1, "top1": a, "ci_low": a / 2, "ci_high": a * 1.5}
    levels = [{"snr_db": -10, "class_snr_db_measured": -9.5, "decoder": [pt(0.2)], "probe": [pt(0.1)]}]
    plot_sweep({"task": "t", "chance": 0.025, "levels": levels, "anchors": list(ANCHORS), "anchors_note": ANCHOR_NOTE},
               tmp_path / "c.png")
    segments = [seg for group in bars for seg in group]
    for lo, hi in ((0.1, 0.3), (0.05, 0.15)):  # the decoder's interval and the probe's
        assert any(seg[0][0] == seg[1][0] == -9.5 and sorted((seg[0][1], seg[1][1])) == pytest.approx([lo, hi])
                   for seg in segments), segments
