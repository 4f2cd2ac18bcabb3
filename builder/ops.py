"""The one table of primitive ops.

For each primitive layer type: its shape rule, its parameter count (trainable and not),
its multiply-accumulate count and its Keras layer. Analysis and the Keras compiler both
read this table, so their counts cannot disagree.

Shapes leave out the batch axis. MACs count the multiply-accumulates of the layers with
weights (convolutions, dense and recurrent layers), the convention of the papers' FLOP
tables; normalization, activations, pooling and merges count 0.

Shape rules follow the textbook: output = floor((N - F + 2P) / S) + 1 for 'valid' (P = 0)
or explicit padding P, and ceil(N / S) for 'same' as Keras defines it. A window that
does not fit evenly is a warning; one that does not fit at all is an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Callable

from .dsl import layers as L
from .errors import BlueprintError
from .text import shape_text

RULES: dict[type, type] = {}


def op(layer_type):
    """Register the class below as the rule of ``layer_type``."""

    def register(rule):
        RULES[layer_type] = rule
        return rule

    return register


def rule(layer):
    try:
        return RULES[type(layer)]
    except KeyError:
        raise BlueprintError(f"{type(layer).__name__} has no op rule") from None


class Rule:
    """Defaults: no weights, no MACs."""

    @staticmethod
    def params(layer, inputs, out) -> tuple[int, int]:
        return 0, 0

    @staticmethod
    def macs(layer, inputs, out) -> int:
        return 0


# --- helpers ----------------------------------------------------------------------------------



def _one(inputs):
    return inputs[0]


def _channels(layer, shape) -> int:
    """The input's last axis, for a layer whose weights or output are sized by it."""
    if shape[-1] is None:
        raise BlueprintError(
            f"{layer.kind} needs a known number of input channels, got {shape_text(shape)}")
    return shape[-1]


def _image(layer, inputs) -> tuple:
    (shape,) = inputs
    if len(shape) != 3:
        raise BlueprintError(
            f"{layer.kind} needs an input of (height, width, channels), got {shape_text(shape)}"
        )
    _channels(layer, shape)
    return shape


def _per_channel(layer, field, values, shape) -> None:
    """A tuple of per-channel values must have one value, or one per channel."""
    if isinstance(values, tuple) and len(values) not in (1, _channels(layer, shape)):
        raise BlueprintError(
            f"{layer.kind}.{field} has {len(values)} values for {shape[-1]} channels; "
            "give one value, or one per channel")


def _pads(padding) -> tuple[int, int] | str:
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return (padding, padding)
    return tuple(padding)


def _window(n, size, stride, pad, dilation, what, axis):
    """One spatial axis of a convolution or pooling window: (output size, note or None).

    The note is set when input values are never read: the windows leave over
    (N - F + 2P) mod S positions at the end, which lose data when they reach past the
    padding. Windows narrower than their stride skip positions by design (a 1x1 conv at
    stride 2): no note for those.
    """
    if n is None:
        return None, None
    span = dilation * (size - 1) + 1
    if pad == "same":
        return -(-n // stride), None
    p = 0 if pad == "valid" else pad
    room = n - span + 2 * p
    if room < 0:
        raise BlueprintError(
            f"{what}: a {span}-wide window does not fit the input's {axis}s ({n})"
            + (f" with padding {p}" if p else "")
            + "; the input is too small here (use a larger input, 'same' padding or fewer strides)"
        )
    lost = room % stride - p
    note = None
    if lost > 0 and span >= stride:
        note = f"({n} - {span} + {2 * p}) / {stride} is not whole: the last {lost} {axis}(s)"
    return room // stride + 1, note


def _spatial(layer, shape, kernel, strides, padding, dilation, warn):
    pads = _pads(padding)
    if isinstance(pads, str):
        pads = (pads, pads)
    results = [_window(n, k, s, p, d, layer.kind, axis)
               for n, k, s, p, d, axis in zip(shape[:2], kernel, strides, pads, dilation,
                                             ("row", "column"))]
    notes = [note for _, note in results if note]
    if notes:
        if len(notes) == 2 and notes[0].replace("row", "column") == notes[1]:
            notes = [notes[0].replace("row(s)", "rows and columns")]
        warn(f"{layer.kind}: (N - F + 2P) / S = " + "; ".join(notes)
             + " of the input are never read")
    return tuple(size for size, _ in results)


def _prod(dims) -> int:
    return math.prod(1 if d is None else d for d in dims)


def _keras():
    import keras

    return keras


def name_separator() -> str:
    """What stands for '/' in a Keras layer name: '.', except on the PyTorch backend,
    whose parameter names cannot hold '.' (Keras keys them by ``layer/variable``): '__'."""
    return "__" if _keras().backend.backend() == "torch" else "."


def keras_name(path: str) -> str:
    """Keras layer names cannot hold '/': ``stage3/block2/conv`` -> ``stage3.block2.conv``
    (``stage3__block2__conv`` on the PyTorch backend)."""
    return path.replace("/", name_separator())


# Whether BatchNorm builds builder's FusedBatchNorm (see ``fused_batch_norm``).
_FUSED_BATCH_NORM = contextvars.ContextVar("fused_batch_norm", default=False)


@contextlib.contextmanager
def fused_batch_norm(on: bool = True):
    """Within it, BatchNorm blueprints build ``keras_layers.FusedBatchNorm`` (one fused
    kernel each way on the TensorFlow backend; the same weights and results) instead of
    ``keras.layers.BatchNormalization``. ``train --precision auto`` builds under it on a
    CPU (``builder.training.precision``)."""
    token = _FUSED_BATCH_NORM.set(on)
    try:
        yield
    finally:
        _FUSED_BATCH_NORM.reset(token)


def _custom():
    """``builder.keras_layers``, imported when a Keras layer is first made: it imports
    Keras, and analysis never needs it."""
    from . import keras_layers  # it imports Keras

    return keras_layers


def _activation(name):
    return None if name is None else _custom().activation(name)


def _initializer(name):
    return _custom().initializer(name)


def _padded(layer, name, conv_factory):
    """Explicit padding P becomes a ZeroPadding2D before a 'valid' layer."""
    keras = _keras()
    pads = _pads(layer.padding)
    if isinstance(pads, str):
        inner = conv_factory(pads)
        return lambda xs: inner(xs[0])
    pad = keras.layers.ZeroPadding2D(pads, name=name + "_pad")
    inner = conv_factory("valid")
    return lambda xs: inner(pad(xs[0]))


# --- convolutions --------------------------------------------------------------------------------


@op(L.Conv2D)
class Conv2DRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        if c % layer.groups:
            raise BlueprintError(
                f"Conv2D has {c} input channels, not divisible by groups {layer.groups}"
            )
        return _spatial(layer, (h, w), layer.kernel_size, layer.strides, layer.padding,
                        layer.dilation_rate, warn) + (layer.filters,)

    @staticmethod
    def params(layer, inputs, out):
        kh, kw = layer.kernel_size
        c = inputs[0][-1]
        return (kh * kw * (c // layer.groups) + layer.use_bias) * layer.filters, 0

    @staticmethod
    def macs(layer, inputs, out):
        kh, kw = layer.kernel_size
        return _prod(out[:2]) * kh * kw * (inputs[0][-1] // layer.groups) * layer.filters

    @staticmethod
    def keras(layer, name):
        keras = _keras()
        return _padded(layer, name, lambda padding: keras.layers.Conv2D(
            layer.filters, layer.kernel_size, strides=layer.strides, padding=padding,
            dilation_rate=layer.dilation_rate, groups=layer.groups, use_bias=layer.use_bias,
            activation=_activation(layer.activation),
            kernel_initializer=_initializer(layer.kernel_initializer), name=name))


@op(L.DepthwiseConv2D)
class DepthwiseRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        return _spatial(layer, (h, w), layer.kernel_size, layer.strides, layer.padding,
                        layer.dilation_rate, warn) + (c * layer.depth_multiplier,)

    @staticmethod
    def params(layer, inputs, out):
        kh, kw = layer.kernel_size
        c = inputs[0][-1] * layer.depth_multiplier
        return (kh * kw + layer.use_bias) * c, 0

    @staticmethod
    def macs(layer, inputs, out):
        kh, kw = layer.kernel_size
        return _prod(out[:2]) * kh * kw * out[-1]

    @staticmethod
    def keras(layer, name):
        keras = _keras()
        return _padded(layer, name, lambda padding: keras.layers.DepthwiseConv2D(
            layer.kernel_size, strides=layer.strides, padding=padding,
            depth_multiplier=layer.depth_multiplier, dilation_rate=layer.dilation_rate,
            use_bias=layer.use_bias, activation=_activation(layer.activation),
            depthwise_initializer=_initializer(layer.kernel_initializer), name=name))


@op(L.SeparableConv2D)
class SeparableRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        return _spatial(layer, (h, w), layer.kernel_size, layer.strides, layer.padding,
                        (1, 1), warn) + (layer.filters,)

    @staticmethod
    def params(layer, inputs, out):
        kh, kw = layer.kernel_size
        mid = inputs[0][-1] * layer.depth_multiplier
        return kh * kw * mid + (mid + layer.use_bias) * layer.filters, 0

    @staticmethod
    def macs(layer, inputs, out):
        kh, kw = layer.kernel_size
        mid = inputs[0][-1] * layer.depth_multiplier
        return _prod(out[:2]) * (kh * kw * mid + mid * layer.filters)

    @staticmethod
    def keras(layer, name):
        keras = _keras()
        return _padded(layer, name, lambda padding: keras.layers.SeparableConv2D(
            layer.filters, layer.kernel_size, strides=layer.strides, padding=padding,
            depth_multiplier=layer.depth_multiplier, use_bias=layer.use_bias,
            activation=_activation(layer.activation), name=name))


# --- dense and normalization ----------------------------------------------------------------------


@op(L.Dense)
class DenseRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        if shape[-1] is None:
            raise BlueprintError("Dense needs a known number of input features")
        if len(shape) == 3:
            warn(f"Dense on a {shape_text(shape)} input acts on the last axis only; "
                 "put a Flatten or GlobalPool before it to classify images")
        return shape[:-1] + (layer.units,)

    @staticmethod
    def params(layer, inputs, out):
        return (inputs[0][-1] + layer.use_bias) * layer.units, 0

    @staticmethod
    def macs(layer, inputs, out):
        return _prod(inputs[0][:-1]) * inputs[0][-1] * layer.units

    @staticmethod
    def keras(layer, name):
        d = _keras().layers.Dense(layer.units, use_bias=layer.use_bias,
                                  activation=_activation(layer.activation),
                                  kernel_initializer=_initializer(layer.kernel_initializer),
                                  name=name)
        return lambda xs: d(xs[0])


@op(L.BatchNorm)
class BatchNormRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        _channels(layer, _one(inputs))
        return _one(inputs)

    @staticmethod
    def params(layer, inputs, out):
        c = inputs[0][-1]
        return c * (layer.center + layer.scale), 2 * c

    @staticmethod
    def keras(layer, name):
        kind = (_custom().FusedBatchNorm if _FUSED_BATCH_NORM.get()
                else _keras().layers.BatchNormalization)
        bn = kind(
            axis=-1, momentum=layer.momentum, epsilon=layer.epsilon, center=layer.center,
            scale=layer.scale, name=name)
        return lambda xs: bn(xs[0])


@op(L.Normalization)
class NormalizationRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        _channels(layer, shape)
        _per_channel(layer, "mean", layer.mean, shape)
        _per_channel(layer, "variance", layer.variance, shape)
        return shape

    @staticmethod
    def params(layer, inputs, out):
        # keras.layers.Normalization keeps mean, variance (per channel) and a count as
        # non-trainable weights unless mean and variance are given as constants.
        return (0, 0) if layer.mean is not None else (0, 2 * inputs[0][-1] + 1)

    @staticmethod
    def keras(layer, name):
        kw = {}
        if layer.mean is not None:
            kw = dict(mean=list(layer.mean), variance=list(layer.variance))
        n = _keras().layers.Normalization(axis=-1, name=name, **kw)
        return lambda xs: n(xs[0])


@op(L.LocalResponseNorm)
class LRNRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        return _image(layer, inputs)

    @staticmethod
    def keras(layer, name):
        n = _custom().LocalResponseNorm(size=layer.size, alpha=layer.alpha, beta=layer.beta,
                                        k=layer.k, name=name)
        return lambda xs: n(xs[0])


@op(L.ChannelAffine)
class ChannelAffineRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        _channels(layer, _one(inputs))
        return _one(inputs)

    @staticmethod
    def params(layer, inputs, out):
        return inputs[0][-1] * (1 + layer.use_bias), 0

    @staticmethod
    def keras(layer, name):
        a = _custom().ChannelAffine(use_bias=layer.use_bias, name=name)
        return lambda xs: a(xs[0])


@op(L.SelectChannels)
class SelectChannelsRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        bad = [c for c in layer.channels if c >= _channels(layer, shape)]
        if bad:
            raise BlueprintError(
                f"SelectChannels picks channel {bad[0]} of an input with {shape[-1]} channels")
        return shape[:-1] + (len(layer.channels),)

    @staticmethod
    def keras(layer, name):
        s = _custom().SelectChannels(channels=list(layer.channels), name=name)
        return lambda xs: s(xs[0])


# --- pointwise, pooling and reshaping ---------------------------------------------------------------


@op(L.Activation)
class ActivationRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        return _one(inputs)

    @staticmethod
    def keras(layer, name, dtype=None):
        a = _keras().layers.Activation(_activation(layer.function), name=name, dtype=dtype)
        return lambda xs: a(xs[0])


class _PoolRule(Rule):
    keras_class = ""

    @classmethod
    def shape(cls, layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        strides = layer.strides or layer.pool_size
        return _spatial(layer, (h, w), layer.pool_size, strides, layer.padding, (1, 1), warn) + (c,)

    @classmethod
    def keras(cls, layer, name):
        keras = _keras()
        return _padded(layer, name, lambda padding: getattr(keras.layers, cls.keras_class)(
            layer.pool_size, strides=layer.strides or layer.pool_size, padding=padding,
            name=name))


@op(L.MaxPool2D)
class MaxPoolRule(_PoolRule):
    keras_class = "MaxPooling2D"


@op(L.AvgPool2D)
class AvgPoolRule(_PoolRule):
    keras_class = "AveragePooling2D"


@op(L.GlobalPool)
class GlobalPoolRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        if len(shape) not in (2, 3):
            hint = (": these are features already, which need no pooling (drop the "
                    "GlobalPool; a ClassifierHead pools only an image or a sequence)"
                    if len(shape) == 1 else "")
            raise BlueprintError(f"GlobalPool needs an image (H, W, C) or a sequence (T, F), "
                                 f"got {shape_text(shape)}{hint}")
        return ((1,) * (len(shape) - 1) + shape[-1:]) if layer.keepdims else shape[-1:]

    @staticmethod
    def keras(layer, name, rank=3):
        keras = _keras()
        cls = {("avg", 3): keras.layers.GlobalAveragePooling2D,
               ("max", 3): keras.layers.GlobalMaxPooling2D,
               ("avg", 2): keras.layers.GlobalAveragePooling1D,
               ("max", 2): keras.layers.GlobalMaxPooling1D}[layer.mode, rank]
        p = cls(keepdims=layer.keepdims, name=name)
        return lambda xs: p(xs[0])


def _edges(p):
    """``p``, ``(rows, cols)`` or ``((top, bottom), (left, right))`` as the last."""
    if isinstance(p, int):
        return ((p, p), (p, p))
    if isinstance(p[0], int):
        return ((p[0], p[0]), (p[1], p[1]))
    return p


@op(L.ZeroPadding2D)
class ZeroPaddingRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        (t, b), (l, r) = _edges(layer.padding)
        return (None if h is None else h + t + b, None if w is None else w + l + r, c)

    @staticmethod
    def keras(layer, name):
        z = _keras().layers.ZeroPadding2D(_edges(layer.padding), name=name)
        return lambda xs: z(xs[0])


@op(L.Cropping2D)
class CroppingRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        h, w, c = _image(layer, inputs)
        (t, b), (l, r) = _edges(layer.cropping)
        for size, cut, axis in ((h, t + b, "rows"), (w, l + r, "columns")):
            if size is not None and size <= cut:
                raise BlueprintError(f"Cropping2D cuts {cut} of the input's {size} {axis}: "
                                     "nothing is left; crop less")
        return (None if h is None else h - t - b, None if w is None else w - l - r, c)

    @staticmethod
    def keras(layer, name):
        (t, b), (l, r) = _edges(layer.cropping)
        crop = _keras().layers.Cropping2D(((t, b), (l, r)), name=name)
        return lambda xs: crop(xs[0])


@op(L.Dropout)
class DropoutRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        return _one(inputs)

    @staticmethod
    def keras(layer, name, rank=3):
        noise = (None,) + (1,) * rank if layer.per_sample else None
        d = _keras().layers.Dropout(layer.rate, noise_shape=noise, name=name)
        return lambda xs: d(xs[0])


@op(L.Flatten)
class FlattenRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        if any(d is None for d in shape):
            raise BlueprintError(f"Flatten needs a fully known input shape, got {shape_text(shape)}")
        return (math.prod(shape),)

    @staticmethod
    def keras(layer, name):
        f = _keras().layers.Flatten(name=name)
        return lambda xs: f(xs[0])


@op(L.Reshape)
class ReshapeRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        target = list(layer.target_shape)
        size = _prod(shape)
        if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
            raise BlueprintError(f"Reshape.target_shape {tuple(target)} is not a shape")
        if None in shape:
            # The size cannot be checked: a -1 axis stays unknown (as in Keras). A fixed
            # target would fit one input size only, and fail on the others when run.
            if -1 not in target:
                raise BlueprintError(
                    f"Reshape to {tuple(target)} needs an input of known size, got "
                    f"{shape_text(shape)}; put -1 for the axis that takes the unknown size")
            return tuple(None if d == -1 else d for d in target)
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if size % known:
                raise BlueprintError(f"cannot reshape {shape_text(shape)} ({size} values) to {tuple(target)}")
            target[target.index(-1)] = size // known
        elif known != size:
            raise BlueprintError(f"cannot reshape {shape_text(shape)} ({size} values) to {tuple(target)}")
        return tuple(target)

    @staticmethod
    def keras(layer, name):
        r = _keras().layers.Reshape(layer.target_shape, name=name)
        return lambda xs: r(xs[0])


@op(L.Permute)
class PermuteRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        if sorted(layer.dims) != list(range(1, len(shape) + 1)):
            raise BlueprintError(
                f"Permute.dims {layer.dims} is not an order of the axes 1..{len(shape)}")
        return tuple(shape[d - 1] for d in layer.dims)

    @staticmethod
    def keras(layer, name):
        p = _keras().layers.Permute(layer.dims, name=name)
        return lambda xs: p(xs[0])


@op(L.Rescaling)
class RescalingRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        _per_channel(layer, "scale", layer.scale, shape)
        _per_channel(layer, "offset", layer.offset, shape)
        return shape

    @staticmethod
    def keras(layer, name):
        value = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
        r = _keras().layers.Rescaling(value(layer.scale), value(layer.offset), name=name)
        return lambda xs: r(xs[0])


# --- recurrent ----------------------------------------------------------------------------------------


class _RecurrentRule(Rule):
    gates = 1
    bias_per_gate = 1

    @staticmethod
    def _sequence(layer, inputs):
        (shape,) = inputs
        if len(shape) != 2:
            raise BlueprintError(
                f"{layer.kind} needs a sequence input (time, features), got {shape_text(shape)}; "
                "put a Reshape (or Permute and Reshape) before it")
        _channels(layer, shape)
        return shape

    @classmethod
    def shape(cls, layer, inputs, warn):
        t, _ = cls._sequence(layer, inputs)
        return (t, layer.units) if layer.return_sequences else (layer.units,)

    @classmethod
    def params(cls, layer, inputs, out):
        f, u = inputs[0][-1], layer.units
        return cls.gates * (u * (f + u) + cls.bias_per_gate * u), 0

    @classmethod
    def macs(cls, layer, inputs, out):
        t, f = inputs[0]
        return (t or 1) * cls.gates * layer.units * (f + layer.units)

    @classmethod
    def keras_layer(cls, layer, name):
        keras = _keras()
        kind = getattr(keras.layers, layer.kind)
        return kind(layer.units, return_sequences=layer.return_sequences,
                    activation=_activation(layer.activation), dropout=layer.dropout, name=name)

    @classmethod
    def keras(cls, layer, name):
        r = cls.keras_layer(layer, name)
        return lambda xs: r(xs[0])


@op(L.SimpleRNN)
class SimpleRNNRule(_RecurrentRule):
    gates = 1


@op(L.LSTM)
class LSTMRule(_RecurrentRule):
    gates = 4


@op(L.GRU)
class GRURule(_RecurrentRule):
    gates = 3
    bias_per_gate = 2  # Keras's GRU (reset_after=True) has an input and a recurrent bias


@op(L.Bidirectional)
class BidirectionalRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        inner = rule(layer.layer).shape(layer.layer, inputs, warn)
        if layer.merge_mode == "concat":
            return inner[:-1] + (inner[-1] * 2,)
        return inner

    @staticmethod
    def params(layer, inputs, out):
        t, n = rule(layer.layer).params(layer.layer, inputs, out)
        return 2 * t, 2 * n

    @staticmethod
    def macs(layer, inputs, out):
        return 2 * rule(layer.layer).macs(layer.layer, inputs, out)

    @staticmethod
    def keras(layer, name):
        inner = rule(layer.layer).keras_layer(layer.layer, name + ".forward")
        b = _keras().layers.Bidirectional(inner, merge_mode=layer.merge_mode, name=name)
        return lambda xs: b(xs[0])


# --- merges -------------------------------------------------------------------------------------------


@op(L.Add)
class AddRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise BlueprintError(
                    "cannot add tensors of different shapes: "
                    + ", ".join(shape_text(s) for s in inputs))
        return first

    @staticmethod
    def keras(layer, name):
        a = _keras().layers.Add(name=name)
        return lambda xs: a(list(xs))


@op(L.Multiply)
class MultiplyRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        rank = {len(s) for s in inputs}
        if len(rank) != 1:
            raise BlueprintError(
                "cannot multiply tensors of different ranks: " + ", ".join(shape_text(s) for s in inputs))
        out = []
        for dims in zip(*inputs):
            sizes = {d for d in dims if d != 1}
            if len(sizes) > 1:
                raise BlueprintError(
                    "cannot multiply tensors of shapes " + ", ".join(shape_text(s) for s in inputs)
                    + " (sizes must match or be 1)")
            out.append(sizes.pop() if sizes else 1)
        return tuple(out)

    @staticmethod
    def keras(layer, name):
        m = _keras().layers.Multiply(name=name)
        return lambda xs: m(list(xs))


@op(L.Concatenate)
class ConcatenateRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        rank = len(inputs[0])
        # Keras counts the batch axis: axis 1 is the first axis of our shapes.
        axis = layer.axis - 1 if layer.axis > 0 else rank + layer.axis
        if layer.axis == 0 or not 0 <= axis < rank:
            raise BlueprintError(
                f"Concatenate.axis {layer.axis} is not an axis of its inputs {shape_text(inputs[0])} "
                f"(1..{rank}, or -1..-{rank} from the end; 0 is the batch axis)")
        for s in inputs:
            if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, inputs[0])) if i != axis):
                raise BlueprintError(
                    "cannot concatenate tensors whose sizes differ outside the joined axis: "
                    + ", ".join(shape_text(s) for s in inputs))
        total = None if any(s[axis] is None for s in inputs) else sum(s[axis] for s in inputs)
        return inputs[0][:axis] + (total,) + inputs[0][axis + 1:]

    @staticmethod
    def keras(layer, name):
        c = _keras().layers.Concatenate(axis=layer.axis, name=name)
        return lambda xs: c(list(xs))


@op(L.Input)
class InputRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        return layer.shape


def keras_apply(node, as_output: bool = False) -> Callable:
    """The Keras callable of a graph node (a list of input tensors -> one tensor)."""
    r = rule(node.layer)
    name = keras_name(node.path)
    if isinstance(node.layer, L.Activation):
        # Under mixed precision the model's outputs stay float32 (softmax, loss).
        return r.keras(node.layer, name, dtype="float32" if as_output else None)
    if isinstance(node.layer, (L.GlobalPool, L.Dropout)):
        return r.keras(node.layer, name, rank=len(node.input_shapes[0]))
    return r.keras(node.layer, name)


# --- normalization and attention of the transformer-era networks (ConvNeXt, ViT) ---------------


def _tokens(layer, inputs):
    """A (tokens, features) input with known features."""
    tokens, features = _RecurrentRule._sequence(layer, inputs)
    if features is None:
        raise BlueprintError(f"{layer.kind} needs a known number of features")
    return tokens, features


@op(L.LayerNorm)
class LayerNormRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        shape = _one(inputs)
        if shape[-1] is None:
            raise BlueprintError("LayerNorm needs a known number of channels")
        return shape

    @staticmethod
    def params(layer, inputs, out):
        return inputs[0][-1] * (layer.center + layer.scale), 0

    @staticmethod
    def keras(layer, name):
        n = _keras().layers.LayerNormalization(axis=-1, epsilon=layer.epsilon,
                                               center=layer.center, scale=layer.scale,
                                               name=name)
        return lambda xs: n(xs[0])


@op(L.LayerScale)
class LayerScaleRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        return LayerNormRule.shape(layer, inputs, warn)

    @staticmethod
    def params(layer, inputs, out):
        return inputs[0][-1], 0

    @staticmethod
    def keras(layer, name):
        s = _custom().LayerScale(init_value=layer.init_value, name=name)
        return lambda xs: s(xs[0])


@op(L.MultiHeadAttention)
class MultiHeadAttentionRule(Rule):
    """Self-attention: Q, K, V and output projections, and per head the two matmuls
    Q K^T and (softmax) V, T * T * key_dim and T * T * value_dim MACs per example."""

    @staticmethod
    def shape(layer, inputs, warn):
        _tokens(layer, inputs)
        return _one(inputs)

    @staticmethod
    def _dims(layer, inputs):
        tokens, features = inputs[0]
        return (tokens or 1, features, layer.heads, layer.key_dim,
                layer.value_dim or layer.key_dim)

    @staticmethod
    def params(layer, inputs, out):
        _, c, h, dk, dv = MultiHeadAttentionRule._dims(layer, inputs)
        bias = layer.use_bias
        return (2 * (c + bias) * h * dk + (c + bias) * h * dv + (h * dv + bias) * c), 0

    @staticmethod
    def macs(layer, inputs, out):
        t, c, h, dk, dv = MultiHeadAttentionRule._dims(layer, inputs)
        projections = t * c * h * (2 * dk + dv) + t * h * dv * c
        return projections + h * t * t * (dk + dv)

    @staticmethod
    def keras(layer, name):
        a = _keras().layers.MultiHeadAttention(
            layer.heads, layer.key_dim, value_dim=layer.value_dim, dropout=layer.dropout,
            use_bias=layer.use_bias, name=name)
        return lambda xs: a(xs[0], xs[0])


@op(L.ClassToken)
class ClassTokenRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        tokens, features = _tokens(layer, inputs)
        return (None if tokens is None else tokens + 1, features)

    @staticmethod
    def params(layer, inputs, out):
        return inputs[0][-1], 0

    @staticmethod
    def keras(layer, name):
        t = _custom().ClassToken(name=name)
        return lambda xs: t(xs[0])


@op(L.PositionEmbedding)
class PositionEmbeddingRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        tokens, _ = _tokens(layer, inputs)
        if tokens is None:
            raise BlueprintError("PositionEmbedding needs a known number of tokens "
                                 "(a fixed input size)")
        return _one(inputs)

    @staticmethod
    def params(layer, inputs, out):
        return _prod(inputs[0]), 0

    @staticmethod
    def keras(layer, name):
        p = _custom().PositionEmbedding(name=name)
        return lambda xs: p(xs[0])


@op(L.SelectToken)
class SelectTokenRule(Rule):
    @staticmethod
    def shape(layer, inputs, warn):
        tokens, features = _tokens(layer, inputs)
        if tokens is not None and layer.index >= tokens:
            raise BlueprintError(
                f"SelectToken.index {layer.index} is outside a sequence of {tokens} tokens")
        return (features,)

    @staticmethod
    def keras(layer, name):
        s = _custom().SelectToken(index=layer.index, name=name)
        return lambda xs: s(xs[0])
