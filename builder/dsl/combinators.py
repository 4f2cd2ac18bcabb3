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
from .base import (Block, Blueprint, Min, PositiveInt, Rate, Repeats, Shape, blueprint, snake)
from .layers import (ActivationName, Activation, Add, Concatenate, Dense, Dropout,
                     Flatten, GlobalPool, Initializer, Multiply)


def _child_names(children, default):
    """Path segments for children: their own names, else ``default(i, child)``."""
    names = []
    for i, child in enumerate(children, start=1):
        # A marker standing for a child (a Choice of blocks) has no name of its own.
        names.append(getattr(child, "name", None) or default(i, child))
    seen = set()
    for n in names:
        if n in seen:
            raise BlueprintError(f"two children are named {n!r}; names must be unique")
        seen.add(n)
    return names


@blueprint
class Sequence(Blueprint):
    """Layers applied one after the other."""

    layers: tuple[Blueprint, ...]

    def validate(self):
        if not self.layers:
            raise BlueprintError("Sequence.layers is empty")
        _child_names(self.layers, lambda i, c: f"{snake(c.kind)}{i}")

    def lower(self, ctx, x, path):
        names = _child_names(self.layers, lambda i, c: f"{snake(c.kind)}{i}")
        for name, layer in zip(names, self.layers):
            x = ctx.lower(layer, x, ctx.join(path, name))
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

    def validate(self):
        if len(self.branches) < 2:
            raise BlueprintError(f"Parallel needs at least two branches, got {len(self.branches)}")
        _child_names(self.branches, lambda i, c: f"branch{i}")

    def lower(self, ctx, x, path):
        names = _child_names(self.branches, lambda i, c: f"branch{i}")
        outs = [ctx.lower(b, x, ctx.join(path, n)) for n, b in zip(names, self.branches)]
        merge = {"concat": Concatenate(), "add": Add(), "multiply": Multiply()}[self.merge]
        return ctx.add(ctx.join(path, self.merge), merge, outs, branches=names)


@blueprint
class Residual(Blueprint):
    """out = activation(body(x) + shortcut(x)); without a shortcut it is the identity,
    which needs the body to keep the shape. ``drop_rate`` drops the body per example
    (stochastic depth) while training."""

    body: Blueprint
    shortcut: Blueprint | None = None  # None: identity
    activation: ActivationName | None = None
    drop_rate: Rate = 0.0

    def lower(self, ctx, x, path):
        body_path = path if _transparent(self.body) else ctx.join(path, self.body.name or "body")
        if body_path == path:
            y = self.body.lower(ctx, x, path)
        else:
            y = ctx.lower(self.body, x, body_path)
        if self.drop_rate:
            y = ctx.add(ctx.join(path, "drop"), Dropout(self.drop_rate, per_sample=True), [y])
        if self.shortcut is None or isinstance(self.shortcut, Identity):
            s = x
        else:
            s = ctx.lower(self.shortcut, x, ctx.join(path, self.shortcut.name or "shortcut"))
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

    def lower(self, ctx, x, path):
        prefix = self.block.name or snake(self.block.kind)
        blocks = ((f"{prefix}{i}", self.block) for i in range(1, self.times + 1))
        return ctx.lower_repeated(blocks, self.times, x, path)


@dataclasses.dataclass(frozen=True)
class Cell(Blueprint):
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
        _child_names(self.cells, lambda i, c: f"cell{i}")

    def lower(self, ctx, x, path):
        names = _child_names(self.cells, lambda i, c: f"cell{i}")
        h, h_prev = x, None
        for name, cell in zip(names, self.cells):
            # The pair travels through ctx.lower so that the cell gets a scope (a row).
            out = ctx.lower(cell, (h, h_prev), ctx.join(path, name))
            h, h_prev = out, (h_prev if cell.keep_prev else h)
        return h


@blueprint
class SideOutput(Blueprint):
    """An extra output (an auxiliary classifier) computed from this point; passes the
    input through. ``loss_weight`` weighs its loss in training."""

    head: Blueprint
    loss_weight: Annotated[float, Min(0.0)] = 0.3

    def lower(self, ctx, x, path):
        out = ctx.lower(self.head, x, path)
        ctx.side_outputs.append((out, self.loss_weight))
        return x


@blueprint
class ClassifierHead(Block):
    """Pooling, optional hidden dense layers, dropout, the class scores and softmax."""

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
        if self.pool == "flatten":
            layers.append(Flatten(name="flatten"))
        elif self.pool != "none":
            layers.append(GlobalPool(self.pool, name="pool"))
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

    def validate(self):
        if not self.input_shape:
            raise BlueprintError("Network.input_shape is empty")

    def lower(self, ctx, x, path):
        if _transparent(self.body):
            x = self.body.lower(ctx, x, path)
        else:
            x = ctx.lower(self.body, x, ctx.join(path, self.body.name or "body"))
        if self.head is not None:
            x = ctx.lower(self.head, x, ctx.join(path, self.head.name or "head"))
        return x

    @property
    def classes(self) -> int | None:
        return getattr(self.head, "classes", None)


def _transparent(body) -> bool:
    # An unnamed Sequence adds no path segment: its children sit directly in the parent
    # (``block1/conv1`` rather than ``block1/body/conv1``).
    return isinstance(body, Sequence) and body.name is None

