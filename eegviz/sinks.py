"""Sinks named on the command line or in a config file: `--sink NAME[:ARGS]`.

Any sink registered in the eegviz.sinks entry-point group, or by a plugin module, can be switched on this
way - built-ins and plugins alike. NAME picks the sink; the text after the first ':' goes to the sink's
from_spec(text) (the OSC plugin reads HOST:PORT from it); a sink without arguments is built with no arguments.
A sink may also offer check_spec(text), which refuses bad arguments (EegvizError) without opening anything: a
session asks it before its model loads.
A sink is anything with on_result(rec, stimulus), on_skipped(marker, reason, kind) and close() (eegviz.pipeline.Sink).
It may also offer set_notice(say): a window's session hands it a function that puts a one-line notice (a target
that cannot be reached) in the window's message line and notices list, where its log lines were never seen.
"""

from __future__ import annotations

import logging
import time

from eegviz.errors import EegvizError, one_line, os_error_line

SINK_METHODS = ("on_result", "on_skipped", "close")
# how a session calls them (eegviz.pipeline), checked when a sink is built (eegviz.plugins.miscalled)
SINK_CALLS = {"on_result": (2, (), "on_result(rec, stimulus)"),
              "on_skipped": (3, (), "on_skipped(marker, reason, kind)"), "close": (0, (), "close()")}
SLOW_SINK_S = 0.25  # a --sink call this long is said (NamedSink._note_slow): an embedded image takes ~0.1-0.3 s
# built-in sinks a session switches on itself, which `eegviz plugins` lists but --sink cannot build: what to use
OTHER_WAY = {"headless": "it is the writer --out DIR switches on (results.jsonl, PNGs and the report, beside "
                         "session.xdf): give --out DIR"}


def sink_class(spec: str):
    """The class `--sink spec` names, refused in one line where no sink can be built from it. Building one may
    open a socket or a file, so a session checks its specs with this before its model loads or its window opens:
    a mistyped name was said only after the model had loaded (seconds; in the window, once it was open)."""
    from eegviz.plugins import get

    name, sep, rest = spec.partition(":")
    if name.strip() in OTHER_WAY:
        # `--sink headless` said "missing argument 'out_dir'", and `--sink headless:DIR` then "takes no arguments"
        raise EegvizError(f"--sink {spec}: sink '{name.strip()}' cannot be built from the command line; "
                          f"{OTHER_WAY[name.strip()]}")
    try:
        cls = get("sinks", name.strip())
    except EegvizError:
        from eegviz.plugins import available

        known = available("sinks")
        if name.strip() in known:  # it is there but failed to import: get's own line
            raise
        # get's list named every registered sink, the headless writer too, which --sink then refused
        usable = ", ".join(sorted(n for n in known if n not in OTHER_WAY)) or "none"
        raise EegvizError(f"--sink {spec}: no sink named '{name.strip()}' (available: {usable}; results.jsonl "
                          f"and PNGs come with --out DIR)") from None
    if sep and rest and not hasattr(cls, "from_spec"):
        raise EegvizError(f"--sink {spec}: sink '{name}' takes no arguments (it has no from_spec)")
    check = getattr(cls, "check_spec", None)
    if sep and callable(check):
        # the sink's own check of its arguments (the OSC plugin's port and host), which opens nothing: a bad port
        # was refused only when the sink was built, after the model had loaded
        try:
            check(rest)
        except EegvizError:
            raise
        except (Exception, SystemExit) as e:  # noqa: BLE001 - a plugin's own failure is one line naming it
            raise EegvizError(f"--sink {spec}: sink '{name}' failed to check its arguments ({one_line(e)})") from e
    return cls


def make_sink(spec: str):
    name, sep, rest = spec.partition(":")
    cls = sink_class(spec)
    try:
        sink = cls.from_spec(rest) if sep and hasattr(cls, "from_spec") else cls()
    except EegvizError:
        raise
    except TypeError as e:
        raise EegvizError(f"--sink {spec}: sink '{name}' cannot be built from the command line ({e})") from None
    except (Exception, SystemExit) as e:  # noqa: BLE001 - one line naming it, as a failed import is
        raise EegvizError(f"--sink {spec}: sink '{name}' failed to build ({one_line(e)})") from e
    from eegviz.plugins import lacking, miscalled

    missing = lacking(sink, SINK_METHODS)
    wrong = [] if missing else miscalled(sink, SINK_CALLS)
    if missing or wrong:
        # what it opened (an OSC socket, a log file) is closed, where it can be: a refused sink was left open,
        # one more with each Start in the window; and the refusal names its --sink, as every other one does
        if callable(getattr(sink, "close", None)):
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001 - the refusal is the error said
                logging.getLogger(__name__).debug("closing the refused --sink %s: %s", spec, e)
        if missing:
            raise EegvizError(f"--sink {spec}: sink '{name.strip()}' is not a sink: it lacks {', '.join(missing)}")
        raise EegvizError(f"--sink {spec}: sink '{name.strip()}' cannot take the session's calls: {'; '.join(wrong)}")
    return NamedSink(sink, spec)


class NamedSink:
    """A sink switched on with --sink, whose own failure while the session runs (a bug in a plugin's on_result or
    close) ends the session in one line naming it, as its failing to build does; it ended in a traceback, and in
    the window as a bare "RuntimeError: ..." that named no sink. EegvizError (the sink's own words) is said after
    the --sink it came from, and OSError (a full disk) with the system's reason and its path: both passed
    unchanged, and "No space left on device: /data/x.log" named no sink (a source or generator plugin's are said
    so too: eegviz.plugins.Named). The traceback goes to the debug log (--log-level debug)."""

    def __init__(self, sink, spec: str):
        self.sink, self.spec = sink, spec
        self._slow_said = False
        self._say = None  # set_notice's function: the window's notices (None: the log alone)

    def _call(self, method: str, *args) -> None:
        t0 = time.perf_counter()
        try:
            getattr(self.sink, method)(*args)
            self._note_slow(method, time.perf_counter() - t0)
        except EegvizError as e:
            if str(e).startswith(f"--sink {self.spec}"):  # it names itself already
                raise
            raise EegvizError(f"--sink {self.spec}: {e}") from e
        except (Exception, SystemExit) as e:  # noqa: BLE001 - the plugin's own failure (a sys.exit() too)
            logging.getLogger(__name__).debug("--sink %s failed in %s()", self.spec, method, exc_info=True)
            why = os_error_line(e) if isinstance(e, OSError) else one_line(e)
            raise EegvizError(f"--sink {self.spec}: sink '{self.spec.partition(':')[0].strip()}' failed in "
                              f"{method}() ({why})") from e

    def _note_slow(self, method: str, seconds: float) -> None:
        """A sink is called in the session's own threads (results from generation, skips from acquisition), so
        one that takes long holds everything behind it: later images come late and a live session drops epochs
        as "generation behind the marker rate". That was said nowhere; the first slow call is, once, naming the
        sink (a sink that must be slow hands its work to a thread of its own)."""
        if seconds < SLOW_SINK_S or method == "close" or self._slow_said:
            return
        self._slow_said = True
        text = (f"--sink {self.spec}: sink '{self.spec.partition(':')[0].strip()}' took {seconds * 1e3:.0f} ms in "
                f"{method}(); the session waits for its sinks, so later results wait too (a live session drops "
                f"epochs behind it); later slow calls are not reported")
        logging.getLogger(__name__).warning("%s", text)
        if self._say is not None:
            self._say(text)

    def set_notice(self, say) -> None:
        """Say this sink's notices with say(text) as well as in the log: its slowness, and whatever the sink
        itself says through its own set_notice, if it has one (named after this --sink). A window's session
        calls this: the log went to a terminal its user never looked at, so a slow sink, or an OSC target that
        could not be reached, was never known there."""
        self._say = say
        if say is not None and callable(getattr(self.sink, "set_notice", None)):
            prefix = f"--sink {self.spec}: "
            self._call("set_notice", lambda text: say(text if str(text).startswith(prefix) else prefix + str(text)))

    def on_result(self, rec, stimulus=None) -> None:
        self._call("on_result", rec, stimulus)

    def on_skipped(self, marker, reason: str, kind) -> None:
        self._call("on_skipped", marker, reason, kind)

    def close(self) -> None:
        self._call("close")

    def __getattr__(self, name: str):
        if name == "sink":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.sink, name)  # anything else the sink offers (OscSink's client), as before


def make_sinks(specs) -> list:
    """Sinks for every spec; if one fails, the ones already built are closed (close_sinks: each whatever the
    others do, a failing close logged) before its error goes up. One of them failing to close used to raise its
    own error instead, which hid why the session could not start, and left the sinks after it open."""
    sinks = []
    try:
        for spec in specs or ():
            sinks.append(make_sink(spec))
    except BaseException:
        close_sinks(sinks)
        raise
    return sinks


def close_sinks(sinks) -> None:
    """Close sinks a session built but never ran (its pipeline was refused: --init latent with a model that has no
    latent branch), each whatever the others do; the session's own error is the one said, a failing close is
    logged. Only a running pipeline closed them, so each refused start left their sockets and files open (in the
    window, one more with every Start)."""
    for s in sinks:
        try:
            s.close()
        except Exception as e:  # noqa: BLE001 - see the docstring
            logging.getLogger(__name__).error("closing the session's sinks: %s", e)


class ProgressSink:
    """A progress bar over a session's markers on a terminal (off when stderr is not one, e.g. in CI logs).

    total() is asked once the session runs: a replay knows how many markers its file holds, a live stream
    does not (the bar then counts up without an end).
    """

    def __init__(self, total=lambda: None, desc: str = "eegviz"):
        self._total, self.desc, self.bar = total, desc, None

    def _tick(self) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self._total(), desc=self.desc, unit="marker", disable=None, leave=False)
        self.bar.update(1)

    def on_result(self, rec, stimulus=None) -> None:
        self._tick()

    def on_skipped(self, marker, reason: str, kind) -> None:
        self._tick()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
