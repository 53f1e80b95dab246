"""Argument checks that fail as one EegvizError line naming the option, the rule and, optionally, why.

Each returns its (checked) value, so a check reads as an assignment: `strength = check_range(...)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, TypeVar

from eegviz.errors import EegvizError

T = TypeVar("T")


def _why(hint: str) -> str:
    return f" ({hint})" if hint else ""


def check_positive(value: float, name: str, *, allow_zero: bool = False, unit: str = "", hint: str = "") -> float:
    """value > 0 (or >= 0 with allow_zero), else "NAME must be > 0[ UNIT][ (HINT)]".

    Only a value on the wrong side of zero fails: NaN passes, as in the hand-written checks this replaced.
    """
    if not (value < 0 or (value == 0 and not allow_zero)):
        return value
    rule = ">= 0" if allow_zero else "> 0"
    raise EegvizError(f"{name} must be {rule}{' ' + unit if unit else ''}{_why(hint)}")


def check_range(value: float, name: str, low: float, high: float, *, low_open: bool = False,
                high_open: bool = False, hint: str = "") -> float:
    """low <= value <= high (either end open on request), else "NAME must be in [LOW, HIGH][: HINT]"."""
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if above and below:
        return value
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    raise EegvizError(f"{name} must be in {interval}{': ' + hint if hint else ''}")


def check_choice(value: T, name: str, choices: Iterable[T]) -> T:
    """value among choices, else "NAME=VALUE; one of A, B, C"."""
    choices = list(choices)
    if value in choices:
        return value
    raise EegvizError(f"{name}={value!r}; one of {', '.join(map(str, choices))}")


def check_file(path: str | Path, what: str) -> Path:
    """The path as a Path when it is an existing file, else "WHAT PATH does not exist; check the path"."""
    path = Path(path)
    if not path.is_file():
        raise EegvizError(f"{what} {path} does not exist; check the path")
    return path
