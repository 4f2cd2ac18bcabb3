"""Lowering: a blueprint tree becomes one small graph IR.

Nodes come in topological order, each with a unique path (``stage3/block2/expand_conv``),
a primitive layer, its inputs and shapes. Shapes are inferred while lowering (composite
blocks may depend on their input shape), so an impossible shape is reported at the path
where it happens. ``scopes`` remember which blueprint made which run of nodes, for the
per-block rows of the analysis.
"""

from __future__ import annotations

import dataclasses

from .dsl.base import Blueprint, Layer, Shape, coerce, snake
from .dsl.combinators import Network
from .dsl.layers import Input
from .dsl.markers import concrete
from .dsl.paths import root_path
from .errors import BlueprintError
from . import ops

# The most blueprints (layers, blocks, combinators) one lowering expands, counted as it
# goes: a Repeat of a Repeat multiplies, and a hostile file could otherwise ask for 10**12
# layers. The largest real networks expand to a few thousand.
MAX_EXPANDED = 100_000


@dataclasses.dataclass
class Node:
    path: str
    layer: Layer
    inputs: tuple[str, ...]
    input_shapes: tuple[tuple, ...]
    shape: tuple
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.layer.kind


@dataclasses.dataclass
class Scope:
    """The run of nodes ``nodes[start:end]`` made by one blueprint at ``path``."""

    path: str
    blueprint: Blueprint
    start: int
    end: int
    output: str


@dataclasses.dataclass
class Graph:
    name: str
    input_shape: tuple
    nodes: list[Node]
    outputs: list[str]  # the main output first, then side outputs
    loss_weights: list[float]
    scopes: list[Scope]
    warnings: list[str]

    def node(self, path: str) -> Node:
        return self.nodes[self._index[path]]

    def position(self, path: str) -> int:
        """The index in ``nodes`` of the node at ``path``."""
        return self._index[path]

    def __post_init__(self):
        self._index = {n.path: i for i, n in enumerate(self.nodes)}


class Lowering:
    """The context blueprints lower themselves through."""

    def __init__(self, input_shape):
        self.nodes: list[Node] = []
        self.index: dict[str, int] = {}
        self.scopes: list[Scope] = []
        self.warnings: list[str] = []
        self.side_outputs: list[tuple[str, float]] = []
        self.expanded = 0  # blueprints lowered so far
        self.input = self.add("input", Input(input_shape), [])

    @staticmethod
    def join(path: str, name: str) -> str:
        return f"{path}/{name}" if path else name

    def shape(self, x: str) -> tuple:
        return self.nodes[self.index[x]].shape

    def add(self, path: str, layer: Layer, inputs, **info) -> str:
        """Add one primitive node; returns its path (the handle of its output)."""
        if path in self.index:
            raise BlueprintError("two layers get the same path; give one of them a name", path=path)
        in_shapes = tuple(self.shape(i) for i in inputs)
        try:
            shape = ops.rule(layer).shape(layer, in_shapes, lambda m: self.warnings.append(f"{path}: {m}"))
        except BlueprintError as e:
            if e.path is None:
                raise BlueprintError(e.detail, path=path) from None
            raise
        self.index[path] = len(self.nodes)
        self.nodes.append(Node(path, layer, tuple(inputs), in_shapes, tuple(shape), info))
        return path

    def lower(self, bp: Blueprint, x: str, path: str) -> str:
        """Lower ``bp`` on input ``x`` at ``path``, recording its scope. ``x`` is the
        handle of one node, or the pair (h, h_prev) for a ``Cell``."""
        start = len(self.nodes)
        out = self.lower_inline(bp, x, path)
        self.scopes.append(Scope(path, bp, start, len(self.nodes), out))
        return out

    def expect(self, more: int, path: str, what: str = "the network") -> None:
        """Refuse before lowering ``more`` blueprints that would pass ``MAX_EXPANDED``."""
        if self.expanded + more > MAX_EXPANDED:
            raise BlueprintError(
                f"{what} would expand into more than {MAX_EXPANDED:,} blueprints (layers, "
                "blocks and combinators), the limit; real networks have a few thousand",
                path=path or "(top)")

    def lower_repeated(self, blueprints, count: int, x: str, path: str) -> str:
        """Lower ``count`` alike blueprints in a row, from ``(name, blueprint)`` pairs made
        one at a time; after the first, refuse at once if all of them would pass
        ``MAX_EXPANDED`` (rather than after doing most of the work)."""
        for i, (name, bp) in enumerate(blueprints):
            before = self.expanded
            x = self.lower(bp, x, self.join(path, name))
            if i == 0:
                each = self.expanded - before
                self.expect((count - 1) * each, path, f"{count:,} repeats of {each:,} blueprints")
        return x

    def lower_inline(self, bp: Blueprint, x: str, path: str) -> str:
        """Lower without a scope of its own (a block's expansion, in the block's scope)."""
        self.expect(1, path)
        self.expanded += 1
        try:
            if isinstance(bp, Layer):
                return self.add(path, bp, [x])
            return bp.lower(self, x, path)
        except BlueprintError as e:
            if e.path is None:
                raise BlueprintError(e.detail, path=path or "(top)") from None
            raise


def lower(bp: Blueprint, input_shape=None) -> Graph:
    """Lower a blueprint (markers at their defaults) to a graph.

    A ``Network`` brings its input shape (``input_shape`` overrides it); any other
    blueprint needs ``input_shape``.
    """
    bp = concrete(bp)
    if input_shape is not None:
        input_shape = coerce(input_shape, Shape, "input_shape")
        if not input_shape:
            raise BlueprintError("input_shape is empty")
    if isinstance(bp, Network):
        if input_shape is not None:
            bp = bp.replace(input_shape=input_shape)
        input_shape = bp.input_shape
        name, root = bp.name or "network", ""
    else:
        if input_shape is None:
            raise BlueprintError(f"a {bp.kind} has no input shape of its own: pass input_shape")
        name, root = bp.name or snake(bp.kind), root_path(bp)

    ctx = Lowering(tuple(input_shape))
    start = len(ctx.nodes)
    out = ctx.lower_inline(bp, ctx.input, root) if root == "" else ctx.lower(bp, ctx.input, root)
    if root == "":
        ctx.scopes.append(Scope("", bp, start, len(ctx.nodes), out))
    outputs = [out] + [o for o, _ in ctx.side_outputs]
    weights = [1.0] + [w for _, w in ctx.side_outputs]
    return Graph(name, tuple(input_shape), ctx.nodes, outputs, weights, ctx.scopes, ctx.warnings)
