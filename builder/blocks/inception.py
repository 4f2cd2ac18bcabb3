"""Inception modules (GoogLeNet, Inception v3) and Xception's separable residual blocks.

- ``Inception``: the v1 module of GoogLeNet (Szegedy et al. 2015, "Going deeper with
  convolutions"): 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3 max pool -> 1x1 branches, concat.
- ``AuxiliaryHead``: GoogLeNet's auxiliary classifier, used through ``SideOutput``.
- The Inception v3 modules (Szegedy et al. 2016, "Rethinking the Inception architecture")
  exactly as keras.applications InceptionV3 builds them, over ``ConvBNUnscaled`` units
  (convolution without bias, batch norm without gamma, ReLU): ``InceptionFactorized``
  (35x35 grid), ``GridReduction`` (35 -> 17), ``InceptionAsymmetric`` (17x17, 1xn/nx1),
  ``GridReductionAsymmetric`` (17 -> 8), ``InceptionExpanded`` (8x8, expanded filter bank).
- Xception (Chollet 2017) as keras.applications builds it: ``XceptionEntryBlock`` and
  ``XceptionExitBlock`` (strided, with a 1x1 projection shortcut) and
  ``XceptionMiddleBlock`` (identity shortcut).
"""

from __future__ import annotations

from ..dsl.base import Block, Pair, PositiveInt, Rate, blueprint
from ..dsl.combinators import Parallel, Residual, Sequence
from ..dsl.layers import (Activation, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten,
                          MaxPool2D, Padding, SeparableConv2D)
from ..errors import BlueprintError

__all__ = [
    "Inception", "AuxiliaryHead", "ConvBNUnscaled", "InceptionFactorized", "GridReduction",
    "InceptionAsymmetric", "GridReductionAsymmetric", "InceptionExpanded",
    "XceptionEntryBlock", "XceptionMiddleBlock", "XceptionExitBlock",
]


def _conv_relu(filters, kernel_size, name):
    # GoogLeNet's units: convolution with bias, ReLU (no batch norm in 2014).
    return Conv2D(filters, kernel_size, padding="same", activation="relu", name=name)


@blueprint
class Inception(Block):
    """The GoogLeNet Inception module (Figure 2b); output channels are
    filters_1x1 + filters_3x3 + filters_5x5 + pool_projection.

    Branches ``branch1`` .. ``branch4`` in the paper's (and Table 1's) column order.
    """

    filters_1x1: PositiveInt
    reduce_3x3: PositiveInt  # 1x1 reduction before the 3x3
    filters_3x3: PositiveInt
    reduce_5x5: PositiveInt  # 1x1 reduction before the 5x5
    filters_5x5: PositiveInt
    pool_projection: PositiveInt  # 1x1 after the 3x3 max pool


    def expand(self, input_shape):
        return Parallel((
            _conv_relu(self.filters_1x1, 1, "conv1x1"),
            Sequence((_conv_relu(self.reduce_3x3, 1, "reduce"),
                      _conv_relu(self.filters_3x3, 3, "conv3x3")), name="branch3x3"),
            Sequence((_conv_relu(self.reduce_5x5, 1, "reduce"),
                      _conv_relu(self.filters_5x5, 5, "conv5x5")), name="branch5x5"),
            Sequence((MaxPool2D(3, 1, padding="same", name="pool"),
                      _conv_relu(self.pool_projection, 1, "projection")), name="branch_pool"),
        ), merge="concat")

    def summary_columns(self) -> dict:
        """The columns of the paper's Table 1."""
        return {"#1x1": self.filters_1x1, "#3x3 reduce": self.reduce_3x3,
                "#3x3": self.filters_3x3, "#5x5 reduce": self.reduce_5x5,
                "#5x5": self.filters_5x5, "pool proj": self.pool_projection}


@blueprint
class AuxiliaryHead(Block):
    """GoogLeNet's auxiliary classifier (section 5): 5x5 average pool at stride 3,
    1x1 convolution (128, ReLU), FC 1024 (ReLU), dropout 0.7, FC ``classes`` (softmax)."""

    classes: PositiveInt
    pool_size: Pair = (5, 5)
    pool_strides: Pair = (3, 3)
    projection: PositiveInt = 128
    hidden: PositiveInt = 1024
    dropout: Rate = 0.7

    def expand(self, input_shape):
        layers = [
            AvgPool2D(self.pool_size, self.pool_strides, name="pool"),
            Conv2D(self.projection, 1, activation="relu", name="conv"),
            Flatten(name="flatten"),
            Dense(self.hidden, activation="relu", name="fc"),
        ]
        if self.dropout:
            layers.append(Dropout(self.dropout, name="dropout"))
        layers += [Dense(self.classes, name="logits"),
                   Activation("softmax", name="predictions")]
        return Sequence(tuple(layers))


# --- Inception v3 ----------------------------------------------------------------------


@blueprint
class ConvBNUnscaled(Block):
    """keras.applications InceptionV3's ``conv2d_bn``: convolution without bias, batch
    normalization with beta but no gamma (``scale=False``: ReLU follows, so a scale
    would be redundant), ReLU. Children ``conv``, ``bn``, ``act``."""

    filters: PositiveInt
    kernel_size: Pair = (1, 1)
    strides: Pair = (1, 1)
    padding: Padding = "same"

    def expand(self, input_shape):
        return Sequence((
            Conv2D(self.filters, self.kernel_size, strides=self.strides, padding=self.padding,
                   use_bias=False, name="conv"),
            BatchNorm(scale=False, name="bn"),
            Activation("relu", name="act"),
        ))


def _chain(name, *units):
    """A branch of units named ``conv1``, ``conv2`` ... (a single unit stands alone)."""
    if len(units) == 1:
        return units[0].replace(name=name)
    named = tuple(u.replace(name=f"conv{i}") for i, u in enumerate(units, 1))
    return Sequence(named, name=name)


def _pool_branch(filters):
    return Sequence((AvgPool2D(3, 1, padding="same", name="pool"),
                     ConvBNUnscaled(filters, name="conv")), name="branch_pool")


@blueprint
class InceptionFactorized(Block):
    """Inception v3's 35x35 module (keras ``mixed0``-``mixed2``): 1x1; 1x1 -> 5x5;
    1x1 -> 3x3 -> 3x3 (the 5x5 factorized into two 3x3, Figure 5); 3x3 average pool
    -> 1x1."""

    filters_1x1: PositiveInt = 64
    reduce_5x5: PositiveInt = 48
    filters_5x5: PositiveInt = 64
    reduce_3x3: PositiveInt = 64  # 1x1 before the two stacked 3x3
    filters_3x3: PositiveInt = 96  # each of the two stacked 3x3
    pool_projection: PositiveInt = 32


    def expand(self, input_shape):
        return Parallel((
            _chain("branch1x1", ConvBNUnscaled(self.filters_1x1)),
            _chain("branch5x5", ConvBNUnscaled(self.reduce_5x5),
                   ConvBNUnscaled(self.filters_5x5, 5)),
            _chain("branch3x3_double", ConvBNUnscaled(self.reduce_3x3),
                   ConvBNUnscaled(self.filters_3x3, 3), ConvBNUnscaled(self.filters_3x3, 3)),
            _pool_branch(self.pool_projection),
        ))


@blueprint
class GridReduction(Block):
    """Inception v3's 35 -> 17 grid reduction (keras ``mixed3``, Figure 10): a strided
    3x3; 1x1 -> 3x3 -> strided 3x3; strided 3x3 max pool; concatenated. It is also
    Inception-ResNet's Reduction-A (Szegedy et al. 2017, Figure 7: k, l, m, n are
    ``reduce_3x3_double``, ``middle_3x3_double``, ``filters_3x3_double``,
    ``filters_3x3``)."""

    filters_3x3: PositiveInt = 384
    reduce_3x3_double: PositiveInt = 64
    filters_3x3_double: PositiveInt = 96
    middle_3x3_double: PositiveInt | None = None  # the first 3x3 (None: filters_3x3_double)


    def expand(self, input_shape):
        middle = self.middle_3x3_double or self.filters_3x3_double
        return Parallel((
            _chain("branch3x3", ConvBNUnscaled(self.filters_3x3, 3, 2, "valid")),
            _chain("branch3x3_double", ConvBNUnscaled(self.reduce_3x3_double),
                   ConvBNUnscaled(middle, 3),
                   ConvBNUnscaled(self.filters_3x3_double, 3, 2, "valid")),
            MaxPool2D(3, 2, name="branch_pool"),
        ))


@blueprint
class InceptionAsymmetric(Block):
    """Inception v3's 17x17 module (keras ``mixed4``-``mixed7``, Figure 6): the nxn
    convolutions factorized into 1xn and nx1. Branches: 1x1; 1x1 -> 1xn -> nx1;
    1x1 -> nx1 -> 1xn -> nx1 -> 1xn; 3x3 average pool -> 1x1. The last unit of each
    branch has ``filters`` channels, the inner ones ``inner_filters``."""

    inner_filters: PositiveInt  # 128, 160, 160, 192 in keras mixed4 .. mixed7
    filters: PositiveInt = 192
    size: PositiveInt = 7  # n


    def expand(self, input_shape):
        inner, out, n = self.inner_filters, self.filters, self.size
        return Parallel((
            _chain("branch1x1", ConvBNUnscaled(out)),
            _chain("branch7x7", ConvBNUnscaled(inner), ConvBNUnscaled(inner, (1, n)),
                   ConvBNUnscaled(out, (n, 1))),
            _chain("branch7x7_double", ConvBNUnscaled(inner), ConvBNUnscaled(inner, (n, 1)),
                   ConvBNUnscaled(inner, (1, n)), ConvBNUnscaled(inner, (n, 1)),
                   ConvBNUnscaled(out, (1, n))),
            _pool_branch(out),
        ))


@blueprint
class GridReductionAsymmetric(Block):
    """Inception v3's 17 -> 8 grid reduction (keras ``mixed8``): 1x1 -> strided 3x3;
    1x1 -> 1x7 -> 7x1 -> strided 3x3; strided 3x3 max pool; concatenated."""

    reduce: PositiveInt = 192  # the 1x1 and 1x7/7x1 units
    filters_3x3: PositiveInt = 320
    filters_7x7: PositiveInt = 192  # the strided 3x3 after the 1x7/7x1 pair


    def expand(self, input_shape):
        r = self.reduce
        return Parallel((
            _chain("branch3x3", ConvBNUnscaled(r), ConvBNUnscaled(self.filters_3x3, 3, 2, "valid")),
            _chain("branch7x7x3", ConvBNUnscaled(r), ConvBNUnscaled(r, (1, 7)),
                   ConvBNUnscaled(r, (7, 1)), ConvBNUnscaled(self.filters_7x7, 3, 2, "valid")),
            MaxPool2D(3, 2, name="branch_pool"),
        ))


def _split_1x3_3x1(filters):
    return Parallel((ConvBNUnscaled(filters, (1, 3), name="conv1x3"),
                     ConvBNUnscaled(filters, (3, 1), name="conv3x1")), name="split")


@blueprint
class InceptionExpanded(Block):
    """Inception v3's 8x8 module with the expanded filter bank (keras ``mixed9``,
    ``mixed10``, Figure 7): 1x1; 1x1 -> [1x3, 3x1]; 1x1 -> 3x3 -> [1x3, 3x1];
    3x3 average pool -> 1x1; all concatenated."""

    filters_1x1: PositiveInt = 320
    filters_3x3: PositiveInt = 384  # the 1x1 and each of the 1x3 / 3x1 pair
    reduce_3x3_double: PositiveInt = 448
    filters_3x3_double: PositiveInt = 384
    pool_projection: PositiveInt = 192


    def expand(self, input_shape):
        return Parallel((
            _chain("branch1x1", ConvBNUnscaled(self.filters_1x1)),
            Sequence((ConvBNUnscaled(self.filters_3x3, name="conv1"),
                      _split_1x3_3x1(self.filters_3x3)), name="branch3x3"),
            Sequence((ConvBNUnscaled(self.reduce_3x3_double, name="conv1"),
                      ConvBNUnscaled(self.filters_3x3_double, 3, name="conv2"),
                      _split_1x3_3x1(self.filters_3x3_double)), name="branch3x3_double"),
            _pool_branch(self.pool_projection),
        ))


# --- Xception --------------------------------------------------------------------------


def _separable_bn(filters, name):
    return Sequence((SeparableConv2D(filters, 3, use_bias=False, name="sepconv"),
                     BatchNorm(name="bn")), name=name)


def _strided_block(first_filters, second_filters, first_activation):
    # relu? -> sep -> bn -> relu -> sep -> bn -> 3x3/2 max pool, plus a 1x1/2 projection
    # shortcut with batch norm, as keras.applications Xception (blocks 2-4 and 13).
    body = ([Activation("relu", name="act1")] if first_activation else []) + [
        _separable_bn(first_filters, "separable1"),
        Activation("relu", name="act2"),
        _separable_bn(second_filters, "separable2"),
        MaxPool2D(3, 2, padding="same", name="pool"),
    ]
    shortcut = Sequence((Conv2D(second_filters, 1, strides=2, use_bias=False, name="conv"),
                         BatchNorm(name="bn")), name="shortcut")
    return Residual(Sequence(tuple(body)), shortcut)


@blueprint
class XceptionEntryBlock(Block):
    """An entry-flow block: [ReLU] separable 3x3, BN, ReLU, separable 3x3, BN, 3x3/2 max
    pool, added to a 1x1/2 convolution + BN of the input. The first entry block (keras
    ``block2``) follows a ReLU already and has no leading activation."""

    filters: PositiveInt
    leading_activation: bool = True


    def expand(self, input_shape):
        return _strided_block(self.filters, self.filters, self.leading_activation)


@blueprint
class XceptionMiddleBlock(Block):
    """A middle-flow block: three times (ReLU, separable 3x3, BN), plus the input."""

    filters: PositiveInt = 728


    def expand(self, input_shape):
        if input_shape[-1] != self.filters:
            raise BlueprintError(
                f"XceptionMiddleBlock.filters {self.filters} must equal its input's "
                f"{input_shape[-1]} channels (the shortcut is the identity)")
        layers = []
        for i in (1, 2, 3):
            layers += [Activation("relu", name=f"act{i}"),
                       _separable_bn(self.filters, f"separable{i}")]
        return Residual(Sequence(tuple(layers)))


@blueprint
class XceptionExitBlock(Block):
    """The exit-flow residual block (keras ``block13``): ReLU, separable 3x3
    (``filters_first``), BN, ReLU, separable 3x3 (``filters``), BN, 3x3/2 max pool,
    added to a 1x1/2 projection + BN of the input."""

    filters_first: PositiveInt = 728
    filters: PositiveInt = 1024


    def expand(self, input_shape):
        return _strided_block(self.filters_first, self.filters, True)
