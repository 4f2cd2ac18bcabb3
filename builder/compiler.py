"""Compile the graph IR into a Keras functional model (keras.layers only)."""

from __future__ import annotations

import sys

from . import ops
from .graph import Graph, lower


def to_keras(graph: Graph):
    """A ``keras.Model`` with one layer per graph node, named from its path."""
    import keras

    # Keras maps a functional graph recursively, about a frame per layer along the
    # longest path: ResNet-RS-270 and deeper (1,400+ layers in a row) pass Python's
    # default limit of 1,000. Raised for good, as tf.keras' ResNet-RS does: cloning the
    # model (keras.models.clone_model) walks the graph the same way.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 2 * len(graph.nodes) + 1000))
    outputs = set(graph.outputs)
    tensors = {}
    for node in graph.nodes:
        if not node.inputs:
            tensors[node.path] = keras.Input(shape=node.shape, name=node.path)
            continue
        apply = ops.keras_apply(node, as_output=node.path in outputs)
        tensors[node.path] = apply([tensors[i] for i in node.inputs])
    results = [tensors[o] for o in graph.outputs]
    return keras.Model(tensors["input"], results[0] if len(results) == 1 else results,
                       name=ops.keras_name(graph.name))


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
        from .weights import load_weights

        load_weights(model, weights)
    return model
