"""Primitive layers: each lowers to one graph node. Shape, parameter and MAC rules and
the Keras layer of each are in ``builder.ops``; here they are only described."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from ..errors import BlueprintError
from .base import (Epsilon, Layer, Min, Momentum, NonNegativeInt, Pair, PositiveInt,
                   Rate, blueprint)

ActivationName = Literal[
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "mish",
    "hard_swish", "hard_silu", "sigmoid", "hard_sigmoid", "tanh", "lecun_tanh",
    "softmax", "log_softmax", "softplus", "softsign", "exponential", "linear",
]
# 'valid', 'same' (as Keras defines it: output = ceil(N / S)), or explicit zero padding P
# on each side, as the textbook formula has it: output = floor((N - F + 2P) / S) + 1.
Padding = Union[Literal["valid", "same"], NonNegativeInt, Annotated[tuple[int, int], Min(0)]]
Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform", "truncated_normal", "efficientnet_conv", "efficientnet_dense", "zeros",
]


@blueprint
class Conv2D(Layer):
    """2D convolution; ``groups`` > 1 splits input and output channels into groups."""

    filters: PositiveInt
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    padding: Padding = "same"
    dilation_rate: Pair = (1, 1)
    groups: PositiveInt = 1
    use_bias: bool = True
    activation: ActivationName | None = None
    kernel_initializer: Initializer = "glorot_uniform"

    def validate(self):
        if isinstance(self.filters, int) and isinstance(self.groups, int) and self.filters % self.groups:
            raise BlueprintError(
                f"Conv2D.filters {self.filters} is not divisible by groups {self.groups}"
            )
        if self.dilation_rate != (1, 1) and self.strides != (1, 1):
            raise BlueprintError("Conv2D: dilation_rate > 1 and strides > 1 cannot be combined")


@blueprint
class DepthwiseConv2D(Layer):
    """One filter (times ``depth_multiplier``) per input channel."""

    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    padding: Padding = "same"
    depth_multiplier: PositiveInt = 1
    dilation_rate: Pair = (1, 1)
    use_bias: bool = True
    activation: ActivationName | None = None
    kernel_initializer: Initializer = "glorot_uniform"


@blueprint
class SeparableConv2D(Layer):
    """Depthwise convolution followed by a 1x1 pointwise convolution, as one layer."""

    filters: PositiveInt
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    padding: Padding = "same"
    depth_multiplier: PositiveInt = 1
    use_bias: bool = True
    activation: ActivationName | None = None


@blueprint
class Dense(Layer):
    """Fully connected layer over the last axis."""

    units: PositiveInt
    use_bias: bool = True
    activation: ActivationName | None = None
    kernel_initializer: Initializer = "glorot_uniform"


@blueprint
class BatchNorm(Layer):
    """Batch normalization over the channel (last) axis."""

    epsilon: Epsilon = 1e-3
    momentum: Momentum = 0.99
    center: bool = True  # learn beta
    scale: bool = True  # learn gamma


@blueprint
class Activation(Layer):
    function: ActivationName = "relu"


@blueprint
class MaxPool2D(Layer):
    pool_size: Pair = (2, 2)
    strides: Pair | None = None  # default: pool_size
    padding: Padding = "valid"


@blueprint
class AvgPool2D(Layer):
    pool_size: Pair = (2, 2)
    strides: Pair | None = None  # default: pool_size
    padding: Padding = "valid"


@blueprint
class GlobalPool(Layer):
    """Pools all spatial (or time) positions: (H, W, C) -> (C,), or (1, 1, C) with keepdims."""

    mode: Literal["avg", "max"] = "avg"
    keepdims: bool = False


@blueprint
class ZeroPadding2D(Layer):
    """Zero rows/columns: ``p``, ``(rows, cols)`` or ``((top, bottom), (left, right))``."""

    padding: Union[
        NonNegativeInt,
        Annotated[tuple[int, int], Min(0)],
        Annotated[tuple[tuple[int, int], tuple[int, int]], Min(0)],
    ] = 1


@blueprint
class Cropping2D(Layer):
    """Drops rows/columns at the edges: ``p``, ``(rows, cols)`` or
    ``((top, bottom), (left, right))``, as ``ZeroPadding2D`` adds them."""

    cropping: Union[
        NonNegativeInt,
        Annotated[tuple[int, int], Min(0)],
        Annotated[tuple[tuple[int, int], tuple[int, int]], Min(0)],
    ] = 1


@blueprint
class Dropout(Layer):
    rate: Rate = 0.5
    per_sample: bool = False  # drop whole examples (stochastic depth / drop path)


@blueprint
class Flatten(Layer):
    pass


@blueprint
class Reshape(Layer):
    target_shape: tuple[int, ...]  # without the batch axis; one entry may be -1

    def validate(self):
        if not self.target_shape:
            raise BlueprintError("Reshape.target_shape is empty: a shape has at least one axis")


@blueprint
class Permute(Layer):
    dims: tuple[PositiveInt, ...]  # 1-based axes, without the batch axis (as Keras)


@blueprint
class Rescaling(Layer):
    """x * scale + offset (e.g. scale=1/255 for uint8 images)."""

    scale: float | tuple[float, ...] = 1.0
    offset: float | tuple[float, ...] = 0.0


@blueprint
class Normalization(Layer):
    """(x - mean) / sqrt(variance). Without mean and variance they are non-trainable
    weights (learned by ``adapt`` or loaded), as keras.layers.Normalization does."""

    mean: tuple[float, ...] | None = None
    variance: tuple[Annotated[float, Min(0.0)], ...] | None = None

    def validate(self):
        if (self.mean is None) != (self.variance is None):
            raise BlueprintError("Normalization needs both mean and variance, or neither")


@blueprint
class LocalResponseNorm(Layer):
    """Across-channel local response normalization of AlexNet and GoogLeNet:
    b = a / (k + alpha * sum over ``size`` neighbouring channels of a^2) ^ beta."""

    size: Annotated[int, Min(1)] = 5
    # k > 0 and alpha >= 0 keep the base positive for every input (no 0 / 0)
    alpha: Annotated[float, Min(0.0)] = 1e-4
    beta: float = 0.75
    k: Annotated[float, Min(0.0, exclusive=True)] = 2.0

    def validate(self):
        if self.size % 2 == 0:
            raise BlueprintError(f"LocalResponseNorm.size must be odd, got {self.size}")


@blueprint
class ChannelAffine(Layer):
    """A trainable scale and bias per channel (LeNet-5's subsampling coefficients)."""

    use_bias: bool = True


@blueprint
class SelectChannels(Layer):
    """Keeps the listed input channels, in order (a connection table's wiring)."""

    channels: tuple[NonNegativeInt, ...]

    def validate(self):
        if not self.channels:
            raise BlueprintError("SelectChannels.channels is empty")


# Recurrent layers work on sequences (time, features).
@blueprint
class SimpleRNN(Layer):
    units: PositiveInt
    return_sequences: bool = False
    activation: ActivationName = "tanh"
    dropout: Rate = 0.0


@blueprint
class LSTM(Layer):
    units: PositiveInt
    return_sequences: bool = False
    activation: ActivationName = "tanh"
    dropout: Rate = 0.0


@blueprint
class GRU(Layer):
    units: PositiveInt
    return_sequences: bool = False
    activation: ActivationName = "tanh"
    dropout: Rate = 0.0


@blueprint
class Bidirectional(Layer):
    """Runs ``layer`` forwards and backwards and merges the two outputs."""

    layer: SimpleRNN | LSTM | GRU
    merge_mode: Literal["concat", "sum", "mul", "ave"] = "concat"


# Merges take several inputs; Parallel and Residual emit them.
@blueprint
class Add(Layer):
    pass


@blueprint
class Multiply(Layer):
    """Elementwise product; a (1, 1, C) input broadcasts over (H, W, C)."""


@blueprint
class Concatenate(Layer):
    axis: int = -1


class Input(Layer):
    """The graph's input node (not a user blueprint)."""

    def __init__(self, shape):
        object.__setattr__(self, "shape", tuple(shape))
        object.__setattr__(self, "name", "input")


# --- normalization and attention of the transformer-era networks (ConvNeXt, ViT) ---------------
# Sequences of tokens are (tokens, features); LayerNorm and LayerScale act on the last axis
# of any input, images included.


@blueprint
class LayerNorm(Layer):
    """Layer normalization over the last axis (Ba et al. 2016); params 2 * C."""

    epsilon: Epsilon = 1e-6  # ViT's and ConvNeXt's (Keras's own default is 1e-3)
    center: bool = True  # learn beta
    scale: bool = True  # learn gamma


@blueprint
class LayerScale(Layer):
    """x * gamma, a learned scale per channel starting at ``init_value`` (Touvron et al.
    2021, CaiT; ConvNeXt's layer scale)."""

    init_value: float = 1e-6


@blueprint
class MultiHeadAttention(Layer):
    """Multi-head self-attention over a sequence (tokens, features): query, key and
    value are projections of the input to ``heads`` x ``key_dim`` (value: ``value_dim``,
    default ``key_dim``), softmax(Q K^T / sqrt(key_dim)) V per head, and an output
    projection back to the input's features."""

    heads: PositiveInt
    key_dim: PositiveInt  # per head
    value_dim: PositiveInt | None = None  # per head; None: key_dim
    use_bias: bool = True  # of the four projections
    dropout: Rate = 0.0  # on the attention probabilities


@blueprint
class ClassToken(Layer):
    """Prepends one learned token to a sequence (ViT's [class]): (T, C) -> (T + 1, C)."""


@blueprint
class PositionEmbedding(Layer):
    """Adds a learned embedding per position to a sequence (T, C); params T * C."""


@blueprint
class SelectToken(Layer):
    """The token at ``index`` of a sequence: (T, C) -> (C,) (ViT's class token)."""

    index: NonNegativeInt = 0
