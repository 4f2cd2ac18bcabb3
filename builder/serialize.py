"""Blueprints to and from JSON.

Loading accepts only registered blueprint and marker types, by name, and sets only
their declared fields: it never imports a module or calls anything a document names.
"""

from __future__ import annotations

import dataclasses
import json

from .dsl.base import TYPES, Data
from .errors import BlueprintError, did_you_mean


def to_json(bp: Data, indent: int | None = 2) -> str:
    return bp.to_json(indent=indent)


def from_json(text: str, source: str = "<json>"):
    """Make a blueprint from JSON text; errors name ``source`` and where in the document."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise BlueprintError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                             path=source) from None
    return from_dict(doc, source)


def from_dict(doc, source: str = "<json>"):
    _load_known_types()
    return _decode(doc, source, "$")


def _load_known_types():
    # Block types defined outside the core register themselves when their module is
    # imported; the registry imports them all.
    from . import registry

    registry.load_all()


def _decode(value, source, where):
    if isinstance(value, list):
        return [_decode(v, source, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "type" not in value:
        raise BlueprintError(f"{where}: an object without a \"type\"", path=source)
    name = value["type"]
    cls = TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise BlueprintError(
            f"{where}: unknown blueprint type {name!r}{did_you_mean(name, TYPES)}; "
            "JSON can only name registered blueprint types", path=source)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in value if k != "type" and k not in fields]
    if unknown:
        raise BlueprintError(
            f"{where}: {name} has no field {unknown[0]!r}{did_you_mean(unknown[0], fields)}; "
            f"fields: {', '.join(sorted(fields))}", path=source)
    kwargs = {k: _decode(v, source, f"{where}.{k}") for k, v in value.items() if k != "type"}
    try:
        return cls(**kwargs)
    except BlueprintError as e:
        raise BlueprintError(f"{where}: {e.detail}", path=source) from None
