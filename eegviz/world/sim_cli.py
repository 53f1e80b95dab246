"""The simulator's knobs as command-line options (`eegviz simulate`, `eegviz sweep`): one place that maps
options onto eegviz.world.sim_config.SimConfig, so every command that simulates offers the same knobs."""

from __future__ import annotations

# option, SimConfig field, type, help
SIM_OPTIONS = (
    ("--class-snr-db", "class_snr_db", float,
     "class-discriminative SNR in dB: variance across classes of the class-mean response over background "
     "variance, all channels, 0-0.6 s (demo preset: not set, about -10 dB measured; realistic: see README)"),
    ("--jitter-early-ms", "jitter_early_ms", float, "per-trial latency jitter (sd, ms) of C1/P1/N1 (real: ~10-20)"),
    ("--jitter-late-ms", "jitter_late_ms", float, "per-trial latency jitter (sd, ms) of the class components "
                                                  "(real: ~30-80)"),
    ("--amp-sd", "amp_sd", float, "per-trial amplitude variability: gain 1 + AMP_SD * N(0,1) (demo: uniform 0.8-1.2)"),
    ("--exemplar", "exemplar", float, "fraction of the class pattern's variance specific to each image (0-1)"),
    ("--shared-fraction", "shared_fraction", float, "weight of the across-subject class pattern (demo 0.8)"),
    ("--blink-rate", "blink_rate", float, "probability of a blink per trial"),
    ("--emg-rate", "emg_rate", float, "probability of an EMG burst per trial"),
    ("--line-uv", "line_uv", float, "mains interference amplitude (uV), random phase per trial"),
    ("--line-hz", "line_hz", float, "mains frequency in Hz (50 or 60 on real mains; any from 1 to 125)"),
    ("--repeats", "repeats", int, "times each test image is shown (THINGS-EEG2 shows each 80 times)"),
    ("--train-repeats", "train_repeats", int, "times each training/validation image is shown"),
    ("--block-alpha", "block_alpha", float, "confound: sd of log alpha amplitude per recording block"),
    ("--block-line-uv", "block_line_uv", float, "confound: block-locked mains (uV), fixed phase per block"),
)


def add_sim_arguments(sp, preset: str = "demo", hidden: tuple[str, ...] = ()) -> None:
    """--preset (default `preset`) and every knob (default None: the preset's value). Knobs in `hidden` are
    accepted but left out of --help: a command that sets them itself refuses them with a reason (sweep's
    --class-snr-db, which its --help listed beside --snr-db and then refused)."""
    import argparse

    from eegviz.world.sim_config import PRESETS

    sp.add_argument("--preset", default=preset, choices=list(PRESETS),
                    help="demo: the shipped world, far easier than real EEG; realistic: calibrated to published "
                         f"single-trial decoding (knobs below override the preset; default: {preset})")
    for opt, _field, kind, text in SIM_OPTIONS:
        sp.add_argument(opt, type=kind, default=None, help=argparse.SUPPRESS if opt in hidden else text)


def config_from_args(args, **overrides):
    """The SimConfig the options ask for (a one-line EegvizError for impossible values)."""
    from eegviz.world.sim_config import make_config

    knobs = {field: getattr(args, field, None) for _opt, field, _k, _t in SIM_OPTIONS}
    knobs.update(overrides)
    return make_config(getattr(args, "preset", "demo") or "demo", **knobs)
