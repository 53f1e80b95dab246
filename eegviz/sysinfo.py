"""`eegviz sys-info`: what a bug report needs - versions of eegviz and the libraries it stands on, and devices.

Modelled on `mne sys_info`: a plain-text block a user can paste. Every line is looked up without side
effects: package versions come from the installed metadata (nothing heavy is imported for them), liblsl's
version is asked of the library without opening a stream, Qt's of PySide6 without creating an application.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "scipy", "torch", "diffusers", "transformers", "safetensors", "mne", "mne-lsl", "pylsl",
            "pyxdf", "brainflow", "PySide6-Essentials", "pyqtgraph", "matplotlib", "pillow")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _liblsl() -> str:
    try:
        import pylsl

        v = pylsl.library_version()
        return f"{v // 100}.{v % 100}"
    except Exception as e:  # noqa: BLE001 - a missing/broken liblsl is exactly what this report should show
        return f"unavailable ({type(e).__name__}: {e})"


def _qt() -> str:
    try:
        from PySide6 import QtCore

        return QtCore.qVersion()
    except Exception as e:  # noqa: BLE001
        return f"unavailable ({type(e).__name__})"


def _devices() -> list[str]:
    lines = [f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores"]
    try:
        import psutil

        lines.append(f"memory: {psutil.virtual_memory().total / 2**30:.1f} GiB")
    except ImportError:
        pass
    try:
        import torch

        lines.append(f"torch threads: {torch.get_num_threads()}")
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                lines.append(f"cuda:{i}: {p.name}, {p.total_memory / 2**30:.0f} GiB")
        else:
            lines.append("cuda: none")
    except Exception as e:  # noqa: BLE001
        lines.append(f"torch devices: unavailable ({type(e).__name__})")
    return lines


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; elsewhere platform.processor()), "unknown" if neither says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def sys_info() -> str:
    from eegviz import __version__

    rows = [("eegviz", __version__), ("python", sys.version.split()[0]), ("platform", platform.platform()),
            ("cpu", cpu_model())]
    rows += [(name, _version(name)) for name in PACKAGES]
    rows += [("liblsl", _liblsl()), ("Qt", _qt())]
    width = max(len(k) for k, _ in rows)
    text = [f"{k + ':':<{width + 1}} {v}" for k, v in rows]
    return "\n".join(text + ["devices:"] + [f"  {line}" for line in _devices()])


def git_commit() -> str | None:
    """The eegviz checkout's commit (benchmark files and session.json name it), with "+changes" when its tracked files differ from it; None outside git."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file() or not (root / ".git").exists():
        return None  # an installed copy (site-packages): a repository above it would be another one
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


@functools.cache
def process_commit() -> str | None:
    """git_commit(), asked once per process (two git calls): a window's every Start, or a kiosk's every loop,
    claims a session folder whose record names it."""
    return git_commit()


def run_provenance(time_key: str) -> dict:
    """What produced a record that is kept beside its results (session.json, an eval report's metrics.json "run"):
    eegviz's version and git commit, the UTC time under `time_key` ("started_utc", "finished_utc"), the command
    line and the working directory it was given in (where a relative path in it was read)."""
    from datetime import datetime, timezone

    from eegviz import __version__

    return {"eegviz": __version__, "commit": process_commit(),
            time_key: datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command_line": list(sys.argv), "working_directory": os.getcwd()}
