"""Editing a blueprint by path: ``builder.edit(bp, {"stage2/block1.filters": 64})``.

A key is ``PATH.FIELD``: the path as ``builder summary`` prints it (see
``builder.dsl.paths`` for what a path reaches), then a field after the dot. A field that
holds a blueprint can be followed by that blueprint's field (``stage3.block.filters``).
A key without a dot is a field of the top blueprint (``input_shape``, ``head``). Edits
copy: the blueprint given is never changed.

``parse_sets(["stage2/block1.filters=64", "head.dropout=0.2"])`` reads ``PATH=VALUE``
texts (the command line's ``--set``) into such a dict.
"""

from __future__ import annotations

import ast
import dataclasses
import re

from .dsl.base import Blueprint, Marker
from .dsl.combinators import Network
from .dsl.paths import (Place, describe_stack, fields_of, normal, places, root_path,
                        unknown_path)
from .errors import ArgumentError, BlueprintError, did_you_mean
from .graph import lower
from .serialize import from_dict

# A bare word on the command line is a string: --set head.activation=relu.
BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# JSON's spellings, which Python's literals do not take.
WORDS = {"true": True, "false": False, "null": None, "none": None}


def edit(bp: Blueprint, changes: dict, input_shape=None) -> Blueprint:
    """A copy of ``bp`` with ``changes`` (``{"PATH.FIELD": value}``) applied in order,
    each value checked by its field. A value may be a blueprint, a marker, or a dict
    of a blueprint's JSON form (``{"type": "Conv2D", "filters": 8}``). A Network (or
    any blueprint, given ``input_shape``) is lowered after the edits, so an impossible
    shape is reported here. Raises ``BlueprintError`` naming the key; an unknown path or
    field lists the valid ones.
    """
    if not isinstance(changes, dict):
        raise ArgumentError(f"changes must be a dict of 'PATH.FIELD': value, got "
                            f"{type(changes).__name__}")
    for key, value in changes.items():
        bp = _apply(bp, key, value)
    if isinstance(bp, Network) or input_shape is not None:
        lower(bp, input_shape)
    return bp


def _apply(bp, key: str, value):
    path, names = split_key(bp, key)
    index = places(bp)
    if path not in index:
        raise BlueprintError(unknown_path(path, index).detail, path=key)
    stack = index[path]
    owner = next((p for p in stack if names[0] in _field_names(p.blueprint)), None)
    if owner is None:
        fields = fields_of(stack)
        raise BlueprintError(f"{describe_stack(stack)} has no field {names[0]!r}"
                             f"{did_you_mean(names[0], fields)}; fields: {', '.join(fields)}",
                             path=key)
    if owner.marker_path is not None:
        raise BlueprintError(
            f"{describe_stack([owner])} is the default of the marker in "
            f"'{owner.marker_path}' (a search space): an edit here would change one "
            f"candidate; set '{owner.marker_path}' to a new marker or blueprint instead",
            path=key)
    try:
        return _rebuild(owner, _set(owner.blueprint, names, _value(value)))
    except BlueprintError as e:
        raise BlueprintError(e.detail if e.path is None else str(e), path=key) from None


def split_key(bp, key: str) -> tuple[str, list[str]]:
    """``"stage2/block1.filters"`` -> ``("stage2/block1", ["filters"])``; a key without a
    dot is a field of the top blueprint."""
    if not isinstance(key, str) or not key.strip():
        raise BlueprintError(f"an edit's key must be 'PATH.FIELD', got {key!r}")
    path, dot, rest = key.strip().partition(".")
    if not dot:
        root = root_path(bp)
        if path in fields_of(places(bp)[root]):
            return root, [path]
        raise BlueprintError(f"name a field after the path, as PATH.FIELD "
                             f"(e.g. '{path}.{_example(bp, path)}')", path=key)
    names = rest.split(".")
    if not all(names):
        raise BlueprintError("an empty field name; write PATH.FIELD", path=key)
    return normal(path), names


def _example(bp, path) -> str:
    stack = places(bp).get(normal(path))
    fields = [f for f in fields_of(stack) if f != "name"] if stack else []
    return fields[0] if fields else "FIELD"


def _field_names(bp) -> list[str]:
    return [f.name for f in dataclasses.fields(bp)]


def _set(bp, names: list[str], value):
    """``bp`` with the field ``names[0]`` (or, through blueprint fields, ``names[-1]``)
    set to ``value``."""
    name = names[0]
    if name not in _field_names(bp):
        fields = _field_names(bp)
        raise BlueprintError(f"{bp.kind} has no field {name!r}{did_you_mean(name, fields)}; "
                             f"fields: {', '.join(fields)}")
    if len(names) == 1:
        return bp.replace(**{name: value})
    inner = getattr(bp, name)
    if not isinstance(inner, Blueprint):
        what = "a marker" if isinstance(inner, Marker) else f"{inner!r}"
        raise BlueprintError(f"{bp.kind}.{name} holds {what}, not a blueprint with "
                             f"fields, so '.{'.'.join(names[1:])}' cannot follow it")
    return bp.replace(**{name: _set(inner, names[1:], value)})


def _rebuild(place: Place, new):
    """The root with ``new`` put where ``place`` is, each parent copied on the way up."""
    for parent, child in reversed(place.trail):
        if child.index is None:
            held = new
        else:
            items = list(getattr(parent, child.field))
            items[child.index] = new
            held = tuple(items)
        new = parent.replace(**{child.field: held})
    return new


def _value(value):
    if isinstance(value, dict) and "type" in value:
        return from_dict(value, source="<edit>")
    if isinstance(value, (list, tuple)):
        return type(value)(_value(v) for v in value)
    return value


def parse_value(text: str):
    """A ``--set`` value: a Python literal (``64``, ``0.2``, ``(3, 3)``, ``None``,
    ``'same'``), ``true``/``false``/``null``, or a bare word taken as a string
    (``relu``). Raises ``ArgumentError``."""
    text = text.strip()
    if text.lower() in WORDS:
        return WORDS[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if BARE_WORD.match(text):
            return text
        raise ArgumentError(f"{text!r} is not a value: write a number, a string, a list "
                            "such as (3, 3), true/false or None") from None


def parse_set(text: str) -> tuple[str, object]:
    """``"stage2/block1.filters=64"`` -> ``("stage2/block1.filters", 64)``."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise ArgumentError(f"{text!r} is not PATH.FIELD=VALUE (e.g. head.dropout=0.2)")
    if not value.strip():
        raise ArgumentError(f"{text!r} has no value after '='")
    return key.strip(), parse_value(value)


def parse_sets(texts) -> dict:
    """``PATH.FIELD=VALUE`` texts -> the dict of edits for ``edit``, in order (a key given
    twice keeps its last value). The dict holds plain values (JSON-ready), to be
    recorded as given."""
    return dict(parse_set(text) for text in texts)

