"""Blueprint machinery: frozen typed dataclasses, checked when made, serializable.

A blueprint class is declared with ``@blueprint`` over a plain annotated class. Every
field is checked against its annotation when the object is made (and again by
``dataclasses.replace``); lists from JSON become tuples, a scalar given for a pair
becomes a pair, and a wrong value raises ``BlueprintError`` naming the class, the field,
the value and the valid choices. Field values may also be search-space markers
(``Choice``, ``Int``, ...): each candidate value is checked the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import sys
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ..errors import BlueprintError, did_you_mean
from ..text import brief, shape_text

# JSON type name -> class. Only these can be made from JSON: nothing is imported.
TYPES: dict[str, type] = {}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")

# Bounds that keep a hostile or mistyped blueprint from hanging or exhausting memory;
# real networks stay far below them (the registered ones nest at most 6 levels deep and
# repeat a block at most 48 times in a row: DenseNet-201's third dense block).
MAX_DEPTH = 100  # blueprints inside blueprints; deeper trees would exhaust Python's stack
MAX_REPEATS = 10_000  # one Repeat / StridedRepeat / DenseBlock / Recurrent
MAX_INT = 2**63 - 1  # every int field fits the int64 that backends store sizes in
MAX_FINITE_INT = int(sys.float_info.max)  # larger ints have no float


# --- constraints usable inside Annotated[...] -------------------------------------------


@dataclasses.dataclass(frozen=True)
class Min:
    """Every number in the value is at least (or, exclusive, above) ``bound``."""

    bound: float
    exclusive: bool = False

    def check(self, value, where):
        for v in _numbers(value):
            # written so that NaN, which fails every comparison, fails the check too
            if not (v > self.bound or (not self.exclusive and v == self.bound)):
                op = ">" if self.exclusive else ">="
                raise _specific(f"{_w(where)} must be {op} {self.bound}, got {brief(value)}")


@dataclasses.dataclass(frozen=True)
class Max:
    bound: float
    exclusive: bool = False

    def check(self, value, where):
        for v in _numbers(value):
            if not (v < self.bound or (not self.exclusive and v == self.bound)):
                op = "<" if self.exclusive else "<="
                raise _specific(f"{_w(where)} must be {op} {self.bound}, got {brief(value)}")


class Broadcast:
    """A scalar stands for a tuple of ``size`` equal values (``kernel_size=3``)."""

    def __init__(self, size: int):
        self.size = size

    def prepare(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return (value,) * self.size
        return value


class Named:
    """A string that is usable as one segment of a blueprint path."""

    def check(self, value, where):
        if isinstance(value, str) and not NAME_PATTERN.match(value):
            raise _specific(
                f"{_w(where)} {brief(value)} is not a usable name: use letters, digits, '_' and '-'")


def _specific(message):
    error = BlueprintError(message)
    error.specific = True  # the type was right, the value was not
    return error


def _numbers(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _numbers(v)


# Common field types.
PositiveInt = Annotated[int, Min(1)]
NonNegativeInt = Annotated[int, Min(0)]
Pair = Annotated[tuple[int, int], Broadcast(2), Min(1)]
Rate = Annotated[float, Min(0.0), Max(1.0, exclusive=True)]
Fraction = Annotated[float, Min(0.0), Max(1.0)]
Epsilon = Annotated[float, Min(0.0, exclusive=True)]  # added to a variance (normalization)
# Batch norm's moving-average momentum: 0.99 as Keras; 0.9 settles in few steps (small data)
Momentum = Annotated[float, Min(0.0), Max(1.0)]
Name = Annotated[str, Named()]
Repeats = Annotated[int, Min(1), Max(MAX_REPEATS)]  # how many times a block repeats
Shape = tuple[Union[Annotated[int, Min(1)], None], ...]


# --- describing and checking values against annotations ------------------------------------


def describe(hint) -> str:
    """A phrase for what a field accepts, for error messages."""
    origin = get_origin(hint)
    if origin is Annotated:
        return describe(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in get_args(hint))
    if origin is Literal:
        return ", ".join(repr(a) for a in get_args(hint))
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of ({describe(args[0])})"
        return f"a list of {len(args)} ({', '.join(describe(a) for a in args)})"
    if hint is type(None):
        return "None"
    if hint is Any:
        return "anything"
    if isinstance(hint, type):
        if hint.__name__ == "Blueprint":  # the base class, defined below
            return "a blueprint"
        return {int: "an int", float: "a number", bool: "true/false", str: "a string"}.get(
            hint, f"a {hint.__name__} blueprint"
        )
    return str(hint)


def _w(where) -> str:
    """``where`` is a string or, to save formatting on the fast path, a callable."""
    return where() if callable(where) else where


def coerce(value, hint, where):
    """Check ``value`` against the annotation ``hint``; return it normalized."""
    return checker(hint)(value, where)


def _fail(hint, value, where, extra=""):
    raise BlueprintError(f"{_w(where)} must be {describe(hint)}, got {brief(value)}{extra}")


@functools.cache
def checker(hint):
    """Compile an annotation once into a function ``(value, where) -> value``.

    Markers are taken first at every level: each candidate value is checked against the
    whole annotation (a Choice(["same", 1]) on a padding field that takes both).
    """
    inner = _compile(hint)

    def check(value, where):
        if isinstance(value, Marker):
            return value.checked(lambda v: check(v, where), hint, _w(where))
        return inner(value, where)

    return check


def _compile(hint):
    """The checker of one annotation, by its form."""
    origin = get_origin(hint)
    if origin is Annotated:
        return _annotated(hint)
    if hint is Any:
        return lambda value, where: value
    if origin in (Union, types.UnionType):
        return _union(hint)
    if origin is Literal:
        return _literal(hint)
    if origin is tuple:
        return _tuple(hint)
    return _plain(hint)


def _annotated(hint):
    """``Annotated[base, constraints...]``: prepare (``Broadcast``), check the base, then
    the constraints (``Min``, ``Max``, ``Named`` ...)."""
    base, *constraints = get_args(hint)
    prepares = [c.prepare for c in constraints if hasattr(c, "prepare")]
    checks = [c.check for c in constraints if hasattr(c, "check")]
    inner = checker(base)

    def annotated(value, where):
        for prepare in prepares:
            value = prepare(value)
        value = inner(value, where)
        for check in checks:
            check(value, where)
        return value

    return annotated


def _union(hint):
    arms = [checker(a) for a in get_args(hint)]

    def union(value, where):
        errors = []
        for arm in arms:
            try:
                return arm(value, where)
            except BlueprintError as e:
                errors.append(e)
        # An arm that took the value's type but not its value (a range, a close
        # name) says more than the generic "must be X or Y": report that one.
        for e in errors:
            if getattr(e, "specific", False):
                raise e
        _fail(hint, value, where)

    return union


def _literal(hint):
    choices = get_args(hint)
    allowed = {(type(c), c) for c in choices}

    def literal(value, where):
        try:
            if (type(value), value) in allowed:
                return value
        except TypeError:  # unhashable
            pass
        suggestion = did_you_mean(value, choices) if isinstance(value, str) else ""
        error = BlueprintError(f"{_w(where)} must be {describe(hint)}, got {brief(value)}{suggestion}")
        error.specific = bool(suggestion)
        raise error

    return literal


def _tuple(hint):
    """``tuple[X, ...]`` (any length) or ``tuple[X, Y]`` (fixed); lists become tuples."""
    args = get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        item = checker(args[0])

        def sequence(value, where):
            if not isinstance(value, (list, tuple)):
                _fail(hint, value, where)
            return tuple([item(v, lambda i=i: f"{_w(where)}[{i}]") for i, v in enumerate(value)])

        return sequence
    items = [checker(a) for a in args]

    def fixed(value, where):
        if not isinstance(value, (list, tuple)):
            _fail(hint, value, where)
        if len(value) != len(items):
            raise BlueprintError(f"{_w(where)} must be {describe(hint)}, got "
                                 f"{len(value)} values: {brief(value)}")
        return tuple([c(v, lambda i=i: f"{_w(where)}[{i}]")
                      for i, (c, v) in enumerate(zip(items, value))])

    return fixed


def _plain(hint):
    """None, float, int, bool, str, or a class (a nested blueprint)."""
    if hint is float:
        return _finite_number
    if hint is int:
        return _int64
    if not isinstance(hint, type):
        raise TypeError(f"unsupported field annotation {hint!r}")
    if hint in (type(None), bool, str):
        def exact(value, where):
            return value if type(value) is hint else _fail(hint, value, where)

        return exact

    def instance(value, where):
        return value if isinstance(value, hint) else _fail(hint, value, where)

    return instance


def _finite_number(value, where):
    """A float field's checker: an int or a float, finite."""
    if type(value) is float:
        if math.isfinite(value):
            return value
    elif type(value) is int:
        if abs(value) <= MAX_FINITE_INT:
            return float(value)
    else:
        _fail(float, value, where)
    # NaN passes every range check (its comparisons are all false) and inf breaks the
    # arithmetic after it: no field takes either.
    raise _specific(f"{_w(where)} must be a finite number, got {brief(value)}")


def _int64(value, where):
    """An int field's checker: an int (not a bool) that fits in 64 bits."""
    if type(value) is not int:
        _fail(int, value, where)
    if abs(value) > MAX_INT:
        raise _specific(f"{_w(where)} must be at most {MAX_INT:,} in absolute value "
                        f"(64 bits), got {brief(value)}")
    return value


# --- the base class -------------------------------------------------------------------------


_NO_DEFAULT = object()


@functools.cache
def _plan(cls) -> tuple:
    """(field name, compiled checker, where-string, default) for each field of ``cls``.

    Each default is checked here, once; a value that *is* the default object needs no
    check again (blocks make many layers that keep most of their defaults).
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    plan = []
    for f in dataclasses.fields(cls):
        check, where = checker(hints[f.name]), f"{cls.__name__}.{f.name}"
        default = f.default if f.default is not dataclasses.MISSING else _NO_DEFAULT
        if default is not _NO_DEFAULT and check(default, where) is not default:
            default = _NO_DEFAULT  # a default that needs normalizing is checked each time
        plan.append((f.name, check, where, default))
    return tuple(plan)


def field_value(cls, name: str, value):
    """``value`` as field ``name`` of ``cls`` holds it, checked and normalized
    (``3`` on a pair field is ``(3, 3)``); raises ``BlueprintError``."""
    for field, check, where, _default in _plan(cls):
        if field == name:
            return check(value, where)
    raise BlueprintError(f"{cls.__name__} has no field {name!r}")


def holds_markers(value) -> bool:
    if isinstance(value, Marker):
        return True
    if isinstance(value, Data):
        return value._has_markers
    if type(value) is tuple:
        return any(holds_markers(v) for v in value)
    return False


def _nesting(value) -> int:
    """How many blueprints (or markers) deep ``value`` nests."""
    if isinstance(value, Data):
        return value._depth
    if type(value) is tuple:
        return max((_nesting(v) for v in value), default=0)
    return 0


class Data:
    """Frozen, checked, JSON-serializable value: the base of blueprints and markers."""

    _has_markers = False  # set per object when it is made
    _depth = 1  # this object and the deepest chain of blueprints inside it

    def __post_init__(self):
        markers = False
        depth = 0
        for name, check, where, default in _plan(type(self)):
            value = getattr(self, name)
            if value is default:
                continue  # defaults are checked once, when the class is first used
            checked = check(value, where)
            if checked is not value:
                object.__setattr__(self, name, checked)
            markers = markers or holds_markers(checked)
            depth = max(depth, _nesting(checked))
        # Recorded once, so that lowering can skip the walk for marker-free trees.
        object.__setattr__(self, "_has_markers", markers)
        if depth >= MAX_DEPTH:
            # Every walk over a tree (lowering, JSON, equality) recurses once per level.
            raise BlueprintError(
                f"{type(self).__name__}: blueprints nest more than {MAX_DEPTH} levels deep "
                f"here, the limit; use Repeat or a block for long chains")
        if depth:
            object.__setattr__(self, "_depth", depth + 1)
        self.validate()

    def validate(self) -> None:
        """Checks across fields; subclasses raise BlueprintError."""

    @classmethod
    def arguments(cls, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The constructor's arguments in the dataclass's own form; a blueprint type
        overrides it to take a shorthand (``Sequence(a, b)`` for ``Sequence((a, b))``)."""
        return args, kwargs

    @property
    def kind(self) -> str:
        return type(self).__name__

    def replace(self, **changes):
        """A copy with some fields changed, checked again."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = {"type": type(self).__name__}
        for f in dataclasses.fields(self):
            out[f.name] = encode(getattr(self, f.name))
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


class Marker(Data):
    """A field value that stands for several values (a search space); the kinds are in
    ``builder.dsl.markers``. ``label`` names the hyperparameter (default: its path)."""

    def checked(self, check, hint, where):
        """The marker with every candidate value checked by ``check`` (the field's)."""
        raise NotImplementedError

    def candidates(self) -> tuple:
        """Values to check against the field (for ranges: the two ends)."""
        raise NotImplementedError


def encode(value):
    """A field value in its JSON form (blueprints and markers as dicts, tuples as lists)."""
    if isinstance(value, Data):
        return value.to_dict()
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    return value


def replace(obj, **changes):
    """``dataclasses.replace`` with the same clear error for an unknown field."""
    names = [f.name for f in dataclasses.fields(obj)]
    for key in changes:
        if key not in names:
            raise BlueprintError(
                f"{type(obj).__name__} has no field {key!r}{did_you_mean(key, names)}; "
                f"fields: {', '.join(names)}"
            )
    return dataclasses.replace(obj, **changes)


def blueprint(cls=None, /, *, register: bool = True):
    """Class decorator: a frozen dataclass whose fields are checked, registered by name."""

    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True)(cls)
        init = cls.__init__

        @functools.wraps(init)
        def checked_init(self, *args, **kwargs):
            args, kwargs = cls.arguments(args, kwargs)
            try:
                init(self, *args, **kwargs)
            except TypeError as e:
                names = [f.name for f in dataclasses.fields(cls)]
                bad = [k for k in kwargs if k not in names]
                hint = (f"unknown field {bad[0]!r}{did_you_mean(bad[0], names)}" if bad
                        else re.sub(r"^\S*__init__\(\) ", "", str(e)))
                raise BlueprintError(f"{cls.__name__}: {hint}; fields: {', '.join(names)}") from None

        cls.__init__ = checked_init
        if register:
            if cls.__name__ in TYPES and TYPES[cls.__name__] is not cls:
                raise TypeError(f"two blueprint types are named {cls.__name__}")
            TYPES[cls.__name__] = cls
        return cls

    return wrap(cls) if cls is not None else wrap


@dataclasses.dataclass(frozen=True)
class Blueprint(Data):
    """A node of a network description. ``name`` becomes its segment of the path."""

    name: Name | None = dataclasses.field(default=None, kw_only=True)

    def children(self) -> tuple[Child, ...]:
        """The blueprints this one holds, with their path segments, in lowering order.
        A primitive or a Block whose parts are made by its expansion holds none."""
        return ()

    def root_path(self) -> str:
        """This blueprint's path when it is the top of a tree: its name (or its
        snake-case kind); a Network and an unnamed Sequence add no segment (``""``)."""
        return self.name or snake(self.kind)

    def at(self, path: str) -> Blueprint:
        """The sub-blueprint at ``path``, as ``builder summary`` prints it
        (``"stage2/block1"``; ``""`` is this one); see ``builder.dsl.paths``."""
        from .paths import at  # paths walks these classes: it imports this module

        return at(self, path)


@dataclasses.dataclass(frozen=True)
class Child:
    """A blueprint held by another one: ``segment`` is its part of the path (``""``: it
    sits at its parent's own path), ``field`` and ``index`` say where the parent holds it
    (``index`` for a tuple field), and ``marker`` is the marker (a ``Choice`` of blocks)
    whose default it is, or None."""

    segment: str
    field: str
    index: int | None
    blueprint: Blueprint
    marker: Marker | None = None


def unmarked(value):
    """``(value, None)``, or for a marker ``(its default, the marker)``: the blueprint a
    search space lowers at its defaults."""
    marker = None
    while isinstance(value, Marker):
        marker = marker or value
        value = value.default
    return value, marker


class Layer(Blueprint):
    """A primitive: lowers to exactly one graph node; its rules live in ``builder.ops``."""


class Block(Blueprint):
    """A composite: ``expand(input_shape)`` returns an equivalent tree of simpler blueprints."""

    def expand(self, input_shape: tuple) -> Blueprint:
        raise NotImplementedError

    def input_channels(self, input_shape: tuple) -> int:
        """The input's number of channels (its last axis), for blocks sized from it;
        raises ``BlueprintError`` when the input has no axis or that size is unknown."""
        if not input_shape or input_shape[-1] is None:
            raise BlueprintError(
                f"{self.kind} needs a known number of input channels, got {shape_text(input_shape)}")
        return input_shape[-1]

    def lower(self, ctx, x: str, path: str) -> str:
        return ctx.lower_inline(self.expand(ctx.shape(x)), x, path)


def snake(name: str) -> str:
    """``SeparableConv2D`` -> ``separable_conv2d`` (default child names)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
