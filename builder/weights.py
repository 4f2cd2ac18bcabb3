"""Copy weights between Keras models of the same architecture built differently.

``transfer_weights(keras.applications.ResNet50(...), builder.build(resnet50))`` pairs the
layers that hold weights by structure, not by name: each layer gets a signature (its
class, the shapes of its weights, and its weighted depth, the number of weighted layers on
the longest path from the input up to and including it), and layers with the same
signature pair up in the order both models list them. The weighted depth tells apart
layers of equal shape in parallel branches (a shortcut's batch norm and the body's).
Layers that compute the same thing under another class share a signature: a 1x1 Conv2D
and a Dense layer, a Conv2D with one group per channel and a DepthwiseConv2D. Models
nested as layers (keras' Sequential stems) are walked through.
"""

from __future__ import annotations

import os
import zipfile
from collections import defaultdict

from .errors import BlueprintError, DataError


def _weighted_layers(model, base=0):
    """[(layer, signature)] for the layers with weights, in the model's order.

    Every operation counts for the depth, layers or not (keras.applications' MobileNetV3
    computes its hard sigmoid with plain tensor arithmetic, its ConvNeXt adds with
    ``inputs + x``); a model nested as a layer (ConvNeXt's ``Sequential`` stem) is walked
    through, its layers starting from the depth of its input."""
    import keras

    depth = {}
    result = []
    for layer in getattr(model, "operations", model.layers):
        start = max((depth.get(id(p), base) for p in _parents(layer)), default=base)
        if isinstance(layer, keras.Model) and layer.weights:
            inner = _weighted_layers(layer, start)
            result += inner
            depth[id(layer)] = max(signature[2] for _, signature in inner)
            continue
        has_weights = bool(getattr(layer, "weights", None))
        depth[id(layer)] = start + has_weights
        if has_weights:
            kind, shapes = _canonical(layer)
            result.append((layer, (kind, shapes, depth[id(layer)])))
    return result


def _parents(layer):
    """The layers whose outputs ``layer`` takes, in a Keras 3 or a tf.keras (tf_keras)
    model: a tf.keras node lists all its inputs in ``keras_inputs`` (its
    ``input_tensors`` is the first argument only, one tensor or a list)."""
    parents = []
    for node in getattr(layer, "_inbound_nodes", [])[:1]:
        tensors = getattr(node, "keras_inputs", None)
        for tensor in node.input_tensors if tensors is None else tensors:
            history = getattr(tensor, "_keras_history", None)
            if history is not None:
                parents.append(history[0])
    return parents


def _canonical(layer):
    """The layer's kind and weight shapes, with a 1x1 convolution taken as the dense layer
    over the channels it is, and a convolution with one group per channel as the
    depthwise convolution it is (keras.applications' MobileNet classifies with a 1x1
    convolution over a 1x1 map; its ConvNeXt has dense layers where the paper has 1x1
    convolutions, and a grouped Conv2D for the depthwise one)."""
    import keras

    # builder's FusedBatchNorm is a BatchNormalization computed otherwise: the same weights
    kind = ("BatchNormalization" if isinstance(layer, keras.layers.BatchNormalization)
            else type(layer).__name__)
    shapes = tuple(tuple(w.shape) for w in layer.weights)
    if kind == "Conv2D" and shapes[0][:2] == (1, 1) and getattr(layer, "groups", 1) == 1:
        return "Dense", (shapes[0][2:],) + shapes[1:]
    if kind == "Conv2D" and shapes[0][2] == 1 and getattr(layer, "groups", 1) == shapes[0][3] > 1:
        return "DepthwiseConv2D", (shapes[0][:2] + (shapes[0][3], 1),) + shapes[1:]
    return kind, shapes


def _describe(layer, signature) -> str:
    # The layer as it is (a 1x1 Conv2D with its 4-D kernel), not its canonical form.
    shapes = ", ".join(str(tuple(w.shape)) for w in layer.weights)
    return f"{layer.name} ({type(layer).__name__}, weights {shapes}, depth {signature[2]})"


def transfer_weights(src_model, dst_model) -> list[tuple[str, str]]:
    """Copy every weight of ``src_model`` into ``dst_model``; returns the
    (source layer, destination layer) pairs. Raises ``BlueprintError`` naming the first
    layer that has no counterpart, with both shapes, and changes nothing then."""
    src = _weighted_layers(src_model)
    dst = _weighted_layers(dst_model)
    queues = defaultdict(list)
    for layer, signature in dst:
        queues[signature].append(layer)
    taken = defaultdict(int)
    pairs = []
    for i, (layer, signature) in enumerate(src):
        candidates = queues.get(signature, [])
        if taken[signature] >= len(candidates):
            near = dst[min(i, len(dst) - 1)] if dst else None
            raise BlueprintError(
                f"the weights do not fit: {src_model.name}'s layer {_describe(layer, signature)} "
                "has no counterpart in " + dst_model.name
                + (f"; at the same position it has {_describe(*near)}" if near else ""))
        pairs.append((layer, candidates[taken[signature]]))
        taken[signature] += 1
    if len(src) != len(dst):
        used = {id(d) for _, d in pairs}
        extra = next((item for item in dst if id(item[0]) not in used), None)
        raise BlueprintError(
            f"the weights do not fit: {dst_model.name} has {len(dst)} layers with weights and "
            f"{src_model.name} {len(src)}; first without a source: {_describe(*extra)}")
    for s, d in pairs:
        targets = [tuple(w.shape) for w in d.weights]
        d.set_weights([w.reshape(t) for w, t in zip(s.get_weights(), targets)])
    return [(s.name, d.name) for s, d in pairs]


def load_weights(model, weights) -> None:
    """Load ``weights`` into ``model``: a Keras model (copied by structure), a ``.keras``
    file (loaded, then copied), or a ``.weights.h5``/``.h5`` file (Keras's own loader)."""
    import keras

    if isinstance(weights, keras.Model):
        transfer_weights(weights, model)
        return
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise BlueprintError("no such weights file", path=path)
    if path.endswith(".keras"):
        transfer_weights(load_model_file(path), model)
        return
    if path.endswith(".h5"):
        try:
            model.load_weights(path)
        except (ValueError, KeyError) as e:
            raise BlueprintError(f"the weights do not fit this model: {e}", path=path) from None
        except OSError as e:  # h5py: not an HDF5 file, truncated
            raise DataError(f"{path}: cannot read the weights: {e}") from None
        return
    raise BlueprintError("weights must be a Keras model, a .keras file or a .weights.h5 file",
                         path=path)


def load_model_file(path):
    """A ``.keras`` model file, loaded in Keras's safe mode (a Lambda layer's code is
    refused); a damaged or unsafe file is the user's, so ``DataError`` names it."""
    import keras

    from . import keras_layers  # noqa: F401  (registers our custom layers; imports Keras)

    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise DataError(f"{path}: not a .keras model file (not a zip archive); is it damaged "
                        f"or cut short?")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # zip, h5, JSON and deserialization errors of many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: cannot load the model: {first}") from None
