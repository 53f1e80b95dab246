"""The `eegviz` command. Every user-caused failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from pathlib import Path

from eegviz.errors import EegvizError


def _lsl_confined_default() -> None:
    """Use the project's loopback-only liblsl config unless the user chose one."""
    from eegviz.paths import project_root

    cfg = project_root() / "lsl_api.cfg"
    if "LSLAPICFG" not in os.environ and cfg.exists():
        os.environ["LSLAPICFG"] = str(cfg)


# -- running a session -------------------------------------------------------------------------------------------
def run_session(source, args, title: str, paced: bool) -> int:
    from eegviz.decoders.two_branch import TwoBranchDecoder
    from eegviz.paths import default_model_dir
    from eegviz.pipeline import Pipeline
    from eegviz.plugins import get
    from eegviz.record.results import ResultsWriter

    model_dir = Path(args.model or default_model_dir())
    decoder = TwoBranchDecoder.load(model_dir)
    gen_cls = get("generators", args.generator)
    generator = gen_cls(model_dir=model_dir) if args.generator == "embedded" else gen_cls.from_cli(args)
    source.start()
    sinks, recorder = [], None
    if args.out:
        from eegviz.record.xdf_writer import SessionRecorder

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        recorder = SessionRecorder(out / "session.xdf", source.info)
        sinks.append(ResultsWriter(out))
    if args.headless:
        pipe = Pipeline(source, decoder, generator, sinks, recorder=recorder, paced=paced)
        stats = pipe.run(duration=getattr(args, "duration", None))
        _summary(stats, args.out)
        return 0
    return _run_window(source, decoder, generator, sinks, recorder, paced, args, title)


def _summary(stats, out) -> None:
    import numpy as np

    lat = [t["marker_to_image"] for t in stats.latencies]
    p = f", marker->image p50 {np.percentile(lat, 50):.0f} ms p95 {np.percentile(lat, 95):.0f} ms" if lat else ""
    print(f"eegviz: {stats.markers} markers, {stats.results} reconstructions, {stats.dropped} dropped, "
          f"{stats.skipped} skipped{p}" + (f"; results in {out}" if out else ""))


def _run_window(source, decoder, generator, sinks, recorder, paced, args, title) -> int:
    from PySide6 import QtCore, QtWidgets

    from eegviz.app.window import MainWindow, QtBridge
    from eegviz.pipeline import Pipeline

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    win = MainWindow(source.info, kiosk=getattr(args, "kiosk", False), title=title)
    bridge = QtBridge()
    win.connect_bridge(bridge)

    class WindowSink:
        def on_result(self, rec, stimulus):
            bridge.reconstruction.emit(rec, stimulus)

        def on_skipped(self, marker, reason):
            bridge.status.emit({"skipped": marker.payload})

        def close(self):
            pass

    pipe = Pipeline(source, decoder, generator, sinks + [WindowSink()], recorder=recorder, paced=paced,
                    on_chunk=bridge.chunk.emit, on_marker=bridge.marker.emit)
    errors: list[BaseException] = []

    def work():
        try:
            stats = pipe.run(duration=getattr(args, "duration", None))
            _summary(stats, args.out)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        bridge.finished.emit()

    worker = threading.Thread(target=work, daemon=True)
    if getattr(args, "kiosk", False):
        win.show_kiosk()
    else:
        win.resize(1280, 860)
        win.show()
    worker.start()
    if getattr(args, "screenshot", None):
        def shoot():
            win.save_screenshot(args.screenshot)
            app.quit()
        bridge.finished.connect(lambda: QtCore.QTimer.singleShot(500, shoot))
    app.exec()
    pipe.stop()
    worker.join(5)
    if errors:
        raise errors[0]
    return 0


# -- commands ------------------------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from eegviz.paths import demo_recording
    from eegviz.sources.xdf import XdfReplaySource

    path = demo_recording()
    if not path.exists():
        raise EegvizError(f"demo recording missing at {path}; reinstall eegviz or run `eegviz simulate --demo`")
    src = XdfReplaySource(path, speed=args.speed)
    return run_session(src, args, "eegviz demo", paced=args.speed > 0)


def cmd_replay(args) -> int:
    from eegviz.sources.xdf import XdfReplaySource

    src = XdfReplaySource(args.file, speed=args.speed, eeg_stream=args.stream, marker_stream=args.markers)
    return run_session(src, args, f"eegviz replay {Path(args.file).name}", paced=args.speed > 0)


def cmd_live(args) -> int:
    from eegviz.plugins import get

    if args.board is not None:
        src = get("sources", "brainflow")(board_id=args.board, marker_lsl_name=args.markers)
    elif args.simulate:
        src = get("sources", "simulator")()
    else:
        src = get("sources", "lsl")(stream_name=args.stream, marker_name=args.markers)
    return run_session(src, args, "eegviz live", paced=True)


def cmd_simulate(args) -> int:
    if args.stream:
        from eegviz.sources.lsl_outlet import LslOutlets, stream_source
        from eegviz.sources.simulator import SimulatorSource

        src = SimulatorSource(subject=args.subject, seed=args.seed)
        src.start()
        outlets = LslOutlets(src.info, marker_name=args.markers)
        print(f"eegviz: streaming '{src.info.name}' ({src.info.n_channels} ch, {src.info.sfreq:g} Hz) and markers "
              f"'{args.markers}' on LSL; Ctrl-C stops")
        try:
            stream_source(src, outlets, duration=args.duration)
        except KeyboardInterrupt:
            pass
        return 0
    if args.demo:
        from eegviz.world.demo import make_demo_recording

        path = make_demo_recording(Path(args.out), seed=args.seed)
        print(f"eegviz: wrote {path}")
        return 0
    if not args.out:
        raise EegvizError("simulate needs --out DIR (a dataset) or --stream (LSL outlets)")
    from eegviz.data.synthetic import simulate_dataset

    path = simulate_dataset(Path(args.out), subjects=args.subjects, n_per_class=args.images, seed=args.seed)
    print(f"eegviz: wrote dataset to {path}")
    return 0


def cmd_train(args) -> int:
    from eegviz.train.run import train_all

    train_all(Path(args.data), Path(args.out), epochs=args.epochs, gan_steps=args.gan_steps,
              refine_steps=args.refine_steps,
              gen_steps=args.gen_steps, seed=args.seed)
    return 0


def cmd_eval(args) -> int:
    from eegviz.eval.report import evaluate

    metrics = evaluate(Path(args.data), Path(args.model), Path(args.out))
    print(json.dumps(metrics["headline"], indent=1))
    return 0


def cmd_bench(args) -> int:
    from eegviz.bench import run_bench

    result = run_bench(device=args.device, n=args.n, model_dir=args.model)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


def cmd_plugins(args) -> int:
    from eegviz.plugins import GROUPS, available

    for group in GROUPS:
        print(f"{group}:")
        for name, where in sorted(available(group).items()):
            print(f"  {name:12s} {where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eegviz", description="Reconstruct what a person sees from their EEG, live.")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)

    def session_opts(sp, speed_default=1.0):
        sp.add_argument("--model", help="model folder (default: models/synthetic-default)")
        sp.add_argument("--generator", default="embedded", help="generator plugin (default: embedded)")
        sp.add_argument("--headless", action="store_true", help="no window; write results to --out")
        sp.add_argument("--out", help="folder for results.jsonl, PNGs and session.xdf")
        sp.add_argument("--kiosk", action="store_true", help="full-screen demo mode")
        sp.add_argument("--screenshot", help="save a PNG of the window when the session ends, then quit")
        sp.add_argument("--sd-model", help="diffusers model id or folder (generator 'diffusers')")
        sp.add_argument("--steps", type=int, default=1)

    d = sub.add_parser("demo", help="replay the bundled demo recording through the whole pipeline")
    session_opts(d)
    d.add_argument("--speed", type=float, default=1.0, help="replay speed; 0 = as fast as possible")
    d.set_defaults(fn=cmd_demo)

    r = sub.add_parser("replay", help="replay an XDF recording")
    r.add_argument("file")
    session_opts(r)
    r.add_argument("--speed", type=float, default=1.0)
    r.add_argument("--stream", help="EEG stream name in the file")
    r.add_argument("--markers", help="marker stream name in the file")
    r.set_defaults(fn=cmd_replay)

    lv = sub.add_parser("live", help="decode a live LSL or BrainFlow stream")
    session_opts(lv)
    lv.add_argument("--stream", help="LSL EEG stream name (default: first of type EEG)")
    lv.add_argument("--markers", help="LSL marker stream name")
    lv.add_argument("--board", type=int, help="BrainFlow board id (-1 = synthetic board)")
    lv.add_argument("--simulate", action="store_true", help="use the built-in simulator in-process")
    lv.add_argument("--duration", type=float, help="stop after S seconds")
    lv.set_defaults(fn=cmd_live)

    s = sub.add_parser("simulate", help="write a synthetic dataset, or stream the simulator on LSL")
    s.add_argument("--out", help="dataset folder")
    s.add_argument("--subjects", type=int, default=2)
    s.add_argument("--images", type=int, default=50, help="images per class")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--subject", type=int, default=0, help="simulated subject for --stream")
    s.add_argument("--stream", action="store_true", help="publish EEG + markers as LSL outlets")
    s.add_argument("--markers", default="eegviz-markers", help="marker outlet name for --stream")
    s.add_argument("--duration", type=float, help="stop streaming after S seconds")
    s.add_argument("--demo", action="store_true", help="write the demo recording (demo.xdf) into --out")
    s.set_defaults(fn=cmd_simulate)

    t = sub.add_parser("train", help="train the decoder and the embedded generator")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--gan-steps", type=int, default=1500)
    t.add_argument("--refine-steps", type=int, default=3000, help="saliency refinement steps (SSIM + L1)")
    t.add_argument("--gen-steps", type=int, default=1500)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("eval", help="evaluate a model on a dataset's test split")
    e.add_argument("--data", required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.set_defaults(fn=cmd_eval)

    b = sub.add_parser("bench", help="latency/throughput/memory benchmark (JSON)")
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--out")
    b.add_argument("--n", type=int, default=200, help="epochs to time")
    b.add_argument("--model")
    b.set_defaults(fn=cmd_bench)

    pl = sub.add_parser("plugins", help="list sources, generators and sinks")
    pl.set_defaults(fn=cmd_plugins)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("pyxdf").setLevel(logging.ERROR)  # LabRecorder-file chatter, not the user's problem
    _lsl_confined_default()
    try:
        return args.fn(args)
    except EegvizError as exc:
        print(f"eegviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eegviz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
