"""Hypothesis strategies for blueprints, derived from the DSL's own field types, and for
mutated JSON documents; and a guard that fails an example that runs too long or grows
the process too much.

A generated blueprint is a ``Recipe`` (a type and its field values, blueprints inside
as recipes), not the object: the test makes it, so that a value the type refuses is part
of what is tested. Values follow each field's annotation (``Annotated`` bounds, unions,
literals, tuples, nested blueprint types) and, at the rate ``wild``, are anything at
all: out of range, NaN, infinities, huge integers, the wrong type.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import functools
import json
import math
import os
import signal
import threading
import time
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st

import builder
from builder.dsl.base import (MAX_DEPTH, MAX_INT, MAX_REPEATS, TYPES, Blueprint, Broadcast, Data,
                              Marker, Max, Min)

builder.registry.load_all()  # the block types of every package of blueprints

MARKERS = ("Choice", "Int", "Float", "Boolean")
WILD_INTS = (0, -1, -7, 2, 3, MAX_REPEATS, MAX_REPEATS + 1, 10**12, MAX_INT, MAX_INT + 1,
             -MAX_INT - 2, 10**400)
WILD_FLOATS = (math.nan, math.inf, -math.inf, -0.0, 0.5, 1.0, 1.5, 1e308, -1e-300, 5e-324)
NAMES = ("a", "b", "conv", "x-1")


# --- recipes -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A blueprint type and its field values (recipes inside for nested blueprints)."""

    kind: str
    fields: tuple[tuple[str, Any], ...]

    def __repr__(self):  # Python that makes it, as Hypothesis prints a failing example
        args = ", ".join(f"{k}={v!r}" for k, v in self.fields)
        return f"{self.kind}({args})"


def make(value):
    """The blueprint of a recipe, made bottom-up (raises what the types raise)."""
    if isinstance(value, Recipe):
        return TYPES[value.kind](**{k: make(v) for k, v in value.fields})
    if isinstance(value, tuple):
        return tuple(make(v) for v in value)
    return value


def to_document(value):
    """The JSON document of a recipe (what ``to_dict`` of the made blueprint would be)."""
    if isinstance(value, Recipe):
        return {"type": value.kind, **{k: to_document(v) for k, v in value.fields}}
    if isinstance(value, tuple):
        return [to_document(v) for v in value]
    return value


# --- values from annotations ------------------------------------------------------------------


@functools.cache
def hints(cls) -> dict:
    return typing.get_type_hints(cls, include_extras=True)


@functools.cache
def kinds_of(hint) -> tuple[str, ...]:
    """Registered blueprint types a field annotated ``hint`` may hold (a class or a union)."""
    classes = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    return tuple(sorted(name for name, cls in TYPES.items()
                        if not issubclass(cls, Marker)
                        and any(isinstance(c, type) and issubclass(cls, c) for c in classes)))


def _mentions_blueprints(hint) -> bool:
    if isinstance(hint, type):
        return issubclass(hint, Blueprint) or (issubclass(hint, Data) and not issubclass(hint, Marker))
    return any(_mentions_blueprints(a) for a in get_args(hint))


@functools.cache
def leaves() -> frozenset:
    """Types with no blueprint-typed field: the choices where nesting must stop."""
    return frozenset(name for name, cls in TYPES.items()
                     if not any(_mentions_blueprints(h) for h in hints(cls).values()))


def chance(draw, percent: float) -> bool:
    return percent > 0 and draw(st.integers(0, 99)) < percent


@dataclasses.dataclass(frozen=True)
class Profile:
    """How values are drawn (rates in percent): ``wild`` of them are anything at all,
    ``edges`` are on and around a bound, ``markers`` are markers, ``names`` of the
    blueprints are named (from a few names, so that some clash); sizes stay within
    ``size``."""

    wild: float = 2
    edges: float = 8
    markers: float = 3
    names: float = 15
    size: int = 12
    depth: int = 3
    width: int = 3  # items in a tuple of blueprints


def wild_value(draw):
    return draw(st.one_of(st.sampled_from(WILD_INTS), st.sampled_from(WILD_FLOATS), st.none(),
                          st.booleans(), st.text(max_size=4), st.just(()), st.just({}),
                          st.lists(st.integers(-2, 3), max_size=3).map(tuple)))


def value(draw, hint, profile: Profile, depth: int, bounds=(None, None)):
    """A value for a field annotated ``hint``."""
    if chance(draw, profile.wild):
        return wild_value(draw)
    origin = get_origin(hint)
    if origin is Annotated:
        return _annotated(draw, hint, profile, depth, bounds)
    if origin in (Union, types.UnionType):
        arms = get_args(hint)
        blueprint_arms = kinds_of(hint)
        if blueprint_arms and all(_mentions_blueprints(a) or a is type(None) for a in arms):
            if type(None) in arms and chance(draw, 30):
                return None
            return recipe(draw, hint, profile, depth)
        return value(draw, draw(st.sampled_from(arms)), profile, depth, bounds)
    if origin is Literal:
        return draw(st.sampled_from(get_args(hint)))
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            most = profile.width if _mentions_blueprints(args[0]) else 4
            count = draw(st.integers(0 if chance(draw, 10) else 1, most))
            return tuple(value(draw, args[0], profile, depth, bounds) for _ in range(count))
        return tuple(value(draw, a, profile, depth, bounds) for a in args)
    if hint is type(None):
        return None
    if hint is Any:
        return draw(st.one_of(st.integers(-2, profile.size), st.booleans(), st.sampled_from(NAMES)))
    if hint is int:
        low = -2 if bounds[0] is None else int(math.ceil(bounds[0]))
        high = profile.size if bounds[1] is None else min(int(bounds[1]), low + profile.size)
        return draw(st.integers(low, max(low, high)))
    if hint is float:
        low = -2.0 if bounds[0] is None else bounds[0]
        high = max(low, 2.0 if bounds[1] is None else bounds[1])
        return draw(st.floats(low, high))
    if hint is bool:
        return draw(st.booleans())
    if hint is str:
        return draw(st.sampled_from(NAMES))
    if isinstance(hint, type) and issubclass(hint, Data):  # blueprints, cell rows ...
        return recipe(draw, hint, profile, depth)
    raise AssertionError(f"no strategy for {hint!r}")


def _annotated(draw, hint, profile, depth, bounds):
    base, *constraints = get_args(hint)
    low = next((c for c in constraints if isinstance(c, Min)), None)
    high = next((c for c in constraints if isinstance(c, Max)), None)
    if any(isinstance(c, Broadcast) for c in constraints) and chance(draw, 30):
        base = int  # a scalar stands for the pair
    if chance(draw, profile.edges):  # on and around the bounds
        edges = [b.bound + d for b in (low, high) if b is not None for d in (-1, 0, 1)]
        if edges:
            edge = draw(st.sampled_from(edges))
            return _shaped(base, edge)
    lo = None if low is None else low.bound + (1e-9 if low.exclusive else 0)
    hi = None if high is None else high.bound - (1e-9 if high.exclusive else 0)
    return value(draw, base, profile, depth, (lo, hi))


def _shaped(base, number):
    """``number`` as the annotation's base type holds it (every item of a tuple)."""
    if base is int or base is float:
        return base(number)
    if get_origin(base) is tuple:
        args = get_args(base)
        count = 1 if (len(args) == 2 and args[1] is Ellipsis) else len(args)
        return tuple(_shaped(args[0] if not isinstance(args[0], type) or args[0] in (int, float)
                             else int, number) for _ in range(count))
    return number


def marker(draw, hint, profile, depth):
    """A search-space marker standing for a value of ``hint``."""
    kind = draw(st.sampled_from(MARKERS))
    if kind == "Choice":
        values = tuple(value(draw, hint, profile, depth) for _ in range(draw(st.integers(1, 3))))
        fields = (("values", values),)
        if chance(draw, 30):
            fields += (("default", draw(st.sampled_from(values))),)
        return Recipe("Choice", fields)
    if kind == "Boolean":
        return Recipe("Boolean", (("default", draw(st.booleans())),))
    number = int if kind == "Int" else float
    a = value(draw, number, profile, depth)
    b = value(draw, number, profile, depth)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)) and b < a:
        a, b = b, a  # a wild value may be anything: the marker then refuses it
    return Recipe(kind, (("low", a), ("high", b)))


def recipe(draw, hint, profile, depth) -> Recipe:
    """A recipe of one of the registered types a field annotated ``hint`` may hold."""
    kinds = kinds_of(hint)
    if depth <= 0:
        kinds = tuple(k for k in kinds if k in leaves()) or kinds
    kind = draw(st.sampled_from(kinds))
    cls = TYPES[kind]
    fields = []
    for field in dataclasses.fields(cls):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if field.name == "name":
            if chance(draw, profile.names):
                fields.append(("name", draw(st.sampled_from(NAMES))))
            continue
        if not required and not chance(draw, 40):
            continue
        if chance(draw, profile.markers):
            fields.append((field.name, marker(draw, hints(cls)[field.name], profile, depth - 1)))
        else:
            fields.append((field.name, value(draw, hints(cls)[field.name], profile, depth - 1)))
    return Recipe(kind, tuple(fields))


@st.composite
def recipes(draw, profile: Profile = Profile(), hint=Blueprint):
    """A recipe of any registered blueprint type (``hint``: a base class or union)."""
    return recipe(draw, hint, profile, profile.depth)


SHAPES = ((16, 16, 3), (9, 9, 4), (8, 8, 3), (6, 4), (12,), (None, None, 3), (None, 4))


@st.composite
def input_shapes(draw, profile: Profile = Profile()):
    """Input shapes: mostly usual ones, else as ``Network.input_shape`` declares them
    (in and out of range)."""
    if chance(draw, 80):
        return draw(st.sampled_from(SHAPES))
    return value(draw, hints(TYPES["Network"])["input_shape"], profile, 0)


@st.composite
def small_networks(draw):
    """A Network of a few small blueprints on a small input, mostly valid."""
    profile = Profile(wild=0, edges=0, markers=1, names=3, size=4, depth=2, width=2)
    shape = draw(st.sampled_from(SHAPES[:3] if chance(draw, 70) else SHAPES))
    layers = tuple(recipe(draw, Blueprint, profile, profile.depth)
                   for _ in range(draw(st.integers(1, 3))))
    fields = [("input_shape", shape), ("body", Recipe("Sequence", (("layers", layers),)))]
    if chance(draw, 30):
        fields.append(("head", recipe(draw, Blueprint, profile, 1)))
    return Recipe("Network", tuple(fields))


# --- JSON mutations ----------------------------------------------------------------------------


# A key written as this prefix and a field name is written as the bare name: the object
# then has that key twice (Python's json keeps the last).
TWICE = "\u0000twice:"


def dumps(value) -> str:
    """JSON text, NaN and infinities as Python reads them, ``TWICE`` keys duplicated."""
    return json.dumps(value).replace(json.dumps(TWICE)[1:-1], "")


def _places(doc, here=()):
    """Every (path, value) in a document, paths as tuples of keys and indices."""
    yield here, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _places(v, here + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _places(v, here + (i,))


def _replace(doc, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, new)}
    return doc[:head] + [_replace(doc[head], rest, new)] + doc[head + 1:]


def _nested(depth, inner):
    for _ in range(depth):
        inner = {"type": "Sequence", "layers": [inner]}
    return inner


@st.composite
def mutation(draw, doc, deep=True):
    """``doc`` with one change at a random place: a number or flag tweaked (most often:
    the document may stay valid), a key deleted, a value replaced (wild values, a huge
    number, deep nesting unless not ``deep``), a type swapped."""
    places = list(_places(doc))
    hows = ["tweak"] * 4 + ["delete", "replace", "swap_type", "huge"]
    how = draw(st.sampled_from(hows + ["nest", "wrap"] if deep else hows))
    numbers = [(p, v) for p, v in places if isinstance(v, (int, float))]
    if how == "tweak" and numbers:
        path, old = draw(st.sampled_from(numbers))
        if isinstance(old, bool):
            return _replace(doc, path, not old)
        if isinstance(old, int):
            return _replace(doc, path, draw(st.sampled_from([old + 1, old - 1, old * 2, old // 2])))
        return _replace(doc, path, draw(st.sampled_from([old * 2, old / 2, old + 1.0, -old])))
    path, old = draw(st.sampled_from(places))
    if how == "delete" and path:
        parent = _get(doc, path[:-1])
        if isinstance(parent, dict):
            return _replace(doc, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})
        return _replace(doc, path[:-1], parent[:path[-1]] + parent[path[-1] + 1:])
    if how == "swap_type" and isinstance(old, dict):
        return _replace(doc, path, {**old, "type": draw(st.sampled_from(sorted(TYPES)))})
    if how == "huge" and isinstance(old, (int, float)) and not isinstance(old, bool):
        return _replace(doc, path, draw(st.sampled_from([10**12, MAX_INT + 1, 10**400, 1e300,
                                                         MAX_REPEATS, old * 1000 + 1])))
    if how == "nest":
        depth = draw(st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 10]))
        return _replace(doc, path, _nested(depth, old))
    if how == "wrap":  # in a list, or deep in lists (past what a document may nest)
        return _replace(doc, path, _deep_list(250) if chance(draw, 20) else [old])
    return _replace(doc, path, wild_value(draw))


def _deep_list(depth):
    inner = 1
    for _ in range(depth):
        inner = [inner]
    return inner


def _duplicate_key(draw, doc):
    """One object of ``doc`` written with a key twice (the last one wins in Python)."""
    objects = [(path, v) for path, v in _places(doc) if isinstance(v, dict) and v]
    if not objects:
        return doc
    path, old = draw(st.sampled_from(objects))
    key = draw(st.sampled_from(sorted(old)))
    return _replace(doc, path, {**old, TWICE + key: wild_value(draw)})


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


@functools.cache
def registered_documents() -> dict:
    return {name: builder.load(name).to_dict() for name in builder.registry.names()}


@st.composite
def mutated_documents(draw, names=None):
    """(name, JSON text) of a registered blueprint with one to three mutations."""
    docs = registered_documents()
    name = draw(st.sampled_from(sorted(names or docs)))
    doc = docs[name]
    for i in range(draw(st.sampled_from([1, 1, 2, 3]))):
        doc = draw(mutation(doc, deep=i == 0))  # one deep change at most: the walks recurse
    if chance(draw, 25):
        doc = _duplicate_key(draw, doc)
    return name, dumps(doc)


# --- the guard -----------------------------------------------------------------------------------


class Exhausted(Exception):
    """An example ran past its time or memory bound."""


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the time bound still holds
        return 0


@contextlib.contextmanager
def bounded(seconds: float, megabytes: float):
    """Raise ``Exhausted`` inside the block if it runs past ``seconds`` or the process's
    resident memory grows by more than ``megabytes`` (checked every 50 ms from a thread,
    which interrupts the main thread as a signal would)."""
    start, base, done, reason = time.monotonic(), _rss(), threading.Event(), []

    def watch():
        while not done.wait(0.05):
            grown = (_rss() - base) / 2**20
            if time.monotonic() - start > seconds:
                reason.append(f"ran past {seconds} s")
            elif grown > megabytes:
                reason.append(f"grew the process by {grown:.0f} MB (bound {megabytes} MB)")
            else:
                continue
            _thread.interrupt_main(signal.SIGALRM)
            return

    def stop(signum, frame):
        raise Exhausted(reason[0] if reason else "interrupted")

    previous = signal.signal(signal.SIGALRM, stop)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        signal.signal(signal.SIGALRM, previous)
