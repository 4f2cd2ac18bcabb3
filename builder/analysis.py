"""Static analysis: shapes, parameters, MACs and activation memory, without Keras."""

from __future__ import annotations

import dataclasses
import math

from . import ops
from .graph import Graph, lower

BYTES_PER_VALUE = 4  # activation memory is reported for float32


@dataclasses.dataclass
class NodeStats:
    path: str
    kind: str
    output_shape: tuple
    trainable_params: int
    non_trainable_params: int
    macs: int

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


@dataclasses.dataclass
class BlockRow:
    """One row of the block table: a blueprint (or a lone layer) at some depth."""

    path: str
    kind: str
    output_shape: tuple
    params: int
    macs: int
    activation_memory: int  # bytes per example, float32
    blueprint: object = dataclasses.field(default=None, repr=False)
    start: int = dataclasses.field(default=0, repr=False)  # graph.nodes[start:end] are its nodes
    end: int = dataclasses.field(default=0, repr=False)

    def to_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "output_shape": list(self.output_shape),
                "params": self.params, "macs": self.macs}


@dataclasses.dataclass
class Report:
    name: str
    input_shape: tuple
    output_shape: tuple
    output_shapes: list[tuple]  # the main output, then side outputs
    total_params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    activation_memory: int  # bytes per example to keep every layer output, float32
    nodes: list[NodeStats]
    warnings: list[str]
    graph: Graph = dataclasses.field(repr=False)

    def blocks(self, depth: int = 1) -> list[BlockRow]:
        """Rows for the blueprints at ``depth`` (1 = top level), in order.

        A layer that ends its branch above ``depth`` gets a row of its own, so the rows
        always add up to the totals.
        """
        if depth < 1:
            raise ValueError("depth starts at 1")
        graph = self.graph
        # Prefix sums over node order: a scope covers a contiguous run of nodes.
        params = [0]
        macs = [0]
        memory = [0]
        for stats in self.nodes:
            params.append(params[-1] + stats.params)
            macs.append(macs[-1] + stats.macs)
            memory.append(memory[-1] + math.prod(d or 1 for d in stats.output_shape) * BYTES_PER_VALUE)

        items = {}  # path -> (start, end, output node index, kind, blueprint)
        for i, node in enumerate(graph.nodes):
            items[node.path] = (i, i + 1, i, node.kind, node.layer)
        for s in graph.scopes:
            if s.path:  # the root scope is the whole network
                items[s.path] = (s.start, s.end, graph.position(s.output), s.blueprint.kind, s.blueprint)
        parents = {p.rsplit("/", k)[0] for p in items for k in range(1, p.count("/") + 1)}

        rows = []
        for path, (start, end, out, kind, bp) in items.items():
            level = path.count("/") + 1
            if level == depth or (level < depth and path not in parents):
                rows.append((start, BlockRow(
                    path, kind, graph.nodes[out].shape, params[end] - params[start],
                    macs[end] - macs[start], memory[end] - memory[start], bp, start, end)))
        return [row for _, row in sorted(rows, key=lambda r: r[0])]

    def to_dict(self, depth: int = 1) -> dict:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "macs": self.macs,
            "blocks": [r.to_dict() for r in self.blocks(depth)],
        }


def analyze(bp, input_shape=None) -> Report:
    """Shapes, parameters, MACs and memory of a blueprint, computed from the op table.

    ``input_shape`` overrides a Network's own (needed for any other blueprint). Raises
    ``BlueprintError`` (with the path) for an impossible shape.
    """
    graph = lower(bp, input_shape)
    return report(graph)


def report(graph: Graph) -> Report:
    nodes = []
    trainable = non_trainable = total_macs = memory = 0
    for node in graph.nodes:
        r = ops.rule(node.layer)
        t, n = r.params(node.layer, node.input_shapes, node.shape)
        m = r.macs(node.layer, node.input_shapes, node.shape)
        nodes.append(NodeStats(node.path, node.kind, node.shape, t, n, m))
        trainable += t
        non_trainable += n
        total_macs += m
        if node.inputs:
            memory += math.prod(d or 1 for d in node.shape) * BYTES_PER_VALUE
    outputs = [graph.node(o).shape for o in graph.outputs]
    return Report(graph.name, graph.input_shape, outputs[0], outputs, trainable + non_trainable,
                  trainable, non_trainable, total_macs, memory, nodes, list(graph.warnings), graph)
