"""Residual blocks: ResNet's basic and bottleneck blocks (v1, v1.5, v2), ResNeXt's
grouped bottleneck, and the wide residual block of Wide ResNets.

Versions:
- ``"v1"``: He et al. 2016 as keras.applications ResNet50 has it: post-activation,
  a bottleneck's stride on its first 1x1 convolution.
- ``"v1.5"``: as torchvision: the stride on the 3x3 convolution instead (same
  parameters, a little more compute, a little more accurate).
- ``"v2"``: pre-activation (He et al., "Identity mappings in deep residual networks",
  2016) as keras.applications ResNet50V2: BN-ReLU before the convolutions; a projection
  shortcut starts from the pre-activated input, an identity shortcut from the input
  itself, and a strided identity shortcut is a 1x1 max pool with that stride.

The v1 and v1.5 bottleneck also takes the options of ResNet-RS (Bello et al. 2021):
squeeze-and-excitation after the last convolution (``se_ratio``), ResNet-D's average-pool
shortcut (``downsample="avg"``, He et al. 2019, "Bag of tricks") and stochastic depth
(``drop_rate``).

The shortcut is an identity when the block keeps the shape, else a 1x1 projection (in
v2 a block that only changes the resolution keeps an identity-like 1x1 max pool).
"""

from __future__ import annotations

from typing import Literal

from ..dsl.base import (Block, Epsilon, Fraction, Momentum, Pair, PositiveInt, Rate,
                        blueprint)
from ..dsl.combinators import Residual, Sequence
from ..dsl.layers import (Activation, ActivationName, AvgPool2D, BatchNorm, Conv2D, Dropout,
                          MaxPool2D)
from ..errors import BlueprintError
from .mobile import SqueezeExcite
from .units import ConvBN

__all__ = ["BasicBlock", "Bottleneck", "WideBlock"]

Version = Literal["v1", "v1.5", "v2"]


def window_padding(kernel_size: int, strides: tuple[int, int]):
    """'same' at stride 1; an explicit kernel_size // 2 on every side where strided.

    Keras's 'same' at stride 2 on an even size pads only the bottom and right, while the
    papers, torchvision and keras' ResNetV2 pad every side: same shapes, different
    pixels, so a strided window pads explicitly to stay faithful to the weights.
    """
    return "same" if tuple(strides) == (1, 1) else kernel_size // 2


def _preactivation(epsilon, activation, momentum=0.99):
    return Sequence((BatchNorm(epsilon=epsilon, momentum=momentum, name="bn"),
                     Activation(activation, name="act")), name="preact")


def _residual(version, body, in_channels, out_channels, strides, projection, activation,
              drop_rate=0.0):
    """The residual around ``body`` (a tuple of children) with the shortcut the shapes need.

    ``projection`` is the 1x1 projection shortcut, used when the shapes differ. In v2 it
    starts from the pre-activation (which then comes before the residual), and a block
    that keeps its channels but strides gets a 1x1 max pool as its shortcut.
    """
    strided = tuple(strides) != (1, 1)
    if version != "v2":
        shortcut = projection if (in_channels != out_channels or strided) else None
        return Residual(Sequence(body), shortcut, activation=activation, drop_rate=drop_rate)
    preact, *convs = body
    if in_channels != out_channels:
        return Sequence((preact, Residual(Sequence(tuple(convs)), projection,
                                          name="residual")))
    shortcut = MaxPool2D(1, strides, name="shortcut") if strided else None
    return Residual(Sequence(body), shortcut)


@blueprint
class BasicBlock(Block):
    """Two 3x3 convolutions around a shortcut (ResNet-18/34; with ``widen_factor`` and
    ``dropout``, the wide residual block).

    Output channels: ``filters * widen_factor``. v1 and v1.5 are the same block (the
    stride is on the first 3x3); v2 is its pre-activation form.
    """

    filters: PositiveInt
    strides: Pair = (1, 1)
    version: Version = "v1"
    widen_factor: PositiveInt = 1  # multiplies the channels of both convolutions
    dropout: Rate = 0.0  # between the two convolutions (wide residual block)
    use_bias: bool = False  # in v2 only the convolutions not followed by batch norm
    bn_epsilon: Epsilon = 1e-5
    bn_momentum: Momentum = 0.99
    activation: ActivationName = "relu"

    @property
    def output_channels(self) -> int:
        return self.filters * self.widen_factor

    def expand(self, input_shape):
        out, strides = self.output_channels, self.strides
        eps, mom, act = self.bn_epsilon, self.bn_momentum, self.activation
        padding = window_padding(3, strides)
        dropout = (Dropout(self.dropout, name="dropout"),) if self.dropout else ()
        if self.version == "v2":
            body = (_preactivation(eps, act, mom),
                    ConvBN(out, 3, strides=strides, padding=padding, bn_epsilon=eps,
                           bn_momentum=mom,
                           activation=act, name="conv1"),
                    *dropout,
                    Conv2D(out, 3, use_bias=self.use_bias, name="conv2"))
            projection = Conv2D(out, 1, strides=strides, padding="valid",
                                use_bias=self.use_bias, name="shortcut")
            return _residual("v2", body, self.input_channels(input_shape), out, strides, projection, None)
        conv = dict(use_bias=self.use_bias, bn_epsilon=eps, bn_momentum=mom)
        body = (ConvBN(out, 3, strides=strides, padding=padding, activation=act,
                       name="conv1", **conv),
                *dropout,
                ConvBN(out, 3, activation=None, name="conv2", **conv))
        projection = ConvBN(out, 1, strides=strides, padding="valid", activation=None,
                            name="shortcut", **conv)
        return _residual(self.version, body, self.input_channels(input_shape), out, strides, projection, act)


@blueprint
class Bottleneck(Block):
    """1x1 reduce, 3x3, 1x1 expand to ``filters * expansion`` channels, around a shortcut
    (ResNet-50/101/152; with ``groups`` and ``base_width``, ResNeXt; with
    ``widen_factor``, Wide ResNet-50-2; with ``se_ratio``, ``downsample="avg"`` and
    ``drop_rate``, ResNet-RS).

    The inner width is ``filters * base_width / 64`` channels per group times ``groups``
    times ``widen_factor``, as torchvision counts it: ResNeXt-50 32x4d is ``groups=32,
    base_width=4`` (128 channels in the first stage), plain ResNet ``groups=1,
    base_width=64``.
    """

    filters: PositiveInt  # the bottleneck's channels in plain ResNet; output: x expansion
    strides: Pair = (1, 1)
    version: Version = "v1"
    groups: PositiveInt = 1  # cardinality: the 3x3 convolution is split in this many groups
    base_width: PositiveInt = 64  # channels per group when filters is 64 (ResNeXt's "4d": 4)
    widen_factor: PositiveInt = 1  # multiplies the inner width (Wide ResNet-50-2: 2)
    expansion: PositiveInt = 4
    use_bias: bool = False  # in v2 only the convolutions not followed by batch norm
    bn_epsilon: Epsilon = 1e-5
    bn_momentum: Momentum = 0.99
    activation: ActivationName = "relu"
    # squeeze-and-excitation after the last convolution: squeeze width / output channels
    se_ratio: Fraction = 0.0
    # a strided projection shortcut: a strided 1x1 conv, or ResNet-D's average pool (the
    # stride's window) then a 1x1 conv, which reads every pixel
    downsample: Literal["conv", "avg"] = "conv"
    drop_rate: Rate = 0.0  # stochastic depth: the body dropped per example in training

    def validate(self):
        if self.version == "v2" and (self.se_ratio or self.downsample != "conv"
                                     or self.drop_rate):
            raise BlueprintError("Bottleneck: se_ratio, downsample='avg' and drop_rate are "
                                 "options of versions 'v1' and 'v1.5', not 'v2'")
        if not all(isinstance(v, int) for v in (self.filters, self.base_width)):
            return  # a search space: checked once its markers are resolved
        if (self.filters * self.base_width) % 64:
            raise BlueprintError(
                f"Bottleneck.base_width {self.base_width} gives filters {self.filters} * "
                f"{self.base_width} / 64 = {self.filters * self.base_width / 64:g} channels "
                "per group, not a whole number; choose filters * base_width divisible by 64")

    @property
    def width(self) -> int:
        """Channels of the inner (3x3) convolution."""
        return self.filters * self.base_width // 64 * self.groups * self.widen_factor

    @property
    def output_channels(self) -> int:
        return self.filters * self.expansion

    def expand(self, input_shape):
        width, out, strides = self.width, self.output_channels, self.strides
        eps, mom, act = self.bn_epsilon, self.bn_momentum, self.activation
        # v1 strides on the first 1x1 (keras.applications), v1.5 and v2 on the 3x3.
        reduce_strides, inner_strides = ((strides, (1, 1)) if self.version == "v1"
                                         else ((1, 1), strides))
        padding = window_padding(3, inner_strides)
        if self.version == "v2":
            conv = dict(use_bias=False, bn_epsilon=eps, bn_momentum=mom, activation=act)
            body = (_preactivation(eps, act, mom),
                    ConvBN(width, 1, padding="valid", name="conv1", **conv),
                    ConvBN(width, 3, strides=inner_strides, padding=padding,
                           groups=self.groups, name="conv2", **conv),
                    Conv2D(out, 1, padding="valid", use_bias=self.use_bias, name="conv3"))
            projection = Conv2D(out, 1, strides=strides, padding="valid",
                                use_bias=self.use_bias, name="shortcut")
            return _residual("v2", body, self.input_channels(input_shape), out, strides, projection, None)
        conv = dict(use_bias=self.use_bias, bn_epsilon=eps, bn_momentum=mom)
        body = (ConvBN(width, 1, strides=reduce_strides, padding="valid", activation=act,
                       name="conv1", **conv),
                ConvBN(width, 3, strides=inner_strides, padding=padding, groups=self.groups,
                       activation=act, name="conv2", **conv),
                ConvBN(out, 1, padding="valid", activation=None, name="conv3", **conv),
                *self._squeeze_excite())
        return _residual(self.version, body, self.input_channels(input_shape), out, strides,
                         self._projection(out, conv), act, self.drop_rate)

    def _squeeze_excite(self):
        if not self.se_ratio:
            return ()
        return (SqueezeExcite(self.se_ratio, activation=self.activation, name="se"),)

    def _projection(self, out, conv):
        strides = tuple(self.strides)
        if self.downsample == "avg" and strides != (1, 1):
            return Sequence((AvgPool2D(strides, padding="same", name="pool"),
                             ConvBN(out, 1, padding="valid", activation=None, name="conv",
                                    **conv)), name="shortcut")
        return ConvBN(out, 1, strides=strides, padding="valid", activation=None,
                      name="shortcut", **conv)


@blueprint
class WideBlock(Block):
    """The wide residual block of Zagoruyko & Komodakis 2016 (WRN-d-k on CIFAR):
    BN-ReLU-conv3x3-dropout-BN-ReLU-conv3x3 with ``filters * widen_factor`` channels,
    the stride on the first convolution; a 1x1 projection from the pre-activated input
    where the channels change. It is the pre-activation ``BasicBlock`` with dropout."""

    filters: PositiveInt  # channels at widen factor 1 (16, 32, 64 in WRN's three groups)
    strides: Pair = (1, 1)
    widen_factor: PositiveInt = 1  # WRN's k
    dropout: Rate = 0.0  # between the two convolutions (the paper's best: 0.3)
    use_bias: bool = False
    bn_epsilon: Epsilon = 1e-5

    def expand(self, input_shape):
        return BasicBlock(self.filters, self.strides, version="v2",
                          widen_factor=self.widen_factor, dropout=self.dropout,
                          use_bias=self.use_bias, bn_epsilon=self.bn_epsilon)
