"""Blocks of the mobile networks: MobileNet v1's depthwise-separable unit, the inverted
residual of MobileNetV2 and EfficientNet (MBConv), its fused form (EfficientNetV2),
squeeze-and-excitation, and the stage helpers the scaled networks are made of.

Blocks that the width and depth transform of ``builder.scaling`` may change say so with
the class attributes ``scalable_widths`` (channel counts) and ``scalable_repeats``.
"""

from __future__ import annotations

from typing import Annotated

from ..dsl.base import (Block, Blueprint, Child, Epsilon, Fraction, Marker, Max, Min, Momentum,
                        Pair, PositiveInt, Rate, Repeats, blueprint, unmarked)
from ..dsl.combinators import (Identity, Parallel, Residual, Sequence, named_children,
                               sequence_name)
from ..dsl.layers import (Activation, ActivationName, BatchNorm, Conv2D, DepthwiseConv2D,
                          GlobalPool, Initializer)
from ..errors import BlueprintError
from .units import ConvBN

__all__ = ["DepthwiseSeparable", "SqueezeExcite", "MBConv", "InvertedResidual",
           "FusedMBConv", "StridedRepeat", "DropPathSchedule"]



def _depthwise_unit(kernel_size, strides, depth_multiplier, activation, epsilon, momentum,
                    initializer):
    """Depthwise convolution, batch norm, activation: children ``conv``, ``bn``, ``act``."""
    layers = [DepthwiseConv2D(kernel_size, strides=strides, depth_multiplier=depth_multiplier,
                              use_bias=False, kernel_initializer=initializer, name="conv"),
              BatchNorm(epsilon=epsilon, momentum=momentum, name="bn")]
    if activation:
        layers.append(Activation(activation, name="act"))
    return Sequence(tuple(layers), name="depthwise")


@blueprint
class DepthwiseSeparable(Block):
    """MobileNet v1's unit: 3x3 depthwise conv, BN, ReLU6, then 1x1 conv, BN, ReLU6.

    The width multiplier alpha is not a field: ``builder.scaling.scale`` multiplies
    ``filters``. Children: ``depthwise`` and ``pointwise``.
    """

    filters: PositiveInt  # output channels of the pointwise convolution
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    depth_multiplier: PositiveInt = 1
    activation: ActivationName | None = "relu6"
    bn_epsilon: Epsilon = 1e-3
    bn_momentum: Momentum = 0.99

    scalable_widths = ("filters",)

    def expand(self, input_shape):
        return Sequence((
            _depthwise_unit(self.kernel_size, self.strides, self.depth_multiplier,
                            self.activation, self.bn_epsilon, self.bn_momentum,
                            "glorot_uniform"),
            ConvBN(self.filters, 1, activation=self.activation, bn_epsilon=self.bn_epsilon,
                   bn_momentum=self.bn_momentum, name="pointwise"),
        ))


@blueprint
class SqueezeExcite(Block):
    """Squeeze-and-excitation (Hu et al. 2018): x * gate(x), the gate being a global
    average pool, a 1x1 reduce conv with ``activation`` and a 1x1 expand conv back to the
    input's channels with ``gate_activation``.

    The reduced width is ``reduced_filters`` if given, else max(1, int(input channels *
    ratio)). Lowers to a multiply of two branches: ``identity`` and ``gate``
    (``squeeze``, ``reduce``, ``expand``).
    """

    ratio: Annotated[float, Min(0.0, exclusive=True), Max(1.0)] = 0.25
    reduced_filters: PositiveInt | None = None
    activation: ActivationName = "relu"
    gate_activation: ActivationName = "sigmoid"
    kernel_initializer: Initializer = "glorot_uniform"

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        reduced = self.reduced_filters or max(1, int(channels * self.ratio))
        gate = Sequence((
            GlobalPool("avg", keepdims=True, name="squeeze"),
            Conv2D(reduced, 1, activation=self.activation,
                   kernel_initializer=self.kernel_initializer, name="reduce"),
            Conv2D(channels, 1, activation=self.gate_activation,
                   kernel_initializer=self.kernel_initializer, name="expand"),
        ), name="gate")
        return Parallel((Identity(name="identity"), gate), merge="multiply")


def _squeeze_excite(block, input_channels):
    explicit = getattr(block, "squeeze_excite", None)
    if explicit is not None:
        return [explicit.replace(name="se")]
    if not block.se_ratio:
        return []
    # keras.applications (and the EfficientNet papers) size the squeeze from the block's
    # input channels, not the expanded ones.
    return [SqueezeExcite(reduced_filters=max(1, int(input_channels * block.se_ratio)),
                          activation=block.activation,
                          kernel_initializer=block.kernel_initializer, name="se")]


def _with_shortcut(block, layers, input_shape):
    body = Sequence(tuple(layers))
    if block.residual and block.strides == (1, 1) and input_shape[-1] == block.filters:
        return Residual(body, drop_rate=block.drop_rate)
    return body


@blueprint
class MBConv(Block):
    """Mobile inverted bottleneck (MobileNetV2, EfficientNet): 1x1 expand conv to
    ``expand_ratio`` times the input channels (left out when the ratio is 1), kxk
    depthwise conv, optional squeeze-and-excitation, 1x1 linear projection to
    ``filters``. An identity shortcut is added when the stride is 1 and the channels do
    not change; ``drop_rate`` then drops the body per example (stochastic depth).

    MobileNetV3 gives its widths explicitly: ``expanded_filters`` (its expansions are
    not whole ratios and are rounded to multiples of 8) and a ``squeeze_excite`` block
    used as is (sized from the expanded width, with a hard-sigmoid gate).

    Children: ``expand``, ``depthwise``, ``se``, ``project`` (and ``drop``, ``add``).
    """

    filters: PositiveInt  # output channels
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    expand_ratio: PositiveInt = 6
    se_ratio: Fraction = 0.0  # squeeze width / block input channels; 0: no SE
    activation: ActivationName = "swish"
    drop_rate: Rate = 0.0
    residual: bool = True  # identity shortcut where the shapes allow it
    bn_epsilon: Epsilon = 1e-3
    bn_momentum: Momentum = 0.99
    kernel_initializer: Initializer = "glorot_uniform"
    # width after the expand conv (none when it equals the input's); None: input * ratio
    expanded_filters: PositiveInt | None = None
    squeeze_excite: Blueprint | None = None  # an SE block used as is, instead of se_ratio's

    scalable_widths = ("filters", "expanded_filters")

    def validate(self):
        if self.squeeze_excite is not None and self.se_ratio:
            raise BlueprintError(f"{type(self).__name__}: give se_ratio or squeeze_excite, "
                                 "not both")

    def summary_columns(self) -> dict:
        return _operator_columns(self, "MBConv")

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        bn = dict(bn_epsilon=self.bn_epsilon, bn_momentum=self.bn_momentum,
                  kernel_initializer=self.kernel_initializer)
        expanded = self.expanded_filters or channels * self.expand_ratio
        layers = []
        if expanded != channels:
            layers.append(ConvBN(expanded, 1, activation=self.activation, name="expand", **bn))
        layers.append(_depthwise_unit(self.kernel_size, self.strides, 1, self.activation,
                                      self.bn_epsilon, self.bn_momentum,
                                      self.kernel_initializer))
        layers += _squeeze_excite(self, channels)
        layers.append(ConvBN(self.filters, 1, activation=None, name="project", **bn))
        return _with_shortcut(self, layers, input_shape)


@blueprint
class InvertedResidual(MBConv):
    """MobileNetV2's inverted residual: an MBConv with ReLU6 and no squeeze-and-excitation."""

    activation: ActivationName = "relu6"


@blueprint
class FusedMBConv(Block):
    """EfficientNetV2's fused MBConv: the expand conv and the depthwise conv become one
    kxk conv (with the stride), then optional squeeze-and-excitation and a 1x1 linear
    projection. With ``expand_ratio`` 1 there is no expand conv: the projection itself
    is the kxk strided conv, with an activation.

    Children: ``expand``, ``se``, ``project`` (and ``drop``, ``add``).
    """

    filters: PositiveInt  # output channels
    kernel_size: Pair = (3, 3)
    strides: Pair = (1, 1)
    expand_ratio: PositiveInt = 4
    se_ratio: Fraction = 0.0
    activation: ActivationName = "swish"
    drop_rate: Rate = 0.0
    residual: bool = True
    bn_epsilon: Epsilon = 1e-3
    bn_momentum: Momentum = 0.99
    kernel_initializer: Initializer = "glorot_uniform"

    scalable_widths = ("filters",)

    def summary_columns(self) -> dict:
        return _operator_columns(self, "Fused-MBConv")

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        bn = dict(bn_epsilon=self.bn_epsilon, bn_momentum=self.bn_momentum,
                  kernel_initializer=self.kernel_initializer)
        layers = []
        if self.expand_ratio != 1:
            layers.append(ConvBN(channels * self.expand_ratio, self.kernel_size,
                                 strides=self.strides, activation=self.activation,
                                 name="expand", **bn))
        layers += _squeeze_excite(self, channels)
        if self.expand_ratio != 1:
            layers.append(ConvBN(self.filters, 1, activation=None, name="project", **bn))
        else:
            layers.append(ConvBN(self.filters, self.kernel_size, strides=self.strides,
                                 activation=self.activation, name="project", **bn))
        return _with_shortcut(self, layers, input_shape)


def _operator_columns(block, operator: str) -> dict:
    """The columns of the MobileNetV3 and EfficientNet papers' tables: operator and
    kernel, expansion (t, or the expanded width), squeeze-and-excite, nonlinearity, stride."""
    kernel = "x".join(str(k) for k in block.kernel_size)
    expanded = getattr(block, "expanded_filters", None)
    squeeze = block.se_ratio or getattr(block, "squeeze_excite", None) is not None
    return {"operator": f"{operator}{block.expand_ratio if not expanded else ''}, {kernel}",
            "exp": expanded or f"t={block.expand_ratio}", "SE": "yes" if squeeze else "-",
            "NL": block.activation, "s": block.strides[0]}


@blueprint
class StridedRepeat(Block):
    """A stage: ``block`` repeated ``repeats`` times as ``block1 .. blockN``; only the
    first keeps the block's ``strides`` (the others use 1), so a stage downsamples once.

    If the block has a ``drop_rate`` field, block i (from 0) gets
    ``drop_rate_start + i * drop_rate_step`` (set by ``DropPathSchedule``).
    """

    block: Blueprint
    repeats: Repeats
    drop_rate_start: Rate = 0.0
    drop_rate_step: Annotated[float, Min(0.0)] = 0.0

    scalable_repeats = ("repeats",)

    def children(self):
        # The copies are made by the expansion, but each is the blueprint of field
        # ``block`` (strides and drop rate set per copy): their paths lead to it.
        block, marker = unmarked(self.block)
        return tuple(Child(f"block{i}", "block", None, block, marker)
                     for i in range(1, unmarked(self.repeats)[0] + 1))

    def validate(self):
        numbers = (self.drop_rate_start, self.repeats, self.drop_rate_step)
        if any(isinstance(n, Marker) for n in numbers):
            return  # checked again when the markers are resolved (a new object is made)
        rate = self.drop_rate_start + (self.repeats - 1) * self.drop_rate_step
        if rate >= 1.0:
            raise BlueprintError(
                f"StridedRepeat: the last block's drop rate would be {rate:.3f} (must be < 1)")

    def summary_columns(self) -> dict:
        """The stage as the EfficientNet paper's Table 1 lists it: its block's operator
        and the number of layers."""
        inner = getattr(unmarked(self.block)[0], "summary_columns", None)
        return {**(inner() if callable(inner) else {}), "layers": self.repeats}

    def blocks(self):
        """The stage's blocks as ``(name, blueprint)`` pairs, made one at a time."""
        names = {f.name for f in self.block.__dataclass_fields__.values()}
        for i in range(self.repeats):
            changes = {"name": f"block{i + 1}"}
            if i and "strides" in names:
                changes["strides"] = (1, 1)
            if "drop_rate" in names and (self.drop_rate_start or self.drop_rate_step):
                changes["drop_rate"] = self.drop_rate_start + i * self.drop_rate_step
            yield changes["name"], self.block.replace(**changes)

    def expand(self, input_shape):
        return Sequence(tuple(block for _, block in self.blocks()))

    def lower(self, ctx, x, path):
        # As the expansion does, but block by block, so that a count far too large is
        # refused after the first block (see Lowering.lower_repeated).
        return ctx.lower_repeated(self.blocks(), self.repeats, x, path)


@blueprint
class DropPathSchedule(Block):
    """Stochastic depth that grows linearly with depth (EfficientNet's drop-connect
    schedule): over the ``StridedRepeat`` stages it holds, block b of N in all (from 0)
    drops with ``drop_rate * b / N``. N is counted when the block is expanded, so the
    schedule follows depth scaling."""

    stages: tuple[Blueprint, ...]
    drop_rate: Rate = 0.2

    def validate(self):
        if not self.stages:
            raise BlueprintError("DropPathSchedule.stages is empty")

    def children(self):
        # The expansion is a Sequence of the stages (drop rates set): same paths.
        return named_children(self, "stages", sequence_name)

    def expand(self, input_shape):
        total = sum(s.repeats for s in self.stages if isinstance(s, StridedRepeat))
        step = self.drop_rate / total if total else 0.0
        stages, seen = [], 0
        for stage in self.stages:
            if isinstance(stage, StridedRepeat):
                stage = stage.replace(drop_rate_start=step * seen, drop_rate_step=step)
                seen += stage.repeats
            stages.append(stage)
        return Sequence(tuple(stages))
