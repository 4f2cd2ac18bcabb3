"""Scaling rules: width, depth and resolution multipliers over any blueprint.

``make_divisible``, ``round_filters`` and ``round_repeats`` are the rounding rules of
MobileNetV2 and EfficientNet (as keras.applications defines them). ``scale`` applies them
to a whole blueprint tree: a blueprint type says which of its fields are channel counts
(class attribute ``scalable_widths``) and which are repeat counts (``scalable_repeats``);
the core types are listed here. A type whose width must stay a multiple of something
else (a Transformer's hidden size, of its heads) says so with a method
``width_divisor(field, divisor)`` returning the multiple to round to. ``compound`` gives
EfficientNet's multipliers for a phi, and ``solve_phi`` finds the largest phi whose
network fits a budget.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

from .analysis import analyze
from .blocks.units import ConvBN
from .dsl.base import Blueprint, Data
from .dsl.combinators import Network, Repeat
from .dsl.layers import Conv2D, SeparableConv2D
from .dsl.markers import Marker
from .errors import BlueprintError
from .graph import lower

__all__ = ["make_divisible", "round_filters", "round_repeats", "scale", "total_stride",
           "compound", "solve_phi"]


def make_divisible(value, divisor=8, min_value=None, round_down_limit=0.9) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``,
    default ``divisor``), moved up one step if rounding lost more than
    1 - ``round_down_limit`` (10%) of the value."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_down_limit * value:
        rounded += divisor
    return int(rounded)


def round_filters(filters, width, divisor=8, round_down_limit=0.9) -> int:
    """Channels after a width multiplier, as EfficientNet rounds them (EfficientNetV2
    passes ``round_down_limit=0``: keras.applications' V2 has no 10% rule)."""
    return make_divisible(filters * width, divisor, round_down_limit=round_down_limit)


def round_repeats(repeats, depth) -> int:
    """Repeats after a depth multiplier: rounded up, as EfficientNet does."""
    return int(math.ceil(depth * repeats))


# Which fields of the core blueprint types are widths and repeats. Block types declare
# their own with the class attributes ``scalable_widths`` and ``scalable_repeats``.
CORE_WIDTHS = {Conv2D: ("filters",), SeparableConv2D: ("filters",)}
CORE_REPEATS = {Repeat: ("times",)}


def _declared(bp, attribute, table):
    own = getattr(type(bp), attribute, None)
    return tuple(own) if own is not None else table.get(type(bp), ())


def _units():
    return {ConvBN: ("filters",)}  # the shared unit, outside the dsl core


def scale(bp, width=1.0, depth=1.0, resolution=None, *, divisor=8, round_down_limit=0.9):
    """A copy of ``bp`` with every declared width multiplied by ``width`` (rounded by
    ``round_filters`` with ``divisor`` and ``round_down_limit``), every repeat count by
    ``depth`` (rounded up), and, for a ``Network``, the input resolution set to
    ``resolution`` (an int for a square input, or (height, width)). Raises
    ``BlueprintError`` naming the argument or field for a multiplier that is not
    positive, a count that would not be positive, or a resolution below the network's
    total stride."""
    for argument, value in (("width", width), ("depth", depth)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise BlueprintError(f"scale: {argument} must be a number > 0, got {value!r}")
    widths = {**CORE_WIDTHS, **_units()}
    rounding = dict(divisor=divisor, round_down_limit=round_down_limit)
    out = _walk(bp, type(bp).__name__, width, depth, rounding, widths)
    if resolution is not None:
        out = _with_resolution(out, resolution)
    return out


def _walk(value, where, width, depth, rounding, widths):
    if isinstance(value, tuple):
        return tuple(_walk(v, f"{where}[{i}]", width, depth, rounding, widths)
                     for i, v in enumerate(value))
    if not isinstance(value, Blueprint):
        return value
    changes = {}
    for f in dataclasses.fields(value):
        child = getattr(value, f.name)
        if isinstance(child, (Data, tuple)):
            new = _walk(child, f"{where}.{f.name}", width, depth, rounding, widths)
            if new is not child:
                changes[f.name] = new
    for name in _declared(value, "scalable_widths", widths):
        count = getattr(value, name)
        if isinstance(count, int) and width != 1.0:
            divisor = (value.width_divisor(name, rounding["divisor"])
                       if hasattr(value, "width_divisor") else rounding["divisor"])
            scaled = round_filters(count, width, **{**rounding, "divisor": divisor})
            changes[name] = _positive(scaled, f"{where}.{name}", count, "width", width)
    for name in _declared(value, "scalable_repeats", CORE_REPEATS):
        count = getattr(value, name)
        if isinstance(count, int) and depth != 1.0:
            changes[name] = _positive(round_repeats(count, depth), f"{where}.{name}", count,
                                      "depth", depth)
    return value.replace(**changes) if changes else value


def _positive(result, where, before, argument, multiplier):
    if result < 1:
        raise BlueprintError(
            f"scale: {argument} {multiplier} makes {where} {before} -> {result}; "
            "counts must stay >= 1")
    return result


def total_stride(bp, input_shape=None) -> tuple[int, int]:
    """The largest product of strides (rows, columns) along any path of ``bp``."""
    graph = lower(bp, input_shape)
    products = {}
    for node in graph.nodes:
        rows = cols = 1
        for i in node.inputs:
            r, c = products[i]
            rows, cols = max(rows, r), max(cols, c)
        strides = getattr(node.layer, "strides", None)
        if strides is None:
            strides = getattr(node.layer, "pool_size", None)
        if isinstance(strides, tuple) and len(strides) == 2:
            rows, cols = rows * strides[0], cols * strides[1]
        products[node.path] = (rows, cols)
    return (max(r for r, _ in products.values()), max(c for _, c in products.values()))


def _with_resolution(bp, resolution):
    if not isinstance(bp, Network):
        raise BlueprintError(
            f"scale: resolution needs a Network (it sets the input shape), got a {bp.kind}")
    size = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
    if (len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in size)
            or min(size) < 1):
        raise BlueprintError(
            f"scale: resolution must be a positive int or (height, width), got {resolution!r}")
    if isinstance(bp.input_shape[0], Marker) or len(bp.input_shape) != 3:
        raise BlueprintError(
            f"scale: resolution needs a (height, width, channels) input, got {bp.input_shape}")
    stride = total_stride(bp)
    if size[0] < stride[0] or size[1] < stride[1]:
        raise BlueprintError(
            f"scale: resolution {resolution!r} is smaller than the network's total stride "
            f"{stride[0]}x{stride[1]}; use at least {stride[0]}x{stride[1]}")
    return bp.replace(input_shape=size + tuple(bp.input_shape[2:]))


def compound(phi, alpha=1.2, beta=1.1, gamma=1.15, tolerance=0.1):
    """EfficientNet's compound scaling: (width, depth, resolution) multipliers
    (beta**phi, alpha**phi, gamma**phi) for depth alpha, width beta and resolution
    gamma, as Tan & Le name them. Their constraint alpha * beta**2 * gamma**2 ~ 2 (so
    that each step of phi about doubles the FLOPs) is checked: a product further than
    ``tolerance`` from 2 gives a warning naming it."""
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if value < 1:
            raise BlueprintError(f"compound: {name} must be >= 1, got {value!r}")
    product = alpha * beta ** 2 * gamma ** 2
    if abs(product - 2.0) > tolerance:
        warnings.warn(
            f"compound: alpha * beta**2 * gamma**2 = {product:.3f}, not close to 2: each "
            "step of phi will not double the FLOPs", stacklevel=2)
    return beta ** phi, alpha ** phi, gamma ** phi


def solve_phi(bp, max_params=None, max_macs=None, alpha=1.2, beta=1.1, gamma=1.15,
              max_phi=20, divisor=8):
    """The largest whole phi >= 0 for which ``scale(bp, *compound(phi))`` (resolution
    rounded to whole pixels) stays within ``max_params`` and ``max_macs``; returns
    (phi, scaled blueprint). Uses static analysis only. Raises ``BlueprintError`` if
    even phi = 0 does not fit."""
    if max_params is None and max_macs is None:
        raise BlueprintError("solve_phi: give max_params, max_macs or both")
    if not isinstance(bp, Network):
        raise BlueprintError(f"solve_phi needs a Network, got a {bp.kind}")
    height, width_px = bp.input_shape[:2]

    def candidate(phi):
        w, d, r = compound(phi, alpha, beta, gamma)
        return scale(bp, w, d, (round(height * r), round(width_px * r)), divisor=divisor)

    def fits(scaled):
        report = analyze(scaled)
        return ((max_params is None or report.total_params <= max_params)
                and (max_macs is None or report.macs <= max_macs))

    best = None
    for phi in range(max_phi + 1):
        scaled = candidate(phi)
        if not fits(scaled):
            break
        best = (phi, scaled)
    if best is None:
        raise BlueprintError(
            f"solve_phi: the unscaled blueprint already exceeds the budget "
            f"(max_params={max_params}, max_macs={max_macs})")
    return best
