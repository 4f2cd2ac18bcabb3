"""Inception-ResNet-v2's blocks (Szegedy et al. 2017, "Inception-v4, Inception-ResNet and
the impact of residual connections on learning") exactly as keras.applications
InceptionResNetV2 builds them, over ``ConvBNUnscaled`` units.

An Inception-ResNet block concatenates its branches, maps them back to the input's
channels with a linear 1x1 convolution (with bias, no batch norm), scales that residual
(section 3.3: 0.1 to 0.3 keeps the training of wide residual stacks stable) and adds it
to the input: out = activation(x + scale * residual). ``InceptionResNetA`` (keras
``block35``), ``InceptionResNetB`` (``block17``), ``InceptionResNetC`` (``block8``);
``InceptionResNetReductionB`` is the 17 -> 8 reduction (``mixed_7a``). Reduction-A is
``GridReduction`` (builder.blocks.inception) with its k, l, m, n.
"""

from __future__ import annotations

from ..dsl.base import Block, Fraction, PositiveInt, blueprint
from ..dsl.combinators import Parallel, Residual, Sequence
from ..dsl.layers import ActivationName, Conv2D, MaxPool2D, Rescaling
from .inception import ConvBNUnscaled, _chain

__all__ = ["InceptionResNetA", "InceptionResNetB", "InceptionResNetC",
           "InceptionResNetReductionB"]


def _scaled_residual(branches, channels, scale, activation):
    # keras scales with a weightless layer (x + scale * r); a Rescaling of the residual
    # before the add is the same function with the ops the table already has.
    body = [Parallel(branches, name="mixed"),
            Conv2D(channels, 1, use_bias=True, name="conv")]
    if scale != 1.0:
        body.append(Rescaling(scale, name="scale"))
    return Residual(Sequence(tuple(body)), activation=activation)


@blueprint
class InceptionResNetA(Block):
    """The 35x35 block (Figure 16): 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3; concatenated,
    a 1x1 back to the input's channels, scaled and added to the input."""

    filters_1x1: PositiveInt = 32
    reduce_3x3: PositiveInt = 32
    filters_3x3: PositiveInt = 32
    reduce_3x3_double: PositiveInt = 32
    middle_3x3_double: PositiveInt = 48
    filters_3x3_double: PositiveInt = 64
    scale: Fraction = 0.17  # of the residual, before the add
    activation: ActivationName | None = "relu"

    def expand(self, input_shape):
        return _scaled_residual((
            _chain("branch1x1", ConvBNUnscaled(self.filters_1x1)),
            _chain("branch3x3", ConvBNUnscaled(self.reduce_3x3),
                   ConvBNUnscaled(self.filters_3x3, 3)),
            _chain("branch3x3_double", ConvBNUnscaled(self.reduce_3x3_double),
                   ConvBNUnscaled(self.middle_3x3_double, 3),
                   ConvBNUnscaled(self.filters_3x3_double, 3)),
        ), self.input_channels(input_shape), self.scale, self.activation)


@blueprint
class InceptionResNetB(Block):
    """The 17x17 block (Figure 17): 1x1; 1x1 -> 1x7 -> 7x1; concatenated, a 1x1 back to
    the input's channels, scaled and added to the input."""

    filters_1x1: PositiveInt = 192
    reduce_7x7: PositiveInt = 128
    filters_1x7: PositiveInt = 160
    filters_7x1: PositiveInt = 192
    scale: Fraction = 0.1
    activation: ActivationName | None = "relu"

    def expand(self, input_shape):
        return _scaled_residual((
            _chain("branch1x1", ConvBNUnscaled(self.filters_1x1)),
            _chain("branch7x7", ConvBNUnscaled(self.reduce_7x7),
                   ConvBNUnscaled(self.filters_1x7, (1, 7)),
                   ConvBNUnscaled(self.filters_7x1, (7, 1))),
        ), self.input_channels(input_shape), self.scale, self.activation)


@blueprint
class InceptionResNetC(Block):
    """The 8x8 block (Figure 19): 1x1; 1x1 -> 1x3 -> 3x1; concatenated, a 1x1 back to
    the input's channels, scaled and added to the input. keras ends the network with
    one at scale 1.0 and no activation."""

    filters_1x1: PositiveInt = 192
    reduce_3x3: PositiveInt = 192
    filters_1x3: PositiveInt = 224
    filters_3x1: PositiveInt = 256
    scale: Fraction = 0.2
    activation: ActivationName | None = "relu"

    def expand(self, input_shape):
        return _scaled_residual((
            _chain("branch1x1", ConvBNUnscaled(self.filters_1x1)),
            _chain("branch3x3", ConvBNUnscaled(self.reduce_3x3),
                   ConvBNUnscaled(self.filters_1x3, (1, 3)),
                   ConvBNUnscaled(self.filters_3x1, (3, 1))),
        ), self.input_channels(input_shape), self.scale, self.activation)


@blueprint
class InceptionResNetReductionB(Block):
    """Inception-ResNet-v2's 17 -> 8 reduction (Figure 18, keras ``mixed_7a``): 1x1 ->
    strided 3x3; 1x1 -> strided 3x3; 1x1 -> 3x3 -> strided 3x3; strided 3x3 max pool;
    concatenated."""

    reduce: PositiveInt = 256  # the 1x1 opening each convolution branch
    filters_3x3: PositiveInt = 384
    filters_3x3_second: PositiveInt = 288
    middle_3x3_double: PositiveInt = 288
    filters_3x3_double: PositiveInt = 320

    def expand(self, input_shape):
        r = self.reduce
        return Parallel((
            _chain("branch3x3", ConvBNUnscaled(r),
                   ConvBNUnscaled(self.filters_3x3, 3, 2, "valid")),
            _chain("branch3x3_second", ConvBNUnscaled(r),
                   ConvBNUnscaled(self.filters_3x3_second, 3, 2, "valid")),
            _chain("branch3x3_double", ConvBNUnscaled(r),
                   ConvBNUnscaled(self.middle_3x3_double, 3),
                   ConvBNUnscaled(self.filters_3x3_double, 3, 2, "valid")),
            MaxPool2D(3, 2, name="branch_pool"),
        ))
