"""Blueprints to and from JSON.

Loading accepts only registered blueprint and marker types, by name, and sets only
their declared fields: it never imports a module or calls anything a document names.
"""

from __future__ import annotations

import dataclasses
import json

from . import registry
from .dsl.base import MAX_DEPTH, TYPES, Blueprint, Data
from .errors import BlueprintError, did_you_mean
from .text import brief

# JSON objects and lists inside each other: a blueprint level is an object and a list
# (``{"layers": [...]}``), and a few more levels hold tuples of tuples.
MAX_NESTING = 2 * MAX_DEPTH + 8


def to_json(bp: Data, indent: int | None = 2) -> str:
    return bp.to_json(indent=indent)


def from_json(text: str, source: str = "<json>"):
    """Make a blueprint from JSON text; errors name ``source`` and where in the document."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise BlueprintError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                             path=source) from None
    except RecursionError:
        raise BlueprintError(f"nested too deeply: the limit is {MAX_NESTING} levels of "
                             "objects and lists", path=source) from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise BlueprintError("a number in it has too many digits", path=source) from None
    return from_dict(doc, source)


def from_dict(doc, source: str = "<json>"):
    """Make a blueprint from a decoded JSON document (dicts, lists and scalars)."""
    if not isinstance(doc, dict):
        raise BlueprintError(
            f"the document is {_a(doc)}, not a blueprint: it must be one object such as "
            '{"type": "Network", ...}', path=source)
    _load_known_types()
    bp = _decode(doc, source, "$", 0)
    if not isinstance(bp, Blueprint):
        raise BlueprintError(
            f"the document is a {type(bp).__name__} marker, not a blueprint: a marker "
            "stands for a field's value inside a blueprint", path=source)
    return bp


def _a(value) -> str:
    """``a list``, ``null``, ``a number`` ...: what a JSON value is, in a message."""
    if value is None:
        return "null"
    names = {list: "a list", str: "a string", bool: "true or false", int: "a number",
             float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _at(where: str) -> str:
    """Where in the document, its middle left out when deep nesting makes it long."""
    return where if len(where) <= 120 else f"{where[:50]} ... {where[-60:]}"


def _load_known_types():
    # Block types defined outside the core register themselves when their module is
    # imported; the registry imports them all.
    registry.load_all()


def _decode(value, source, where, depth):
    if isinstance(value, (list, dict)) and depth >= MAX_NESTING:
        raise BlueprintError(f"{_at(where)}: nested too deeply: the limit is {MAX_NESTING} "
                             "levels of objects and lists", path=source)
    if isinstance(value, list):
        return [_decode(v, source, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "type" not in value:
        raise BlueprintError(f"{_at(where)}: an object without a \"type\"", path=source)
    name = value["type"]
    cls = TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise BlueprintError(
            f"{_at(where)}: unknown blueprint type {brief(name)}{did_you_mean(name, TYPES)}; "
            "JSON can only name registered blueprint types", path=source)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in value if k != "type" and k not in fields]
    if unknown:
        raise BlueprintError(
            f"{_at(where)}: {name} has no field {brief(unknown[0])}{did_you_mean(unknown[0], fields)}; "
            f"fields: {', '.join(sorted(fields))}", path=source)
    kwargs = {k: _decode(v, source, f"{where}.{k}", depth + 1)
              for k, v in value.items() if k != "type"}
    try:
        return cls(**kwargs)
    except BlueprintError as e:
        raise BlueprintError(f"{_at(where)}: {e.detail}", path=source) from None
