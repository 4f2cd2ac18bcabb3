"""Blocks of DenseNet (Huang, Liu, van der Maaten and Weinberger, "Densely connected
convolutional networks", CVPR 2017).

Every unit is pre-activation (batch norm, ReLU, convolution) and convolutions have no
bias, as in keras.applications DenseNet, whose batch norms use epsilon 1.001e-5.
"""

from __future__ import annotations

import math
from typing import Annotated

from ..dsl.base import Block, Epsilon, Max, Min, PositiveInt, Repeats, blueprint
from ..dsl.combinators import Identity, Parallel, Repeat, Sequence
from ..dsl.layers import AvgPool2D
from ..errors import BlueprintError
from .units import ConvBN

__all__ = ["DenseLayer", "DenseBlock", "Transition"]

# keras.applications DenseNet's batch norm epsilon.
DENSENET_EPSILON = 1.001e-5



def _unit(filters, kernel_size, bn_epsilon, name):
    return ConvBN(filters, kernel_size, order="bn-act-conv", bn_epsilon=bn_epsilon, name=name)


@blueprint
class DenseLayer(Block):
    """One layer of a dense block: BN-ReLU-1x1 conv to ``bottleneck_width * growth_rate``
    channels, BN-ReLU-3x3 conv to ``growth_rate``, then the input and the new
    ``growth_rate`` maps concatenated, in that order (as keras.applications does), so the
    output has C + growth_rate channels."""

    growth_rate: PositiveInt = 32
    bottleneck_width: PositiveInt = 4  # the 1x1 bottleneck has this many times growth_rate maps
    bn_epsilon: Epsilon = DENSENET_EPSILON

    def expand(self, input_shape):
        if len(input_shape) != 3:
            raise BlueprintError(f"DenseLayer needs an image (H, W, C), got {tuple(input_shape)}")
        new = Sequence((
            _unit(self.bottleneck_width * self.growth_rate, 1, self.bn_epsilon, "bottleneck"),
            _unit(self.growth_rate, 3, self.bn_epsilon, "conv"),
        ), name="new")
        return Parallel((Identity(name="input"), new), merge="concat")


@blueprint
class DenseBlock(Block):
    """``layers`` dense layers in a row (named ``layer1 .. layerN``); C input channels
    become C + layers * growth_rate."""

    layers: Repeats
    growth_rate: PositiveInt = 32
    bottleneck_width: PositiveInt = 4
    bn_epsilon: Epsilon = DENSENET_EPSILON

    def expand(self, input_shape):
        layer = DenseLayer(self.growth_rate, self.bottleneck_width, self.bn_epsilon, name="layer")
        return Repeat(layer, self.layers)


@blueprint
class Transition(Block):
    """Between dense blocks: BN-ReLU-1x1 conv to floor(C * compression) channels, then a
    2x2 average pool with stride 2 (halves the resolution)."""

    compression: Annotated[float, Min(0.0, exclusive=True), Max(1.0)] = 0.5
    bn_epsilon: Epsilon = DENSENET_EPSILON

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        filters = math.floor(channels * self.compression)
        if filters < 1:
            raise BlueprintError(
                f"Transition.compression {self.compression} leaves {channels} channels with "
                f"{filters} output channels; use a compression of at least {1 / channels:.3g}")
        return Sequence((_unit(filters, 1, self.bn_epsilon, "conv"),
                         AvgPool2D(2, 2, name="pool")))
