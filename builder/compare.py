"""Comparing two blueprints (``builder diff``): the fields that differ, by path, and the
block rows of their analyses side by side.

Fields are compared blueprint by blueprint at the same path (paths as ``summary`` prints
them, see ``builder.dsl.paths``); a change is keyed as ``builder.edit`` takes it
(``stage2/block1.filters``), so the changes read as the edits that turn A into B. A
blueprint present on one side only is one change (its parts are not listed again).
Block rows are matched by path, in order, the rows of one side only kept in place.
"""

from __future__ import annotations

import dataclasses
import difflib

from .analysis import BlockRow, Report, analyze
from .dsl.base import encode
from .dsl.paths import places


@dataclasses.dataclass
class FieldChange:
    """One difference: a field (``field``) of the blueprints at ``path``, or, with
    ``field`` None, a blueprint on one side only or of another kind (``a``/``b`` are
    then kinds, None where absent). ``a``/``b`` are JSON forms."""

    path: str
    field: str | None
    a: object
    b: object

    @property
    def key(self) -> str:
        if self.field is None:
            return self.path
        return f"{self.path}.{self.field}" if self.path else self.field

    def to_dict(self) -> dict:
        return {"key": self.key, "path": self.path, "field": self.field, "a": self.a,
                "b": self.b}


@dataclasses.dataclass
class RowPair:
    """The block rows of A and B at one path (None on a side that has no such row)."""

    path: str
    a: BlockRow | None
    b: BlockRow | None

    @property
    def params_change(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def macs_change(self) -> int:
        return (self.b.macs if self.b else 0) - (self.a.macs if self.a else 0)

    def to_dict(self) -> dict:
        side = (lambda r: None if r is None else
                {"kind": r.kind, "output_shape": list(r.output_shape), "params": r.params,
                 "macs": r.macs})
        return {"path": self.path, "a": side(self.a), "b": side(self.b),
                "params_change": self.params_change, "macs_change": self.macs_change}


@dataclasses.dataclass
class Comparison:
    a: Report
    b: Report
    changes: list[FieldChange]
    rows: list[RowPair]
    depth: int

    def to_dict(self) -> dict:
        """The JSON form ``builder diff --json`` prints (see docs/workbench.md)."""
        total = (lambda r: {"name": r.name, "input_shape": list(r.input_shape),
                            "output_shape": list(r.output_shape),
                            "total_params": r.total_params, "macs": r.macs})
        return {"a": total(self.a), "b": total(self.b), "depth": self.depth,
                "changes": [c.to_dict() for c in self.changes],
                "blocks": [r.to_dict() for r in self.rows],
                "params_change": self.b.total_params - self.a.total_params,
                "macs_change": self.b.macs - self.a.macs}


def compare(a, b, depth: int = 1, input_shape=None) -> Comparison:
    """The differences of blueprints ``a`` and ``b``: fields by path, and the block rows
    at ``depth`` side by side. Raises ``BlueprintError`` where either cannot be analyzed."""
    report_a, report_b = analyze(a, input_shape), analyze(b, input_shape)
    rows_a = {r.path: r for r in report_a.blocks(depth)}
    rows_b = {r.path: r for r in report_b.blocks(depth)}
    rows = [RowPair(p, rows_a.get(p), rows_b.get(p)) for p in merged(list(rows_a), list(rows_b))]
    return Comparison(report_a, report_b, field_changes(a, b), rows, depth)


def merged(a: list[str], b: list[str]) -> list[str]:
    """The paths of ``a`` and ``b`` in one order: common ones as they come, those of one
    side only where that side has them."""
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        out += a[i1:i2]
        if tag != "equal":
            out += [p for p in b[j1:j2] if p not in a[i1:i2]]
    return out


def field_changes(a, b) -> list[FieldChange]:
    """The fields that differ between the blueprints at each path of ``a`` and ``b``."""
    index_a, index_b = places(a), places(b)
    changes: list[FieldChange] = []
    alone: list[str] = []  # paths on one side only: their parts are not listed again
    for path in merged(list(index_a), list(index_b)):
        if any(path.startswith(p + "/") or not p for p in alone):
            continue
        stack_a, stack_b = index_a.get(path), index_b.get(path)
        if stack_a is None or stack_b is None:
            alone.append(path)
            changes.append(FieldChange(path, None, _kinds(stack_a), _kinds(stack_b)))
            continue
        if _kinds(stack_a) != _kinds(stack_b):
            changes.append(FieldChange(path, None, _kinds(stack_a), _kinds(stack_b)))
            continue
        for place_a, place_b in zip(stack_a, stack_b):
            changes += _fields(path, place_a.blueprint, place_b.blueprint)
    return changes


def _kinds(stack):
    return None if stack is None else " in ".join(p.blueprint.kind for p in stack)


def _fields(path, a, b) -> list[FieldChange]:
    held = {c.field for c in a.children()} | {c.field for c in b.children()}
    out = []
    for f in dataclasses.fields(a):
        if f.name in held:
            continue  # compared path by path
        value_a, value_b = encode(getattr(a, f.name)), encode(getattr(b, f.name))
        if value_a != value_b:
            out.append(FieldChange(path, f.name, value_a, value_b))
    return out
