"""NASNet-A's searched cells (Zoph et al. 2018, "Learning transferable architectures for
scalable image recognition") as keras.applications NASNet builds them.

A cell (a ``Cell``: it reads two inputs) works on hidden states. ``h`` is its input
after ReLU, a 1x1 convolution to ``filters`` channels and batch norm; ``h_prev`` is the
previous cell's input, matched to h's grid and channels by the ``adjust`` block (none
for the first cell, which reads its input as both). Each ``Combination`` (the paper's
section 3 and Figure 4) applies an operation to one hidden state and an operation to
another, and adds the two: a new hidden state ``x1``, ``x2`` ... that later combinations
may read. The cell's output concatenates the hidden states it lists in ``concat``.
In a reduction cell, operations that read h or h_prev have stride 2.
"""

from __future__ import annotations

from typing import Literal

from ..dsl.base import Block, Data, Name, PositiveInt, blueprint
from ..dsl.combinators import Cell, Parallel, Sequence
from ..dsl.layers import (Activation, Add, AvgPool2D, BatchNorm, Concatenate, Conv2D,
                          Cropping2D, MaxPool2D, SeparableConv2D, ZeroPadding2D)
from ..errors import BlueprintError

__all__ = ["Combination", "NASNetCell", "NASNetSeparable"]

# NASNet-A's operations (the search space of section 3 has a few more).
Operation = Literal["separable_3x3", "separable_5x5", "separable_7x7", "avg_3x3", "max_3x3",
                    "identity"]
INPUTS = ("h", "h_prev")


def _bn(name):
    # keras NASNet's batch norm: a slow moving average, as the TF-slim original.
    return BatchNorm(momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(filters, name):
    return Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal", name=name)


def correct_pad(shape, kernel_size):
    """keras.applications' ``correct_pad``: ((top, bottom), (left, right)) zeros before a
    stride-2 'valid' window of ``kernel_size``, as 'same' padding would place them (an
    unknown size counts as even)."""
    pads = []
    for size in shape[:2]:
        even = size is None or size % 2 == 0
        pads.append((kernel_size // 2 - even, kernel_size // 2))
    return tuple(pads)


@blueprint
class Combination(Data):
    """One pairwise combination of a cell: ``left`` applied to the hidden state
    ``left_input``, plus ``right`` applied to ``right_input``. A hidden state is ``h``,
    ``h_prev`` or an earlier combination of the same cell (``x1``, ``x2`` ...)."""

    left: Operation
    left_input: Name
    right: Operation
    right_input: Name


@blueprint
class NASNetSeparable(Block):
    """keras NASNet's separable operation: ReLU, separable convolution (strided: after
    ``correct_pad`` zeros, 'valid'), BN, ReLU, separable convolution, BN; no biases."""

    filters: PositiveInt
    kernel_size: PositiveInt = 3
    strides: Literal[1, 2] = 1

    def expand(self, input_shape):
        k = self.kernel_size
        first = [Activation("relu", name="act1")]
        if self.strides == 2:
            first.append(ZeroPadding2D(correct_pad(input_shape, k), name="pad"))
        padding = "valid" if self.strides == 2 else "same"
        return Sequence((
            *first,
            SeparableConv2D(self.filters, k, self.strides, padding, use_bias=False,
                            name="separable1"),
            _bn("bn1"),
            Activation("relu", name="act2"),
            SeparableConv2D(self.filters, k, use_bias=False, name="separable2"),
            _bn("bn2"),
        ))


def adjust(filters, h_shape, prev_shape):
    """keras NASNet's ``_adjust_block``: the blueprint that brings h_prev (of
    ``prev_shape``) to h's grid and ``filters`` channels, or None when it fits.

    On a grid twice as large it is the factorized reduction: ReLU, then two paths of
    1x1 average pool at stride 2 and 1x1 convolution (``filters // 2`` each), the second
    shifted by one pixel so that it sees the pixels the first skips; concatenated, BN.
    With other channels only: ReLU, 1x1 convolution, BN.
    """
    if tuple(prev_shape[:2]) != tuple(h_shape[:2]):
        half = filters // 2
        shifted = (ZeroPadding2D(((0, 1), (0, 1)), name="pad"),
                   Cropping2D(((1, 0), (1, 0)), name="crop"))
        paths = Parallel(tuple(
            Sequence((*shift, AvgPool2D(1, 2, name="pool"), _conv1x1(half, "conv")),
                     name=f"path{i}")
            for i, shift in ((1, ()), (2, shifted))), name="paths")
        return Sequence((Activation("relu", name="act"), paths, _bn("bn")))
    if prev_shape[-1] != filters:
        return Sequence((Activation("relu", name="act"), _conv1x1(filters, "conv"),
                         _bn("bn")))
    return None


@blueprint
class NASNetCell(Cell):
    """A NASNet-A cell as keras builds it. Children: ``adjust`` (h_prev), ``h``, then
    for combination i ``left<i>`` and ``right<i>`` (an identity has none) and
    ``add<i>``, and ``concat``. A strided pool reads h (or h_prev) zero-padded once
    (``h_pad``), as keras's reduction cell does."""

    filters: PositiveInt
    combinations: tuple[Combination, ...]
    concat: tuple[Name, ...]  # the hidden states concatenated into the output, in order
    reduction: bool = False  # operations on h and h_prev have stride 2

    scalable_widths = ("filters",)

    def validate(self):
        if not self.combinations or not self.concat:
            raise BlueprintError("NASNetCell needs at least one combination and one "
                                 "hidden state to concatenate")
        known = list(INPUTS)
        for i, c in enumerate(self.combinations):
            for side in ("left", "right"):
                _check_input(self, f"combinations[{i}].{side}_input",
                             getattr(c, f"{side}_input"), known, getattr(c, side))
            known.append(f"x{i + 1}")
        for i, state in enumerate(self.concat):
            _check_input(self, f"concat[{i}]", state, known, None)

    def summary_columns(self) -> dict:
        return {"cell": "reduction" if self.reduction else "normal", "filters": self.filters}

    def lower_cell(self, ctx, h, h_prev, path):
        prev = h
        if h_prev is not None:
            block = adjust(self.filters, ctx.shape(h), ctx.shape(h_prev))
            prev = h_prev if block is None else ctx.lower(block, h_prev, ctx.join(path, "adjust"))
        base = Sequence((Activation("relu", name="act"), _conv1x1(self.filters, "conv"),
                         _bn("bn")))
        states = {"h": ctx.lower(base, h, ctx.join(path, "h")), "h_prev": prev}
        padded = {}
        for i, c in enumerate(self.combinations, start=1):
            sides = [self._operation(ctx, operation, source, states, padded, path, f"{side}{i}")
                     for side, operation, source in (("left", c.left, c.left_input),
                                                     ("right", c.right, c.right_input))]
            states[f"x{i}"] = ctx.add(ctx.join(path, f"add{i}"), Add(), sides)
        return ctx.add(ctx.join(path, "concat"), Concatenate(), [states[s] for s in self.concat])

    def _operation(self, ctx, operation, source, states, padded, path, name):
        x = states[source]
        if operation == "identity":
            return x
        strides = 2 if self.reduction and source in INPUTS else 1
        size = int(operation[-1])  # "separable_5x5" -> 5
        if operation.startswith("separable"):
            return ctx.lower(NASNetSeparable(self.filters, size, strides), x,
                             ctx.join(path, name))
        pool = MaxPool2D if operation.startswith("max") else AvgPool2D
        if strides == 1:
            return ctx.add(ctx.join(path, name), pool(size, 1, padding="same"), [x])
        if source not in padded:  # every pool is 3x3: one padding serves them all
            pad = ZeroPadding2D(correct_pad(ctx.shape(x), size))
            padded[source] = ctx.add(ctx.join(path, f"{source}_pad"), pad, [x])
        return ctx.add(ctx.join(path, name), pool(size, 2, padding="valid"), [padded[source]])


def _check_input(cell, where, state, known, operation):
    if not isinstance(state, str):
        return  # a search-space marker: its values are checked when chosen
    if state not in known:
        raise BlueprintError(
            f"NASNetCell.{where} {state!r} is not a hidden state here; the states before "
            f"it are {', '.join(known)}")
    if operation == "identity" and cell.reduction is True and state in INPUTS:
        raise BlueprintError(
            f"NASNetCell.{where}: an identity of {state} cannot reduce the grid in a "
            "reduction cell; give it a strided operation (a pool or a separable conv)")
