"""Search-space markers: a field value that stands for several values.

A blueprint holding markers is a search space; ``concrete(bp)`` gives the model at the
markers' defaults, and ``tuning`` resolves them through keras-tuner's ``hp``. Each
marker's candidate values are checked against the field it is put on, so a marker that
the field cannot take fails when the blueprint is made.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from ..errors import BlueprintError
from .base import Data, Marker, holds_markers, blueprint


@blueprint
class Choice(Marker):
    values: tuple[Any, ...]
    default: Any = None
    label: str | None = None

    def validate(self):
        if not self.values:
            raise BlueprintError("Choice needs at least one value, got an empty list")
        if self.default is None and None not in self.values:
            object.__setattr__(self, "default", self.values[0])
        if not any(_same(self.default, v) for v in self.values):
            raise BlueprintError(f"Choice default {self.default!r} is not among {list(self.values)!r}")

    def checked(self, check, hint, where):
        values = tuple(check(v) for v in self.values)
        return dataclasses.replace(self, values=values, default=check(self.default))


@blueprint
class Int(Marker):
    low: int
    high: int
    step: int = 1
    default: int | None = None
    label: str | None = None

    def validate(self):
        if self.low > self.high:
            raise BlueprintError(f"Int range has low {self.low} > high {self.high}")
        if self.step < 1:
            raise BlueprintError(f"Int step must be >= 1, got {self.step}")
        if self.default is None:
            object.__setattr__(self, "default", self.low)
        if not self.low <= self.default <= self.high:
            raise BlueprintError(f"Int default {self.default} is outside [{self.low}, {self.high}]")

    def checked(self, check, hint, where):
        for v in (self.low, self.high, self.default):
            check(v)
        return self


@blueprint
class Float(Marker):
    low: float
    high: float
    sampling: Literal["linear", "log"] = "linear"
    default: float | None = None
    label: str | None = None

    def validate(self):
        if self.low > self.high:
            raise BlueprintError(f"Float range has low {self.low} > high {self.high}")
        if self.sampling == "log" and self.low <= 0:
            raise BlueprintError(f"Float with log sampling needs low > 0, got {self.low}")
        if self.default is None:
            object.__setattr__(self, "default", self.low)
        if not self.low <= self.default <= self.high:
            raise BlueprintError(f"Float default {self.default} is outside [{self.low}, {self.high}]")

    def checked(self, check, hint, where):
        for v in (self.low, self.high, self.default):
            check(v)
        return self


@blueprint
class Boolean(Marker):
    default: bool = False
    label: str | None = None

    def checked(self, check, hint, where):
        check(True)
        check(False)
        return self


def _same(a, b) -> bool:
    return a == b and type(a) is type(b)


def concrete(value):
    """Replace every marker in a blueprint (recursively) by its default."""
    if isinstance(value, Data) and not isinstance(value, Marker) and not value._has_markers:
        return value
    if isinstance(value, Marker):
        return concrete(value.default)
    if isinstance(value, tuple):
        return tuple(concrete(v) for v in value)
    if isinstance(value, Data):
        changes = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = concrete(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def has_markers(value) -> bool:
    """Whether a blueprint (or value) holds a marker anywhere."""
    return holds_markers(value)
