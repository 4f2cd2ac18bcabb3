"""RegNet's blocks (Radosavovic et al. 2020, "Designing Network Design Spaces"), as
keras.applications builds them.

- ``RegNetBlock``: the X block (1x1 conv-BN-ReLU, 3x3 group conv-BN-ReLU carrying the
  stride, 1x1 conv-BN, a 1x1 conv-BN projection shortcut where the shape changes, add,
  ReLU); with ``se_ratio`` the Y block, squeeze-and-excitation after the 3x3.
- ``RegNetStage``: ``depth`` such blocks of one width, the first strided; its summary
  columns are the paper's d, w, g, b.

The widths, depths and group widths come from ``builder.regnet_rule.regnet``.
"""

from __future__ import annotations

from typing import Annotated

from ..dsl.base import (Block, Epsilon, Fraction, Max, Min, Momentum, Pair, PositiveInt, Repeats,
                        blueprint)
from ..dsl.combinators import Residual, Sequence
from ..dsl.layers import ActivationName, Initializer
from ..errors import BlueprintError
from .mobile import SqueezeExcite
from .units import ConvBN

__all__ = ["RegNetBlock", "RegNetStage"]

# Inner width / output width: the paper's b is 1 (X, Y) or 1/4 .. 4 in its sweeps.
BottleneckRatio = Annotated[float, Min(0.0, exclusive=True), Max(64.0)]


@blueprint
class RegNetBlock(Block):
    """The RegNet X block (Y with ``se_ratio`` > 0): ``filters`` output channels, an
    inner width of ``filters * bottleneck_ratio`` split in groups of ``group_width``.

    The squeeze width is int(block input channels * ``se_ratio``), as pycls and keras
    size it. Children ``conv1``, ``conv2``, ``se``, ``conv3``, ``shortcut`` (a 1x1
    conv-BN where the block strides or changes the channels).
    """

    filters: PositiveInt  # output channels (the stage's width w)
    strides: Pair = (1, 1)
    group_width: PositiveInt = 8  # channels per group of the 3x3 convolution (g)
    bottleneck_ratio: BottleneckRatio = 1.0  # inner width / output width (b)
    se_ratio: Fraction = 0.0  # squeeze width / block input channels; 0: the X block
    activation: ActivationName = "relu"
    bn_epsilon: Epsilon = 1e-5
    bn_momentum: Momentum = 0.9
    kernel_initializer: Initializer = "he_normal"

    @property
    def inner_width(self) -> int:
        return int(round(self.filters * self.bottleneck_ratio))

    def validate(self):
        if not isinstance(self.filters, int) or not isinstance(self.group_width, int):
            return  # a search space: checked once its markers are resolved
        if self.inner_width % self.group_width:
            raise BlueprintError(
                f"RegNetBlock: the inner width {self.inner_width} (filters {self.filters} * "
                f"bottleneck_ratio {self.bottleneck_ratio:g}) does not split into groups of "
                f"{self.group_width}; take the widths from builder.regnet_rule.regnet, which "
                "makes them compatible")

    def expand(self, input_shape):
        channels, inner = self.input_channels(input_shape), self.inner_width
        unit = dict(bn_epsilon=self.bn_epsilon, bn_momentum=self.bn_momentum,
                    kernel_initializer=self.kernel_initializer)
        body = [ConvBN(inner, 1, activation=self.activation, name="conv1", **unit),
                ConvBN(inner, 3, strides=self.strides, groups=inner // self.group_width,
                       activation=self.activation, name="conv2", **unit)]
        if self.se_ratio:
            body.append(SqueezeExcite(reduced_filters=max(1, int(channels * self.se_ratio)),
                                      activation=self.activation,
                                      kernel_initializer=self.kernel_initializer, name="se"))
        body.append(ConvBN(self.filters, 1, activation=None, name="conv3", **unit))
        shortcut = None
        if channels != self.filters or self.strides != (1, 1):
            shortcut = ConvBN(self.filters, 1, strides=self.strides, padding="valid",
                              activation=None, name="shortcut", **unit)
        return Residual(Sequence(tuple(body)), shortcut, activation=self.activation)


@blueprint
class RegNetStage(Block):
    """``depth`` RegNet blocks of ``width`` channels (``block1`` .. ``blockN``); the
    first one strides. One stage of the paper's Figure 3."""

    width: PositiveInt  # w_i
    depth: Repeats  # d_i
    group_width: PositiveInt = 8  # g_i
    bottleneck_ratio: BottleneckRatio = 1.0  # b_i
    se_ratio: Fraction = 0.0
    strides: Pair = (2, 2)  # of the first block

    def expand(self, input_shape):
        block = RegNetBlock(self.width, group_width=self.group_width,
                            bottleneck_ratio=self.bottleneck_ratio, se_ratio=self.se_ratio)
        return Sequence(tuple(
            block.replace(strides=self.strides if i == 1 else (1, 1), name=f"block{i}")
            for i in range(1, self.depth + 1)))

    def summary_columns(self) -> dict:
        """The stage's parameters as the paper lists them: d, w, g, b."""
        return {"depth d": self.depth, "width w": self.width,
                "group g": self.group_width, "bottleneck b": f"{self.bottleneck_ratio:g}"}
