"""The conv-BN-activation unit every family is built from."""

from __future__ import annotations

from typing import Literal

from ..dsl.base import Block, Epsilon, Momentum, Pair, PositiveInt, blueprint
from ..dsl.combinators import Sequence
from ..dsl.layers import (Activation, ActivationName, BatchNorm, Conv2D, Initializer,
                          Padding)

__all__ = ["ConvBN"]


@blueprint
class ConvBN(Block):
    """Convolution, batch normalization, activation; or, with ``order="bn-act-conv"``,
    the pre-activation order of ResNet v2 and DenseNet.

    Children are named ``conv``, ``bn`` and ``act``. ``activation=None`` leaves the
    activation out (the last unit of a residual body, before the add).
    """

    filters: PositiveInt
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    padding: Padding = "same"
    groups: PositiveInt = 1
    activation: ActivationName | None = "relu"
    use_bias: bool = False  # the batch norm's beta makes a bias redundant
    bn_epsilon: Epsilon = 1e-3
    bn_momentum: Momentum = 0.99
    order: Literal["conv-bn-act", "bn-act-conv"] = "conv-bn-act"
    kernel_initializer: Initializer = "glorot_uniform"

    def expand(self, input_shape):
        conv = Conv2D(self.filters, self.kernel_size, strides=self.strides, padding=self.padding,
                      groups=self.groups, use_bias=self.use_bias,
                      kernel_initializer=self.kernel_initializer, name="conv")
        bn = BatchNorm(epsilon=self.bn_epsilon, momentum=self.bn_momentum, name="bn")
        act = [Activation(self.activation, name="act")] if self.activation else []
        if self.order == "conv-bn-act":
            return Sequence((conv, bn, *act))
        return Sequence((bn, *act, conv))
