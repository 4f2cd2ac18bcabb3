"""Combinators: how blueprints are wired together.

Each one lowers itself into graph nodes through the lowering context (``builder.graph``),
giving every child a path segment: its own ``name`` when it has one, else a default
(``conv2d1``, ``branch2``, ``block3`` ...).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from ..errors import BlueprintError
from ..text import shape_text
from .base import (Block, Blueprint, Child, Marker, Min, PositiveInt, Rate, Repeats, Shape,
                   blueprint, snake, unmarked)
from .layers import (ActivationName, Activation, Add, Concatenate, Dense, Dropout,
                     Flatten, GlobalPool, Initializer, Multiply)


def named_children(bp, field: str, default) -> tuple[Child, ...]:
    """The children in tuple field ``field`` of ``bp``, each named by its own name, else
    ``default(i, child)`` (i from 1). A marker standing for a child (a Choice of blocks)
    is named as its default is, which is what lowering meets."""
    items = [unmarked(v) for v in getattr(bp, field)]
    names = [child.name or default(i, child) for i, (child, _) in enumerate(items, start=1)]
    seen = set()
    for n in names:
        if n in seen:
            raise BlueprintError(f"two children are named {n!r}; names must be unique")
        seen.add(n)
    return tuple(Child(n, field, i, child, marker)
                 for i, (n, (child, marker)) in enumerate(zip(names, items)))


def sequence_name(i: int, child) -> str:
    """A Sequence's default name for its i-th child: ``conv2d1``, ``batch_norm2`` ..."""
    return f"{snake(child.kind)}{i}"


def _children_or_parts(cls, args: tuple, kwargs: dict, field: str, more: int = 0):
    """Children given one by one (``Sequence(a, b, c)``) become the tuple field ``field``;
    a tuple or list given whole is taken as it is. ``more`` positional arguments may
    follow the children (Parallel's ``merge``)."""
    count = 0
    while count < len(args) and isinstance(args[count], (Blueprint, Marker)):
        count += 1
    if count == 0:
        return args, kwargs
    if field in kwargs:
        raise BlueprintError(f"{cls.__name__}: children given both one by one and as "
                             f"{field}=...; give them one way")
    if len(args) > count + more:
        rest = ", ".join(repr(a) for a in args[count:])
        raise BlueprintError(
            f"{cls.__name__}: each child must be a blueprint, got {rest} after the children"
            if not more else f"{cls.__name__}: takes {more} argument(s) after the children, "
            f"got {rest}")
    return (tuple(args[:count]),) + tuple(args[count:]), kwargs


@blueprint
class Sequence(Blueprint):
    """Layers applied one after the other."""

    layers: tuple[Blueprint, ...]

    @classmethod
    def arguments(cls, args, kwargs):
        return _children_or_parts(cls, args, kwargs, "layers")

    def validate(self):
        if not self.layers:
            raise BlueprintError("Sequence.layers is empty")
        self.children()

    def root_path(self) -> str:
        return self.name or ""  # unnamed, it adds no segment (its children sit above)

    def children(self):
        return named_children(self, "layers", sequence_name)

    def lower(self, ctx, x, path):
        for child in self.children():
            x = ctx.lower(child.blueprint, x, ctx.join(path, child.segment))
        return x


@blueprint
class Identity(Blueprint):
    """Passes its input through (no node): an identity branch or shortcut."""

    def lower(self, ctx, x, path):
        return x


@blueprint
class Parallel(Blueprint):
    """Branches applied to the same input, merged by concat, add or multiply."""

    branches: tuple[Blueprint, ...]
    merge: Literal["concat", "add", "multiply"] = "concat"

    @classmethod
    def arguments(cls, args, kwargs):
        return _children_or_parts(cls, args, kwargs, "branches", more=1)

    def validate(self):
        if len(self.branches) < 2:
            raise BlueprintError(f"Parallel needs at least two branches, got {len(self.branches)}")
        self.children()

    def children(self):
        return named_children(self, "branches", lambda i, c: f"branch{i}")

    def lower(self, ctx, x, path):
        children = self.children()
        outs = [ctx.lower(c.blueprint, x, ctx.join(path, c.segment)) for c in children]
        merge = {"concat": Concatenate(), "add": Add(), "multiply": Multiply()}[self.merge]
        return ctx.add(ctx.join(path, self.merge), merge, outs,
                       branches=[c.segment for c in children])


@blueprint
class Residual(Blueprint):
    """out = activation(body(x) + shortcut(x)); without a shortcut it is the identity,
    which needs the body to keep the shape. ``drop_rate`` drops the body per example
    (stochastic depth) while training."""

    body: Blueprint
    shortcut: Blueprint | None = None  # None: identity
    activation: ActivationName | None = None
    drop_rate: Rate = 0.0

    def children(self):
        kids = [_part(self, "body", "body")]
        shortcut, _ = unmarked(self.shortcut)
        if shortcut is not None and not isinstance(shortcut, Identity):
            kids.append(_part(self, "shortcut", "shortcut"))
        return tuple(kids)

    def lower(self, ctx, x, path):
        kids = {c.field: c for c in self.children()}
        y = _lower_part(ctx, kids["body"], x, path)
        if self.drop_rate:
            y = ctx.add(ctx.join(path, "drop"), Dropout(self.drop_rate, per_sample=True), [y])
        s = _lower_part(ctx, kids["shortcut"], x, path) if "shortcut" in kids else x
        if ctx.shape(y) != ctx.shape(s):
            raise BlueprintError(
                f"the residual adds the body's output {shape_text(ctx.shape(y))} to the shortcut's "
                f"{shape_text(ctx.shape(s))}; the body changes the shape, so give the residual a "
                f"projection shortcut (e.g. shortcut=Conv2D({ctx.shape(y)[-1]}, 1, "
                f"strides=...)) or keep the body's shape",
                path=path or "(top)",
            )
        out = ctx.add(ctx.join(path, "add"), Add(), [y, s])
        if self.activation:
            out = ctx.add(ctx.join(path, "out"), Activation(self.activation), [out])
        return out


@blueprint
class Repeat(Blueprint):
    """``block`` applied ``times`` times in a row, named ``<name>1 .. <name>N``."""

    block: Blueprint
    times: Repeats

    def children(self):
        # Every copy is the one blueprint of field ``block``: an edit through any copy's
        # path changes them all.
        block, marker = unmarked(self.block)
        prefix = block.name or snake(block.kind)
        return tuple(Child(f"{prefix}{i}", "block", None, block, marker)
                     for i in range(1, unmarked(self.times)[0] + 1))

    def lower(self, ctx, x, path):
        blocks = ((child.segment, child.blueprint) for child in self.children())
        return ctx.lower_repeated(blocks, self.times, x, path)


@dataclasses.dataclass(frozen=True)
class Cell(Block):
    """A block over two inputs, as the cells of searched architectures (NASNet) are:
    ``h``, the output of the cell before it, and ``h_prev``, the output of the cell
    before that (None for the first cell of a row). Cells live in a ``Cells`` row;
    a subclass implements ``lower_cell(ctx, h, h_prev, path)`` and returns its output.

    ``keep_prev``: the next cell's h_prev is this cell's own h_prev rather than its h
    (NASNet-A Large's ``skip_reduction``: the cell after a reduction reads past it).
    """

    keep_prev: bool = dataclasses.field(default=False, kw_only=True)

    def lower(self, ctx, x, path):
        if not isinstance(x, tuple):
            raise BlueprintError(
                f"a {self.kind} reads two inputs (h, h_prev): put it in a Cells row")
        h, h_prev = x
        return self.lower_cell(ctx, h, h_prev, path)

    def lower_cell(self, ctx, h: str, h_prev: str | None, path: str) -> str:
        raise NotImplementedError


@blueprint
class Cells(Blueprint):
    """Cells in a row: each reads the output of the cell before it and the input of
    that cell (see ``Cell``); the row's input is the first cell's h. Children are
    named by their own names, else ``cell1 .. cellN``."""

    cells: tuple[Cell, ...]

    def validate(self):
        if not self.cells:
            raise BlueprintError("Cells.cells is empty")
        self.children()

    def children(self):
        return named_children(self, "cells", lambda i, c: f"cell{i}")

    def lower(self, ctx, x, path):
        h, h_prev = x, None
        for child in self.children():
            # The pair travels through ctx.lower so that the cell gets a scope (a row).
            out = ctx.lower(child.blueprint, (h, h_prev), ctx.join(path, child.segment))
            h, h_prev = out, (h_prev if child.blueprint.keep_prev else h)
        return h


@blueprint
class SideOutput(Blueprint):
    """An extra output (an auxiliary classifier) computed from this point; passes the
    input through. ``loss_weight`` weighs its loss in training."""

    head: Blueprint
    loss_weight: Annotated[float, Min(0.0)] = 0.3

    def children(self):
        head, marker = unmarked(self.head)
        return (Child("", "head", None, head, marker),)  # the head sits at this path

    def lower(self, ctx, x, path):
        out = ctx.lower(self.head, x, path)
        ctx.side_outputs.append((out, self.loss_weight))
        return x


@blueprint
class ClassifierHead(Block):
    """Pooling, optional hidden dense layers, dropout, the class scores and softmax.

    ``pool`` reduces an image (or a sequence) to features; on features (a 1-D input, after
    a Flatten or a Dense) there is nothing to pool, and the head has no pooling layer
    whatever ``pool`` says.
    """

    classes: PositiveInt
    pool: Literal["avg", "max", "flatten", "none"] = "avg"
    hidden: tuple[PositiveInt, ...] = ()
    hidden_activation: ActivationName = "relu"
    hidden_dropout: Rate = 0.0
    dropout: Rate = 0.0  # before the last dense layer
    activation: ActivationName | None = "softmax"
    kernel_initializer: Initializer = "glorot_uniform"

    def expand(self, input_shape):
        layers = []
        pool = self.pool if len(input_shape) > 1 else "none"  # features need no pooling
        if pool == "flatten":
            layers.append(Flatten(name="flatten"))
        elif pool != "none":
            layers.append(GlobalPool(pool, name="pool"))
        for i, units in enumerate(self.hidden, start=1):
            layers.append(Dense(units, activation=self.hidden_activation, name=f"fc{i}"))
            if self.hidden_dropout:
                layers.append(Dropout(self.hidden_dropout, name=f"fc{i}_dropout"))
        if self.dropout:
            layers.append(Dropout(self.dropout, name="dropout"))
        layers.append(Dense(self.classes, name="logits",
                             kernel_initializer=self.kernel_initializer))
        if self.activation:
            layers.append(Activation(self.activation, name="predictions"))
        return Sequence(tuple(layers))


@blueprint
class Network(Blueprint):
    """A whole model: an input shape, a body and an optional head (``None``: features)."""

    input_shape: Shape
    body: Blueprint
    head: Blueprint | None = None

    @classmethod
    def arguments(cls, args, kwargs):
        """``classes=N`` is a shorthand for ``head=ClassifierHead(N)`` (it is no field: the
        head holds the classes); with a head given too, the two must agree."""
        if "classes" not in kwargs:
            return args, kwargs
        classes = kwargs.pop("classes")
        if len(args) >= 3 or "head" in kwargs:
            head = args[2] if len(args) >= 3 else kwargs["head"]
            held = getattr(unmarked(head)[0], "classes", None)
            if held != classes:
                given = "None" if head is None else f"{head.kind}(classes={held!r})"
                raise BlueprintError(
                    f"Network: classes={classes!r} and head={given} disagree; give the "
                    f"classes in one place (classes=N alone makes head=ClassifierHead(N))")
            return args, kwargs
        return args, {**kwargs, "head": ClassifierHead(classes)}

    def validate(self):
        if not self.input_shape:
            raise BlueprintError("Network.input_shape is empty")

    def root_path(self) -> str:
        return ""

    def children(self):
        kids = [_part(self, "body", "body")]
        if unmarked(self.head)[0] is not None:
            kids.append(_part(self, "head", "head"))
        return tuple(kids)

    def lower(self, ctx, x, path):
        for child in self.children():
            x = _lower_part(ctx, child, x, path)
        return x

    @property
    def classes(self) -> int | None:
        return getattr(self.head, "classes", None)


def _transparent(body) -> bool:
    # An unnamed Sequence adds no path segment: its children sit directly in the parent
    # (``block1/conv1`` rather than ``block1/body/conv1``).
    return isinstance(body, Sequence) and body.name is None


def _part(bp, field: str, default: str) -> Child:
    """The child in field ``field`` of ``bp``, named by its own name, else ``default``;
    a body that is an unnamed Sequence adds no segment."""
    child, marker = unmarked(getattr(bp, field))
    segment = "" if field == "body" and _transparent(child) else (child.name or default)
    return Child(segment, field, None, child, marker)


def _lower_part(ctx, child: Child, x: str, path: str) -> str:
    if child.segment == "":
        return child.blueprint.lower(ctx, x, path)
    return ctx.lower(child.blueprint, x, ctx.join(path, child.segment))

