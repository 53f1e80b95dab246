"""Sinks named on the command line or in a config file: `--sink NAME[:ARGS]`.

Any sink registered in the eegviz.sinks entry-point group, or by a plugin module, can be switched on this
way - built-ins and plugins alike. NAME picks the sink; the text after the first ':' goes to the sink's
from_spec(text) (the OSC plugin reads HOST:PORT from it); a sink without arguments is built with no arguments.
A sink is anything with on_result(rec, stimulus), on_skipped(marker, reason) and close().
"""

from __future__ import annotations

from eegviz.errors import EegvizError

SINK_METHODS = ("on_result", "on_skipped", "close")


def make_sink(spec: str):
    from eegviz.plugins import get

    name, sep, rest = spec.partition(":")
    cls = get("sinks", name.strip())
    if sep and hasattr(cls, "from_spec"):
        sink = cls.from_spec(rest)
    elif sep and rest:
        raise EegvizError(f"--sink {spec}: sink '{name}' takes no arguments (it has no from_spec)")
    else:
        try:
            sink = cls()
        except TypeError as e:
            raise EegvizError(f"--sink {spec}: sink '{name}' needs arguments ({e})") from None
    missing = [m for m in SINK_METHODS if not callable(getattr(sink, m, None))]
    if missing:
        raise EegvizError(f"sink '{name}' is not a sink: it lacks {', '.join(missing)}")
    return sink


def make_sinks(specs) -> list:
    """Sinks for every spec; if one fails, the ones already built are closed before the error goes up."""
    sinks = []
    try:
        for spec in specs or ():
            sinks.append(make_sink(spec))
    except BaseException:
        for s in sinks:
            s.close()
        raise
    return sinks
