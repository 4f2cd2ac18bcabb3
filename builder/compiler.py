"""Compile the graph IR into a Keras functional model (keras.layers only)."""

from __future__ import annotations

import sys

from . import ops
from .graph import Graph, lower
from .weights import load_weights


def to_keras(graph: Graph):
    """A ``keras.Model`` with one layer per graph node, named from its path."""
    import keras

    # Keras maps a functional graph recursively, about a frame per layer along the
    # longest path: ResNet-RS-270 and deeper (1,400+ layers in a row) pass Python's
    # default limit of 1,000. Raised for good, as tf.keras' ResNet-RS does: cloning the
    # model (keras.models.clone_model) walks the graph the same way.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2 * len(graph.nodes) + 1000))
    tensors = _apply(graph, graph.nodes, {})
    results = [tensors[o] for o in graph.outputs]
    return keras.Model(tensors["input"], results[0] if len(results) == 1 else results,
                       name=ops.keras_name(graph.name))


def _apply(graph: Graph, nodes, tensors: dict) -> dict:
    """Keras tensors for ``nodes`` (in order) into ``tensors``, by path; the graph's
    outputs keep float32 under mixed precision."""
    import keras

    outputs = set(graph.outputs)
    for node in nodes:
        if not node.inputs:
            tensors[node.path] = keras.Input(shape=node.shape, name=node.path)
            continue
        apply = ops.keras_apply(node, as_output=node.path in outputs)
        tensors[node.path] = apply([tensors[i] for i in node.inputs])
    return tensors


def part_model(graph: Graph, start: int, end: int, dtypes: dict | None = None):
    """A ``keras.Model`` of ``graph.nodes[start:end]`` alone (a row of the block table).

    Its inputs are the earlier nodes' outputs it reads (a ``keras.Input`` each, of that
    node's shape and the dtype in ``dtypes``, by path: float32 by default), its outputs
    those of its nodes that later nodes read or that the graph outputs. Returns
    ``(model, input paths, Keras tensors by path)``.
    """
    import keras

    nodes = graph.nodes[start:end]
    inside = {n.path for n in nodes}
    tensors, sources = {}, []
    for node in nodes:
        if not node.inputs:
            sources.append(node.path)  # the network's input (made by _apply)
        for i in node.inputs:
            if i not in inside and i not in tensors:
                tensors[i] = keras.Input(shape=graph.node(i).shape, name=ops.keras_name(i),
                                         dtype=(dtypes or {}).get(i))
                sources.append(i)
    _apply(graph, nodes, tensors)
    read_later = {i for n in graph.nodes[end:] for i in n.inputs} | set(graph.outputs)
    results = [tensors[n.path] for n in nodes if n.path in read_later]
    inputs = [tensors[i] for i in sources]
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                        results[0] if len(results) == 1 else results,
                        name=ops.keras_name(f"{graph.name}/{graph.nodes[start].path}"))
    return model, sources, tensors


def build(bp, input_shape=None, weights=None):
    """Build the Keras model of a blueprint.

    The blueprint is lowered and shape-checked first, so a mistake is a
    ``BlueprintError`` with its path, never a backend traceback. ``weights`` may be a
    Keras model of the same architecture or a weights file (``.weights.h5``/``.keras``),
    copied in with ``builder.transfer_weights``.
    """
    graph = lower(bp, input_shape)
    model = to_keras(graph)
    if weights is not None:
        load_weights(model, weights)
    return model
