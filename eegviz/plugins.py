"""Plugin registry: sources, generators and sinks by name.

Built-ins are declared as entry points in pyproject.toml, exactly like third-party plugins, so there is one
lookup path. Modules in a plugins folder may also register with `register(group, name, obj)` at import time.

Which folders: the project's own plugins/ (eegviz.paths.project_root(), home of the first-party examples), the
folders in $EEGVIZ_PLUGINS and those given with `eegviz --plugins DIR` (both may list several, separated by
os.pathsep). Never the current working directory by itself: importing a module runs it, and running
`eegviz` inside a downloaded dataset or someone else's checkout must not execute whatever plugins/ folder
happens to lie there. A folder is imported only because its owner named it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import Iterable

from eegviz.errors import EegvizError, one_line, os_error_line

GROUPS = ("sources", "generators", "sinks")
ENV = "EEGVIZ_PLUGINS"
_extra: dict[str, dict[str, object]] = {g: {} for g in GROUPS}
_origin: dict[str, dict[str, str]] = {g: {} for g in GROUPS}  # group -> name -> the plugin file that registered it
_dirs_loaded: set[str] = set()
_user_dirs: list[Path] = []  # from the command line (--plugins)
_shadow_said: set[tuple[str, str, str]] = set()  # another package's entry point under a built-in's name, said
_importing: Path | None = None  # the plugin file load_plugin_dir is running, which register() calls come from


class _NameTaken(EegvizError):
    """register() refused a name; its message names both plugins, so it is not wrapped again."""


def register(group: str, name: str, obj: object) -> None:
    """Make `obj` the plugin `name` of `group`.

    A name belongs to one plugin: a name a built-in (an entry point) or another plugin file already has is
    refused, naming both. Letting the last one win would silently replace it, and `eegviz demo` would then fail
    on a class that is not the one the user meant, far from the cause. A file registering a name again (its
    folder imported anew) is not a clash."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; one of {GROUPS}")
    origin = str(_importing) if _importing else f"module {getattr(obj, '__module__', '?')}"
    kind = group[:-1]
    installed = next((ep for ep in entry_points(group=f"eegviz.{group}") if ep.name == name), None)
    if installed is not None:
        owner = "the built-in" if _is_builtin(installed) else f"{_package(installed)}'s installed plugin"
        raise _NameTaken(f"plugin {origin} registers {kind} '{name}', the name of {owner} {installed.value}; "
                         "register it under another name")
    earlier = _origin[group].get(name, "?")
    if name in _extra[group] and earlier != origin:
        raise _NameTaken(f"plugin {origin} registers {kind} '{name}', which plugin {earlier} registered already; "
                         "rename one of them")
    _extra[group][name] = obj
    _origin[group][name] = origin


def _split(entries: Iterable[str | Path]) -> list[Path]:
    return [Path(part) for e in entries for part in str(e).split(os.pathsep) if part.strip()]


def set_plugin_dirs(dirs: Iterable[str | Path] | None) -> None:
    """The folders the user named on the command line (each entry may hold several, os.pathsep-separated).

    Checked here, at start-up, so a mistyped folder is an error instead of plugins silently missing later.
    """
    named = _split(dirs or [])
    missing = [str(d) for d in named if not d.is_dir()]
    if missing:
        raise EegvizError(f"--plugins folder(s) {', '.join(missing)} do not exist or are not folders")
    _user_dirs[:] = named


def plugin_dirs() -> list[Path]:
    """Every folder plugins are imported from, in order: the project's plugins/, $EEGVIZ_PLUGINS, --plugins."""
    from eegviz.paths import project_root

    env = _split([os.environ.get(ENV, "")])
    missing = [str(d) for d in env if not d.is_dir()]
    if missing:
        raise EegvizError(f"{ENV} names folder(s) {', '.join(missing)} that do not exist or are not folders")
    out, seen = [], set()
    root = project_root()
    # The project's own plugins/ only in a source tree (pyproject.toml beside it): installed into
    # site-packages, project_root() is site-packages, whose plugins/ may be any other package's code.
    own = [root / "plugins"] if (root / "pyproject.toml").is_file() or os.environ.get("EEGVIZ_HOME") else []
    for d in [*own, *env, *_user_dirs]:
        key = str(d.resolve())
        if key not in seen and d.is_dir():
            seen.add(key)
            out.append(d)
    return out


def load_plugin_dir(path: Path | str | None = None) -> None:
    """Import every plugin module in `path`, or, when None, in every folder of plugin_dirs()."""
    global _importing
    if path is None:
        for d in plugin_dirs():
            load_plugin_dir(d)
        return
    path = Path(path)
    key = str(path.resolve())
    if key in _dirs_loaded or not path.is_dir():
        return
    _dirs_loaded.add(key)
    tag = hashlib.sha1(key.encode()).hexdigest()[:8]
    for file in sorted(path.glob("*.py")):
        if file.name.startswith(("_", "test_", "conftest")):
            continue
        name = f"eegviz_plugin_{file.stem}"
        if name in sys.modules:  # a same-named module from another folder must not replace that one
            name = f"eegviz_plugin_{tag}_{file.stem}"
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        outer, _importing = _importing, file
        try:
            spec.loader.exec_module(module)
        except _NameTaken:
            del sys.modules[spec.name]
            raise
        # a broken plugin is the user's file: say which, in one line. SystemExit too: a plugin calling sys.exit()
        # at import would otherwise end eegviz with that code and no word (`eegviz plugins` exiting 0, silent)
        except (Exception, SystemExit) as e:
            del sys.modules[spec.name]
            raise EegvizError(f"plugin {file} failed to import ({one_line(e)})") from None
        finally:
            _importing = outer


def lacking(obj, methods: Iterable[str]) -> list[str]:
    """Those of `methods` that `obj` has no callable for: a plugin is checked when it is built (a source, a
    generator, a sink), so that one lacking part of its protocol is refused in one line naming it, not found by an
    AttributeError traceback once the session runs."""
    return [m for m in methods if not callable(getattr(obj, m, None))]


def miscalled(obj, calls: dict[str, tuple[int, tuple[str, ...], str]]) -> list[str]:
    """Those of `calls` (method -> (positional arguments, keyword arguments, the call as shown)), as a session makes
    them, that `obj`'s method cannot take, each as "METHOD(ITS SIGNATURE) is called as CALL". A sink's on_skipped
    written without `kind`, or a generate() without `seed`, was found only at the first skipped marker or image:
    minutes into a live session, which then ended. A method whose signature Python cannot tell is taken as fit."""
    found = []
    for method, (n_args, keywords, shown) in calls.items():
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        try:
            sig.bind(*([None] * n_args), **dict.fromkeys(keywords))
        except TypeError:
            found.append(f"{method}{sig} is called as {shown}")
    return found


def _is_builtin(ep) -> bool:
    """Whether an entry point is eegviz's own (pyproject.toml), not another installed package's."""
    dist = getattr(ep, "dist", None)
    if dist is not None and getattr(dist, "name", None):
        return dist.name.replace("_", "-").lower() == "eegviz"
    return ep.value.startswith("eegviz.")


def _package(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"package {dist.name}" if dist is not None and getattr(dist, "name", None) else "an installed package"


def _entry_point(group: str, name: str):
    """The one entry point `name` of `group` means, or None.

    Two installed packages may declare the same name, and importlib lists both. Taking whichever came first (as
    get() did, while `eegviz plugins` showed whichever came last) let another package's plugin named 'lsl' or
    'headless' replace the built-in without a word, and the listing named the built-in meanwhile. A built-in's
    name stays the built-in's, and the other package's entry is said not to be used; two other packages sharing a
    name leave no right choice, so that is refused naming both."""
    found = [ep for ep in entry_points(group=f"eegviz.{group}") if ep.name == name]
    if len(found) <= 1:
        return found[0] if found else None
    kind = group[:-1]
    builtin = [ep for ep in found if _is_builtin(ep)]
    if len(builtin) == 1:
        for ep in found:
            # once per process: a session looks its plugins up more than once (checked before its model loads,
            # built after), and said the same line each time
            if ep is not builtin[0] and (group, name, ep.value) not in _shadow_said:
                _shadow_said.add((group, name, ep.value))
                logging.getLogger("eegviz.plugins").warning(
                    "%s's %s plugin '%s' (%s) is not used: '%s' is the built-in %s's name", _package(ep), kind,
                    name, ep.value, name, builtin[0].value)
        return builtin[0]
    raise EegvizError(f"{kind} '{name}' is declared by more than one installed package ("
                      + ", ".join(f"{_package(ep)}: {ep.value}" for ep in found)
                      + "); uninstall one of them")


def available(group: str) -> dict[str, str]:
    """name -> where it comes from (an entry point value, or the plugin file that registered it)."""
    load_plugin_dir()
    found = {}
    for name in dict.fromkeys(ep.name for ep in entry_points(group=f"eegviz.{group}")):
        try:
            found[name] = _entry_point(group, name).value
        except EegvizError as e:  # two packages' entries: listed as such, so `eegviz plugins` shows the clash
            found[name] = f"(not usable: {e})"
    # a plugin file's registration by its file: the module name it is imported under (eegviz_plugin_osc_sink,
    # eegviz_plugin_1a2b3c4d_same for a second same.py) is eegviz's alias, found on no disk and importable by no one
    found.update({n: f"{_where(group, n, o)}:{getattr(o, '__name__', type(o).__name__)}"
                  for n, o in _extra[group].items()})
    return found


def _where(group: str, name: str, obj: object) -> str:
    origin = _origin[group].get(name, "")
    return origin if origin.endswith(".py") else getattr(obj, "__module__", "?")


def get(group: str, name: str):
    """The plugin `name` of `group`. An installed plugin that fails to import (a missing dependency, a bug) is
    one line naming it and its package, as a plugin file is (load_plugin_dir), not a traceback."""
    load_plugin_dir()
    if name in _extra[group]:
        return _extra[group][name]
    ep = _entry_point(group, name)
    if ep is not None:
        try:
            return ep.load()
        except (Exception, SystemExit) as e:
            raise EegvizError(f"{group[:-1]} plugin '{name}' ({ep.value}, {_package(ep)}) failed to import "
                              f"({one_line(e)})") from None
    names = ", ".join(sorted(available(group))) or "none"
    raise EegvizError(f"no {group[:-1]} named '{name}' (available: {names})")


def origin(group: str, name: str) -> str | None:
    """Where the plugin `name` of `group` comes from, for session.json: an installed package's entry point with
    that package's name and version, a plugin file with the SHA-256 of its text (a plugin folder is edited in
    place, so its path alone does not tell two versions apart); None for eegviz's own built-ins and for a name
    nothing has. A session run on a third-party generator was recorded as "generator: NAME" alone, which said
    neither what NAME was nor which version drew the images."""
    if name in _extra[group]:
        where = _origin[group].get(name, "")
        obj = _extra[group][name]
        label = getattr(obj, "__name__", type(obj).__name__)
        if not where.endswith(".py"):
            return f"{where}:{label}"
        try:
            digest = hashlib.sha256(Path(where).read_bytes()).hexdigest()[:16]
        except OSError:  # gone since it was imported: the path alone
            return f"{where}:{label}"
        return f"{where}:{label} (sha256 {digest})"
    try:
        ep = _entry_point(group, name)
    except EegvizError:
        return None
    if ep is None or _is_builtin(ep):
        return None
    dist = getattr(ep, "dist", None)
    version = getattr(dist, "version", None) if dist is not None else None
    return f"{ep.value} ({_package(ep)}{' ' + version if version else ''})"


def is_eegviz_own(obj) -> bool:
    """Whether `obj`'s class is eegviz's own code (a module of the eegviz package), not a plugin's: a built-in
    failing is eegviz's bug and keeps its traceback; a plugin failing is said in one line naming it (Named)."""
    module = getattr(type(obj), "__module__", "") or ""
    return module == "eegviz" or module.startswith("eegviz.")


class Named:
    """A source or generator plugin whose own failure while the session runs (a bug in its read() once started, in
    generate() after warm-up) ends the session in one line naming it, as a sink plugin's does (eegviz.sinks
    .NamedSink) and as its failing to build already did; it ended `eegviz replay/live/demo` in a traceback into
    the plugin's file, and the window in a bare "ValueError: ..." that named no plugin. The pipeline still gives
    every marker received its line (eegviz.pipeline). EegvizError (the plugin's own words) is said as it is, after
    the plugin's name, and OSError (a device gone, a file it cannot read) with the system's reason and its path:
    both passed unchanged, so "eegviz: error: No such device: /dev/ttyUSB0" named no plugin, and a plugin's own
    refusal read as eegviz's. A sys.exit() in the plugin (SystemExit) is its failure too: it ended eegviz with the
    plugin's exit code and not a word, 0 included, as an import's did (load_plugin_dir). The traceback goes to the
    debug log (--log-level debug).

    Everything else is the plugin's own, looked up on it each time (a source's `info`, set by start(); a
    generator's `name`; a property of it that fails is one line too), and a method it lacks stays lacking (a session asks `callable(getattr(src, "drain",
    None))`). Only plugins are wrapped (wrap()): eegviz's own sources and generators failing are its bugs, whose
    traceback must stay."""

    _own = ("_plugin", "_label", "_methods", "_checks", "_slow", "_slow_said", "_defaults")

    def __init__(self, plugin, label: str, methods: Iterable[str], checks: dict | None = None,
                 slow: dict[str, tuple[float, str]] | None = None, defaults: dict | None = None):
        """checks: method name -> check(result, plugin), which returns the result or raises EegvizError saying what
        in it breaks the protocol (a source's read(): eegviz.sources.base.check_read); or attribute name ->
        check(value, plugin), asked each time it is read (a source's info: check_info). slow: method name ->
        (seconds, why): the first call that takes longer is said in a warning naming the plugin (once). defaults:
        attribute name -> the value read where the plugin has no such attribute."""
        self._plugin, self._label, self._methods = plugin, label, frozenset(methods)
        self._checks = dict(checks or {})
        self._slow, self._slow_said = dict(slow or {}), False
        self._defaults = dict(defaults or {})

    @property
    def __class__(self):  # isinstance() sees the plugin's own class, as it did before it was wrapped
        return type(self._plugin)

    def __getattr__(self, name: str):
        if name in Named._own:  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        try:
            value = getattr(self._plugin, name)
        except AttributeError:  # lacking stays lacking: getattr(src, "drain", None) must see None
            if name in self._defaults:
                return self._defaults[name]
            raise
        except (Exception, SystemExit) as e:  # noqa: BLE001 - a property of the plugin's failing (its `info`)
            # was a traceback into the plugin's file, while its methods' failures were one line naming it
            logging.getLogger(__name__).debug("%s failed reading %s", self._label, name, exc_info=True)
            if isinstance(e, EegvizError) and self._label in str(e):
                raise
            raise EegvizError(f"{self._label} failed reading its {name} ({one_line(e)})") from e
        check = self._checks.get(name)
        if name not in self._methods or not callable(value):
            if check is not None:  # an attribute the session reads (a source's info), checked as it is read
                try:
                    check(value, self._plugin)
                except EegvizError as e:
                    raise EegvizError(f"{self._label}: {e}") from None
            return value

        def guarded(*args, **kwargs):
            try:
                t0 = time.perf_counter()
                result = value(*args, **kwargs)
                if name in self._slow:
                    self._note_slow(name, time.perf_counter() - t0)
                return check(result, self._plugin) if check else result
            except EegvizError as e:
                if self._label in str(e):  # it names itself already
                    raise
                raise EegvizError(f"{self._label}: {e}") from e
            except OSError as e:
                logging.getLogger(__name__).debug("%s failed in %s()", self._label, name, exc_info=True)
                raise EegvizError(f"{self._label} failed in {name}() ({os_error_line(e)})") from e
            except (Exception, SystemExit) as e:  # noqa: BLE001 - the plugin's own failure (a sys.exit() too)
                logging.getLogger(__name__).debug("%s failed in %s()", self._label, name, exc_info=True)
                raise EegvizError(f"{self._label} failed in {name}() ({one_line(e)})") from e

        return guarded

    def _note_slow(self, name: str, seconds: float) -> None:
        limit, why = self._slow[name]
        if seconds <= limit or self._slow_said:
            return
        self._slow_said = True
        logging.getLogger(__name__).warning("%s took %.0f ms in %s(); %s; later slow calls are not reported",
                                            self._label, seconds * 1e3, name, why)


SOURCE_CALLS = ("open", "start", "read", "drain", "stop")
GENERATOR_CALLS = ("warmup", "generate")


def _checked_read(call: str):
    """check(result, source) of a source plugin's `call` (read or drain): its ReadResult against its own info."""
    from eegviz.sources.base import check_read

    return lambda result, source: check_read(result, len(source.info.ch_names), call)


def _checked_info(info, source):
    """check(value, source) of a source plugin's info (eegviz.sources.base.check_info)."""
    from eegviz.sources.base import check_info

    return check_info(info)


SOURCE_CHECKS = {"read": _checked_read("read"), "drain": _checked_read("drain"), "info": _checked_info}
# a session reads with timeout=0.05 (eegviz.pipeline): a read() that blocks longer (a serial port read until a
# packet is whole) holds up every marker and sample behind it, and a stop waits for it, without a word
SLOW_READ_S = 0.5
SOURCE_SLOW = {"read": (SLOW_READ_S, "a source's read() returns within its timeout (eegviz.sources.base.Source), "
                                     "and the session waits for it: markers and samples arrive late and a stop "
                                     "waits")}


def wrap(obj, kind: str, name: str, defaults: dict | None = None):
    """`obj` (a plugin's source or generator, `kind` 'source' or 'generator') as Named, whose failures name it;
    eegviz's own objects unchanged (is_eegviz_own). A source's read() and drain() results are checked too (its
    generator's images are checked for every generator, eegviz.generators.base.check_images). defaults: what the
    wrapped object reads as for an attribute the plugin lacks (Named)."""
    if is_eegviz_own(obj):
        return obj
    if kind == "source":
        return Named(obj, f"source plugin '{name}'", SOURCE_CALLS, SOURCE_CHECKS, SOURCE_SLOW, defaults)
    return Named(obj, f"{kind} plugin '{name}'", GENERATOR_CALLS, defaults=defaults)
