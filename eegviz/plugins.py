"""Plugin registry: sources, generators and sinks by name.

Built-ins are declared as entry points in pyproject.toml, exactly like third-party plugins, so there is one
lookup path. Modules dropped into a plugins directory (EEGVIZ_PLUGINS, default ./plugins) may also register
with `register(group, name, obj)` at import time.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from eegviz.errors import EegvizError

GROUPS = ("sources", "generators", "sinks")
_extra: dict[str, dict[str, object]] = {g: {} for g in GROUPS}
_dirs_loaded: set[str] = set()


def register(group: str, name: str, obj: object) -> None:
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}; one of {GROUPS}")
    _extra[group][name] = obj


def load_plugin_dir(path: Path | str | None = None) -> None:
    """Import every plugin module in `path` (default: $EEGVIZ_PLUGINS, else ./plugins, else the project's
    plugins/ folder, so the first-party examples are found from any working directory)."""
    if path is None:
        from eegviz.paths import project_root

        path = os.environ.get("EEGVIZ_PLUGINS") or ("plugins" if Path("plugins").is_dir() else project_root() / "plugins")
    path = Path(path)
    if str(path) in _dirs_loaded or not path.is_dir():
        return
    _dirs_loaded.add(str(path))
    for file in sorted(path.glob("*.py")):
        if file.name.startswith(("_", "test_", "conftest")):
            continue
        spec = importlib.util.spec_from_file_location(f"eegviz_plugin_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)


def available(group: str) -> dict[str, str]:
    """name -> where it comes from (an entry point value or a plugin module)."""
    load_plugin_dir()
    found = {ep.name: ep.value for ep in entry_points(group=f"eegviz.{group}")}
    found.update({n: f"{getattr(o, '__module__', '?')}:{getattr(o, '__name__', type(o).__name__)}"
                  for n, o in _extra[group].items()})
    return found


def get(group: str, name: str):
    load_plugin_dir()
    if name in _extra[group]:
        return _extra[group][name]
    for ep in entry_points(group=f"eegviz.{group}"):
        if ep.name == name:
            return ep.load()
    names = ", ".join(sorted(available(group))) or "none"
    raise EegvizError(f"no {group[:-1]} named '{name}' (available: {names})")
