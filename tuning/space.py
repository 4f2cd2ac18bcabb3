"""Markers through keras-tuner's ``hp``: a search space becomes one concrete candidate.

Each marker of a blueprint becomes one hyperparameter, named by its ``label`` or else by
its place in the tree (``body/stage2/conv.filters``: a child's own ``name`` where it has
one, else the field and index). A ``Choice`` whose options hold markers of their own is a
conditional space: the option is one hyperparameter, and the markers inside each option
are declared under ``hp.conditional_scope`` of it, so they exist only when it is chosen.

Markers that share a label share one hyperparameter (they must be the same marker).
This module does not import keras-tuner: ``hp`` is whatever object is passed in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from typing import Annotated, Literal

from builder.dsl.base import Data, Min, PositiveInt, Rate, blueprint
from builder.dsl.combinators import ClassifierHead, Network
from builder.dsl.markers import Boolean, Choice, Float, Int, Marker, has_markers
from builder.errors import ArgumentError, BlueprintError, did_you_mean
from builder.loader import python_module

# Keys of keras-tuner's own bookkeeping values (Hyperband), not hyperparameters of ours.
TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round",
              "tuner/trial_id")

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")  # as builder train


@blueprint
class TrainingSpace(Data):
    """Training hyperparameters; any field may be a marker, searched like the network's.

    ``dropout`` (when given) replaces the dropout of the network's ClassifierHead;
    ``epochs`` (when given) replaces ``--epochs`` for the random, grid and Bayesian tuners
    (Hyperband chooses epochs itself, up to ``--epochs``).
    """

    learning_rate: Annotated[float, Min(0.0, exclusive=True)] = 1e-3
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    batch_size: PositiveInt = 32
    weight_decay: Annotated[float, Min(0.0)] = 0.0
    dropout: Rate | None = None
    epochs: PositiveInt | None = None


# --- the walk ---------------------------------------------------------------------------


class _Walk:
    """One pass over a tree of blueprints and markers.

    ``declare=True`` registers every hyperparameter of every option (the whole space, for
    the oracle) and builds nothing; otherwise the chosen values are read from ``hp`` and a
    concrete copy of the tree is returned.
    """

    def __init__(self, hp, declare: bool):
        self.hp = hp
        self.declare = declare
        self.seen: dict[str, Marker] = {}

    def value(self, value, path: str):
        if isinstance(value, Marker):
            return self.marker(value, path)
        if isinstance(value, tuple):
            if not has_markers(value):
                return value
            out = [self.value(v, _index(path, i, v)) for i, v in enumerate(value)]
            return None if self.declare else tuple(out)
        if isinstance(value, Data) and has_markers(value):
            changes = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                if has_markers(old):
                    changes[f.name] = self.value(old, _field(path, f.name, old))
            if self.declare:
                return None
            try:
                return dataclasses.replace(value, **changes)
            except BlueprintError as e:  # a combination the block's own checks refuse
                raise BlueprintError(e.detail, path=path or "(top)") from None
        return value

    def marker(self, m: Marker, path: str):
        name = m.label or path or "value"
        if name in self.seen and self.seen[name] != m:
            raise BlueprintError(
                f"two different markers are named {name!r}; markers that share a label "
                "share one hyperparameter and must be the same")
        self.seen[name] = m
        hp = self.hp
        if isinstance(m, Int):
            return hp.Int(name, m.low, m.high, step=m.step, default=m.default)
        if isinstance(m, Float):
            return hp.Float(name, m.low, m.high, sampling=m.sampling, default=m.default)
        if isinstance(m, Boolean):
            return hp.Boolean(name, default=m.default)
        if isinstance(m, Choice):
            return self.choice(m, name)
        raise TypeError(f"unknown marker {m!r}")  # pragma: no cover

    def choice(self, m: Choice, name: str):
        labels = option_labels(m.values)
        plain = labels is None
        keys = list(m.values) if plain else labels
        default = keys[[i for i, v in enumerate(m.values) if _same(v, m.default)][0]]
        picked = self.hp.Choice(name, keys, default=default)
        if plain:
            return picked
        if not self.declare and picked not in keys:
            raise BlueprintError(f"{name}: {picked!r} is not one of the options {keys}")
        # Options holding markers of their own: their markers exist only when chosen.
        resolved = None
        for key, option in zip(keys, m.values):
            if not has_markers(option):
                if key == picked:
                    resolved = option
                continue
            if self.declare or key == picked:
                with self.hp.conditional_scope(name, [key]):
                    value = self.value(option, f"{name}[{key}]")
                if key == picked:
                    resolved = value
        return None if self.declare else resolved


def option_labels(values) -> list[str] | None:
    """Labels for a Choice's options, or None where keras-tuner can take them as they are
    (all ints, all floats, all strings or all booleans)."""
    for kind in (bool, int, float, str):
        if all(type(v) is kind for v in values):
            return None
    labels = []
    for i, v in enumerate(values):
        if isinstance(v, Marker):
            label = v.label or f"option{i + 1}"
        elif isinstance(v, Data):
            label = getattr(v, "name", None) or v.kind
        elif isinstance(v, tuple) and v and all(type(d) is int for d in v):
            label = "x".join(str(d) for d in v)  # a kernel size (3, 3) -> "3x3"
        else:
            label = json.dumps(_plain(v), separators=(",", ":"))
        labels.append(label)
    if len(set(labels)) < len(labels):  # same kind twice: number them
        labels = [f"{label}#{i + 1}" for i, label in enumerate(labels)]
    return labels


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Data):
        return value.to_dict()
    return value


def _same(a, b) -> bool:
    return a == b and type(a) is type(b)


def _segment(value, fallback: str) -> str:
    name = getattr(value, "name", None) if isinstance(value, Data) else None
    return name if isinstance(name, str) and not isinstance(value, Marker) else fallback


def _field(path: str, field: str, value) -> str:
    if isinstance(value, Data) and not isinstance(value, Marker):
        return _join(path, _segment(value, field))
    if isinstance(value, tuple):
        return _join(path, field)
    return f"{path}.{field}" if path else field


def _index(path: str, i: int, value) -> str:
    named = _segment(value, "")
    if named:
        return path.rsplit("/", 1)[0] + "/" + named if "/" in path else named
    return f"{path}[{i}]"


def _join(path: str, segment: str) -> str:
    return f"{path}/{segment}" if path else segment


# --- public functions -------------------------------------------------------------------


def declare(hp, *spaces) -> None:
    """Register every hyperparameter of ``spaces`` (blueprints, TrainingSpace) in ``hp``."""
    walk = _Walk(hp, declare=True)
    for space, root in _roots(spaces):
        walk.value(space, root)


def resolve(hp, *spaces):
    """The concrete values of ``spaces`` for the values held in ``hp`` (a tuple when more
    than one space is given). Markers not yet in ``hp`` take their defaults."""
    walk = _Walk(hp, declare=False)
    out = tuple(walk.value(space, root) for space, root in _roots(spaces))
    return out if len(out) != 1 else out[0]


def _roots(spaces):
    for space in spaces:
        yield space, "training" if isinstance(space, TrainingSpace) else ""


class FixedValues:
    """A stand-in for keras-tuner's ``hp`` holding given values (defaults elsewhere):
    resolves a candidate without keras-tuner, e.g. a finished trial for the report."""

    def __init__(self, values: dict):
        self.values = dict(values)

    def _get(self, name, default):
        return self.values.get(name, default)

    def Int(self, name, low, high, step=1, default=None):
        return self._get(name, default)

    def Float(self, name, low, high, sampling="linear", default=None):
        return self._get(name, default)

    def Boolean(self, name, default=False):
        return self._get(name, default)

    def Choice(self, name, values, default=None):
        return self._get(name, default)

    def conditional_scope(self, name, values):
        return contextlib.nullcontext()


def apply_training(bp, training: TrainingSpace):
    """The network with the training space's dropout put on its ClassifierHead."""
    if training.dropout is None:
        return bp
    if not (isinstance(bp, Network) and isinstance(bp.head, ClassifierHead)):
        raise BlueprintError("training dropout needs a Network with a ClassifierHead head")
    return bp.replace(head=bp.head.replace(dropout=training.dropout))


# --- training markers from the command line -----------------------------------------------


def parse_hp_option(text: str) -> tuple[str, object]:
    """``--hp NAME=SPEC`` -> (field, value or marker). SPEC is a value (``1e-3``), a
    choice (``adam,sgd``), or a range ``LOW..HIGH`` (ints: Int; else Float) with an
    optional ``:log``."""
    field, sep, spec = text.partition("=")
    field = field.strip().replace("-", "_")
    names = [f.name for f in dataclasses.fields(TrainingSpace)]
    if not sep or not spec:
        raise ArgumentError(f"--hp {text!r}: write NAME=VALUE, NAME=A,B,C or NAME=LOW..HIGH[:log]")
    if field not in names:
        raise ArgumentError(f"--hp {text!r}: no training hyperparameter {field!r}"
                            f"{did_you_mean(field, names)}; names: {', '.join(names)}")
    sampling = "linear"
    if spec.endswith(":log"):
        spec, sampling = spec[:-4], "log"
    try:
        if ".." in spec:
            low, high = (_scalar(s) for s in spec.split("..", 1))
            if isinstance(low, int) and isinstance(high, int) and sampling == "linear":
                value = Int(low, high, label=f"training.{field}")
            elif isinstance(low, (int, float)) and isinstance(high, (int, float)):
                value = Float(float(low), float(high), sampling=sampling, label=f"training.{field}")
            else:
                raise ArgumentError(f"--hp {text!r}: a range needs two numbers")
        elif "," in spec:
            value = Choice(tuple(_scalar(s) for s in spec.split(",")), label=f"training.{field}")
        else:
            value = _scalar(spec)
        TrainingSpace(**{field: value})  # checked against the field now
    except BlueprintError as e:
        raise ArgumentError(f"--hp {text!r}: {e.detail}") from None
    return field, value


def _scalar(text: str):
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    return text


def hyperparameter_values(values: dict) -> dict:
    """Trial values without keras-tuner's own bookkeeping keys."""
    return {k: v for k, v in values.items() if k not in TUNER_KEYS}


def load_training(spec: str, overrides: dict | None = None) -> TrainingSpace:
    """The ``training`` TrainingSpace of a blueprint file (``FILE.py[:NAME]``) where it
    defines one, else the defaults; ``overrides`` (from ``--hp``) replace its fields."""
    training = TrainingSpace()
    file = spec.partition(":")[0]
    if file.endswith(".py") and os.path.isfile(file):
        found = getattr(python_module(file), "training", None)  # as builder.load ran it
        if isinstance(found, TrainingSpace):
            training = found
        elif found is not None and not isinstance(found, dict):
            raise BlueprintError(f"training is a {type(found).__name__}, not a TrainingSpace",
                                 path=file)
        elif isinstance(found, dict):  # written by tune in best.py: fixed values
            training = TrainingSpace(**found)
    return training.replace(**overrides) if overrides else training
