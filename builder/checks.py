"""Checks of loose function arguments (``batch_size=``, ``validation_split=`` ...), one
home: each returns the value normalized or raises ``ArgumentError`` naming the argument
as Python spells it (the command line writes it as its flag).

Fields of dataclasses (blueprints, training options) are checked from their annotations
by ``builder.dsl.base.checker`` instead.
"""

from __future__ import annotations

import math
import numbers

from .errors import ArgumentError, did_you_mean, one_of


def whole(name: str, value, low: int = 0) -> int:
    """A whole number of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ArgumentError(f"`{name}` must be a whole number >= {low}, not {value!r}",
                            arguments=(name,))
    return int(value)


def real(name: str, value, low: float | None = None, high: float | None = None, *,
         low_open: bool = False, high_open: bool = False) -> float:
    """A finite number within [low, high] (an end ``open`` excludes it)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}" \
                   f"{')' if high_open or high is None else ']'}"
        raise ArgumentError(f"`{name}` must be a finite number in {interval}, not {value!r}",
                            arguments=(name,))
    return float(value)


def fraction(name: str, value) -> float:
    """A fraction in [0, 1)."""
    return real(name, value, 0.0, 1.0, high_open=True)


def choice(name: str, value, choices):
    """One of ``choices``, with a "did you mean" for a near miss."""
    if value not in choices:
        raise ArgumentError(f"`{name}` must be {one_of(choices)}, not {value!r}"
                            f"{did_you_mean(str(value), choices)}", arguments=(name,))
    return value


def shape(name: str, value) -> tuple[int, ...]:
    """An example's shape: positive whole numbers, no batch axis."""
    try:
        dims = tuple(value)
    except TypeError:
        dims = None
    if not dims or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
                       for d in dims):
        raise ArgumentError(f"`{name}` must be positive whole numbers without the batch axis, "
                            f"e.g. (32, 32, 3); got {value!r}", arguments=(name,))
    return tuple(int(d) for d in dims)
