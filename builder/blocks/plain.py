"""Blocks of the plain (unbranched, unnormalized) deep CNNs: AlexNet, ZFNet, VGG and
Network in Network."""

from __future__ import annotations

from typing import Literal

from ..dsl.base import Block, Pair, PositiveInt, blueprint
from ..dsl.combinators import Sequence
from ..dsl.layers import (Activation, ActivationName, Conv2D, GlobalPool, LocalResponseNorm,
                          MaxPool2D, Padding)
from ..errors import BlueprintError

__all__ = ["ConvStack", "MLPConv", "GlobalAverageClassifier"]


@blueprint
class ConvStack(Block):
    """A VGG-style stage: convolutions of one width, each with its activation, then a
    max pool. Also one AlexNet/ZFNet layer (a single convolution, LRN, overlapping pool).

    Children are ``conv1 .. convN``, ``lrn`` and ``pool``. The first convolution takes
    ``strides`` and ``padding``; the others keep the size ('same', stride 1).
    """

    filters: PositiveInt
    kernel_sizes: tuple[PositiveInt, ...] = (3, 3)  # one per convolution: (3, 3, 1) for VGG C
    strides: Pair = (1, 1)  # of the first convolution
    padding: Padding = "same"  # of the first convolution
    groups: PositiveInt = 1  # AlexNet's two towers: groups=2
    activation: ActivationName = "relu"
    # Local response normalization (AlexNet's parameters): after the first convolution's
    # activation (AlexNet, VGG A-LRN) or after the pool (ZFNet).
    lrn: Literal["none", "after_first_conv", "after_pool"] = "none"
    pool: Literal["max", "none"] = "max"
    pool_size: Pair = (2, 2)
    pool_strides: Pair | None = None  # default: pool_size
    pool_padding: Padding = "valid"

    def validate(self):
        if not self.kernel_sizes:
            raise BlueprintError("ConvStack.kernel_sizes is empty: give one kernel size per convolution")
        if isinstance(self.filters, int) and isinstance(self.groups, int) and self.filters % self.groups:
            raise BlueprintError(
                f"ConvStack.filters {self.filters} is not divisible by groups {self.groups}")
        if self.lrn == "after_pool" and self.pool == "none":
            raise BlueprintError("ConvStack.lrn 'after_pool' needs a pool, and pool is 'none'")

    def expand(self, input_shape):
        layers = []
        for i, size in enumerate(self.kernel_sizes, start=1):
            first = i == 1
            layers.append(Conv2D(self.filters, size,
                                 strides=self.strides if first else 1,
                                 padding=self.padding if first else "same",
                                 groups=self.groups, activation=self.activation,
                                 name=f"conv{i}"))
            if first and self.lrn == "after_first_conv":
                layers.append(LocalResponseNorm(name="lrn"))
        if self.pool == "max":
            layers.append(MaxPool2D(self.pool_size, self.pool_strides, padding=self.pool_padding,
                                    name="pool"))
            if self.lrn == "after_pool":
                layers.append(LocalResponseNorm(name="lrn"))
        return Sequence(tuple(layers))


@blueprint
class MLPConv(Block):
    """Network in Network's mlpconv layer (Lin, Chen and Yan 2014): a ``kernel_size``
    convolution followed by two 1x1 convolutions (a small MLP shared over positions),
    each with its activation. Children are ``conv``, ``mlp1`` and ``mlp2``."""

    filters: tuple[PositiveInt, PositiveInt, PositiveInt]  # the kxk conv, then the two 1x1
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    padding: Padding = "same"
    activation: ActivationName = "relu"

    def expand(self, input_shape):
        first, second, third = self.filters
        return Sequence((
            Conv2D(first, self.kernel_size, strides=self.strides, padding=self.padding,
                   activation=self.activation, name="conv"),
            Conv2D(second, 1, activation=self.activation, name="mlp1"),
            Conv2D(third, 1, activation=self.activation, name="mlp2"),
        ))


@blueprint
class GlobalAverageClassifier(Block):
    """Network in Network's classifier: no dense layer; the last block makes one map per
    class, and the global average of each map is that class's score (then softmax).
    Children are ``pool`` and ``predictions``."""

    classes: PositiveInt
    activation: ActivationName | None = "softmax"

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        if channels != self.classes:
            raise BlueprintError(
                f"GlobalAverageClassifier.classes is {self.classes} but its input has "
                f"{channels} channels: the block before it must make one map per class")
        layers = [GlobalPool("avg", name="pool")]
        if self.activation:
            layers.append(Activation(self.activation, name="predictions"))
        return Sequence(tuple(layers))
