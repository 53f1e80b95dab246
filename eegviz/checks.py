"""Argument checks that fail as one EegvizError line naming the option, the rule and, optionally, why.

Each returns its (checked) value, so a check reads as an assignment: `strength = check_range(...)`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Iterable, TypeVar

from eegviz.errors import EegvizError
from eegviz.paths import PROBE_PREFIX

T = TypeVar("T")


def _why(hint: str) -> str:
    return f" ({hint})" if hint else ""


def check_named(value, name: str, what: str):
    """A name or path that is given must not be empty or blank, else "NAME is empty: name WHAT". `--model "$MODEL"`
    with MODEL unset gives "": read as not given, the session ran on a default without a word, and as a Path it
    is the working directory, which train, eval, record and sweep wrote into."""
    if value is not None and not str(value).strip():
        raise EegvizError(f"{name} is empty: name {what}")
    return value


def check_positive(value: float, name: str, *, allow_zero: bool = False, unit: str = "", hint: str = "") -> float:
    """A finite value > 0 (or >= 0 with allow_zero), else "NAME must be a finite number > 0[ UNIT][ (HINT)]".

    NaN and infinity fail too: argparse's float() accepts "nan" and "inf", and either one, let through, turns a
    simulated dataset into NaNs or a replay's pacing into a hang, with no error anywhere.
    """
    if math.isfinite(value) and (value > 0 or (value == 0 and allow_zero)):
        return value
    rule = ">= 0" if allow_zero else "> 0"
    raise EegvizError(f"{name} must be a finite number {rule}{' ' + unit if unit else ''}{_why(hint)}")


def check_at_least(value: int, name: str, low: int, *, hint: str = "") -> int:
    """An integer count or seed >= low, else "NAME must be >= LOW[ (HINT)]"."""
    if value >= low:
        return value
    raise EegvizError(f"{name} must be >= {low}, not {value}{_why(hint)}")


def check_threads(value: int, name: str = "--threads") -> int:
    """A thread count from 1 to this machine's CPUs: more only slows torch down (1000 threads ran 100x slower
    here) and, past the process limit, crashes OpenBLAS or Dynamo instead of failing in one line."""
    cpus = os.cpu_count() or 1
    if 1 <= value <= cpus:
        return value
    raise EegvizError(f"{name} must be 1 to {cpus} (this machine's CPUs), not {value}")


def check_range(value: float, name: str, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False, hint: str = "") -> float:
    """low <= value <= high (either end open on request), else "NAME must be in [LOW, HIGH][: HINT]"."""
    if not math.isfinite(value):
        raise EegvizError(f"{name} must be a finite number, not {value}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if above and below:
        return value
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    raise EegvizError(f"{name} must be in {interval}{': ' + hint if hint else ''}")


def physical_memory() -> int | None:
    """This machine's memory in bytes; None where the platform does not say (then nothing is refused)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(need: float, what: str, fix: str) -> None:
    """Refuse, before any work starts, work whose arrays cannot fit in this machine's memory: "WHAT would need
    about N GiB of memory, more than this machine's M GiB; FIX". Past that point the process is killed or dies
    in a MemoryError traceback, after minutes of work (bench --n 10^8 did, 31 s in)."""
    have = physical_memory()
    if have is not None and need > have:
        raise EegvizError(f"{what} would need about {need / 2**30:.0f} GiB of memory, more than this machine's "
                          f"{have / 2**30:.0f} GiB; {fix}")


def check_compiler(device: str | None) -> None:
    """--compile on the CPU needs a C++ compiler (inductor writes C++ kernels). Without one, bench's compiled
    section's first call failed in a 100-line InductorError traceback after the minutes of timing before it, and a
    session's (demo, replay, live, eval) once its source and model had loaded and its first image was drawn. Said
    in one line before anything is loaded. device: the generator's; None: CUDA when present, as the generator
    picks (eegviz.devices.resolved_device). (On CUDA inductor writes Triton kernels; a torch whose
    inductor cannot be asked is let through, to fail, if it does, as before.)"""
    from eegviz.devices import resolved_device

    if resolved_device(device) != "cpu":
        return
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
        from torch._inductor.exc import InvalidCxxCompiler
    except ImportError:
        return
    try:
        get_cpp_compiler()
    except InvalidCxxCompiler as exc:
        from eegviz.errors import one_line

        raise EegvizError(f"--compile on the CPU needs a C++ compiler for torch.compile, and torch found none "
                          f"({one_line(exc)}): install g++ (or set CXX to one), or leave --compile out") from exc


def check_choice(value: T, name: str, choices: Iterable[T]) -> T:
    """value among choices, else "NAME=VALUE; one of A, B, C"."""
    choices = list(choices)
    if value in choices:
        return value
    raise EegvizError(f"{name}={value!r}; one of {', '.join(map(str, choices))}")


def check_file(path: str | Path, what: str) -> Path:
    """The path as a Path when it is an existing file, else one line: it is a folder, or it does not exist."""
    path = Path(path)
    if path.is_dir():
        raise EegvizError(f"{what} {path} is a folder, not a file; name the file itself")
    if not path.is_file():
        raise EegvizError(f"{what} {path} does not exist; check the path")
    return path


def read_at_most(path: str | Path, limit: int, what: str, kind: str) -> bytes:
    """A small file's bytes, read up to `limit` and refused in one line beyond it ("{what} holds more than ...
    bytes, more than {kind} may"): a settings or model file larger than that is the wrong file, and one that
    never ends (a link to /dev/zero) was read forever. A pipe is read like a file. OSError is the caller's."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise EegvizError(f"{what} holds more than {limit:,} bytes, more than {kind} may; is it the right file?")
    return data


def check_new_file(path: str | Path, name: str) -> Path:
    """A file eegviz is about to write: it must not exist yet (nothing already written is overwritten: a
    benchmark or screenshot from an earlier run is a record too) and its folder must, else one line."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise EegvizError(f"{name} {path} already exists; choose a new name (eegviz does not overwrite files)")
    if not path.parent.is_dir():
        held = "is a file, not a folder" if path.parent.exists() else "does not exist"
        raise EegvizError(f"{name} {path}: the folder {path.parent} {held}")
    try:  # a folder that exists may still refuse files (permissions, a read-only file system): find out now
        tempfile.TemporaryFile(dir=path.parent, prefix=PROBE_PREFIX).close()
    except OSError as e:
        raise EegvizError(f"{name} {path}: cannot write in {path.parent} ({e.strerror or e})") from None
    return path
