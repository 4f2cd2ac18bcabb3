"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications", 2017), MobileNetV2 (Sandler et al., "MobileNetV2:
Inverted Residuals and Linear Bottlenecks", CVPR 2018) and MobileNetV3 Small and Large
(Howard et al., "Searching for MobileNetV3", ICCV 2019), as keras.applications builds
them. The width multiplier alpha of v1 and v2 is ``builder.scaling.scale``'s width;
MobileNetV3 rounds its widths its own way, so its builder applies alpha itself.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import (ConvBN, DepthwiseSeparable, InvertedResidual, MBConv,
                            SqueezeExcite, StridedRepeat)
from builder.dsl import ClassifierHead, Network, Rescaling, Sequence
from builder.registry import register
from builder.scaling import make_divisible, scale


@dataclasses.dataclass(frozen=True)
class Stage:
    filters: int  # output channels (before alpha)
    repeats: int
    strides: int  # of the first block
    expand_ratio: int = 1  # MobileNetV2's t


# Table 1 of the v1 paper: 13 depthwise-separable blocks after the stem.
V1_STAGES = (
    Stage(64, repeats=1, strides=1),
    Stage(128, repeats=2, strides=2),
    Stage(256, repeats=2, strides=2),
    Stage(512, repeats=6, strides=2),
    Stage(1024, repeats=2, strides=2),
)

# Table 2 of the v2 paper: (t, c, n, s).
V2_STAGES = (
    Stage(16, repeats=1, strides=1, expand_ratio=1),
    Stage(24, repeats=2, strides=2, expand_ratio=6),
    Stage(32, repeats=3, strides=2, expand_ratio=6),
    Stage(64, repeats=4, strides=2, expand_ratio=6),
    Stage(96, repeats=3, strides=1, expand_ratio=6),
    Stage(160, repeats=3, strides=2, expand_ratio=6),
    Stage(320, repeats=1, strides=1, expand_ratio=6),
)

V1_REFERENCE = "Howard et al. 2017, MobileNets (Table 8); keras.applications.MobileNet"
V2_REFERENCE = "Sandler et al. 2018, MobileNetV2; keras.applications.MobileNetV2"


def _head(classes, include_top, dropout):
    return ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None


@register(family="mobilenet", reference=V1_REFERENCE, notes=(
    "keras.applications ends with a 1x1 conv over the pooled features; here it is the "
    "equivalent dense layer (same parameters). alpha rounds channels to the nearest "
    "whole number (keras truncates); the two agree for alpha 0.25, 0.5, 0.75 and 1.0."))
def mobilenet(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=1e-3,
              alpha=1.0, resolution=None):
    """MobileNet v1: a 3x3 stride-2 conv, then 13 depthwise-separable blocks (ReLU6).
    ``alpha`` is the width multiplier; ``resolution`` (the paper's rho, as pixels)
    overrides the input's height and width."""
    features = Sequence((
        ConvBN(32, 3, strides=2, activation="relu6", name="stem"),
        *(StridedRepeat(DepthwiseSeparable(stage.filters, strides=stage.strides),
                        stage.repeats, name=f"stage{i}")
          for i, stage in enumerate(V1_STAGES, start=1)),
    ))
    bp = Network(tuple(input_shape), features, _head(classes, include_top, dropout),
                 name="mobilenet")
    return scale(bp, width=alpha, resolution=resolution, divisor=1)


@register(family="mobilenet", reference=V2_REFERENCE)
def mobilenet_v2(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
                 alpha=1.0):
    """MobileNetV2: a 3x3 stride-2 conv, 17 inverted residual blocks, a 1x1 conv to 1280
    channels. ``alpha`` scales every width (rounded to multiples of 8) except the last
    conv's, which only grows (alpha > 1), as in the paper."""
    bn = dict(bn_momentum=0.999)
    features = scale(Sequence((
        ConvBN(32, 3, strides=2, activation="relu6", name="stem", **bn),
        *(StridedRepeat(InvertedResidual(stage.filters, strides=stage.strides,
                                         expand_ratio=stage.expand_ratio, **bn),
                        stage.repeats, name=f"stage{i}")
          for i, stage in enumerate(V2_STAGES, start=1)),
    )), width=alpha)
    top_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    body = Sequence((*features.layers,
                     ConvBN(top_filters, 1, activation="relu6", name="top", **bn)))
    return Network(tuple(input_shape), body, _head(classes, include_top, dropout),
                   name="mobilenet_v2")


@dataclasses.dataclass(frozen=True)
class Row:
    """One MobileNetV3 block, as published (Tables 1 and 2 of the v3 paper)."""

    kernel_size: int
    expansion: float  # expanded width / input width (the paper lists the expanded widths)
    filters: int  # output channels (before alpha)
    squeeze_excite: bool
    activation: str  # "relu" or "hard_swish"
    strides: int


# Table 2 of the v3 paper (expanded widths 16, 72, 88, 96, 240, 240, 120, 144, 288, 576,
# 576); the ratios are keras.applications' own.
V3_SMALL_ROWS = (
    Row(3, expansion=1, filters=16, squeeze_excite=True, activation="relu", strides=2),
    Row(3, expansion=72 / 16, filters=24, squeeze_excite=False, activation="relu", strides=2),
    Row(3, expansion=88 / 24, filters=24, squeeze_excite=False, activation="relu", strides=1),
    Row(5, expansion=4, filters=40, squeeze_excite=True, activation="hard_swish", strides=2),
    Row(5, expansion=6, filters=40, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=6, filters=40, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=3, filters=48, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=3, filters=48, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=6, filters=96, squeeze_excite=True, activation="hard_swish", strides=2),
    Row(5, expansion=6, filters=96, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=6, filters=96, squeeze_excite=True, activation="hard_swish", strides=1),
)

# Table 1 of the v3 paper (expanded widths 16, 64, 72, 72, 120, 120, 240, 200, 184, 184,
# 480, 672, 672, 960, 960).
V3_LARGE_ROWS = (
    Row(3, expansion=1, filters=16, squeeze_excite=False, activation="relu", strides=1),
    Row(3, expansion=4, filters=24, squeeze_excite=False, activation="relu", strides=2),
    Row(3, expansion=3, filters=24, squeeze_excite=False, activation="relu", strides=1),
    Row(5, expansion=3, filters=40, squeeze_excite=True, activation="relu", strides=2),
    Row(5, expansion=3, filters=40, squeeze_excite=True, activation="relu", strides=1),
    Row(5, expansion=3, filters=40, squeeze_excite=True, activation="relu", strides=1),
    Row(3, expansion=6, filters=80, squeeze_excite=False, activation="hard_swish", strides=2),
    Row(3, expansion=2.5, filters=80, squeeze_excite=False, activation="hard_swish", strides=1),
    Row(3, expansion=2.3, filters=80, squeeze_excite=False, activation="hard_swish", strides=1),
    Row(3, expansion=2.3, filters=80, squeeze_excite=False, activation="hard_swish", strides=1),
    Row(3, expansion=6, filters=112, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(3, expansion=6, filters=112, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=6, filters=160, squeeze_excite=True, activation="hard_swish", strides=2),
    Row(5, expansion=6, filters=160, squeeze_excite=True, activation="hard_swish", strides=1),
    Row(5, expansion=6, filters=160, squeeze_excite=True, activation="hard_swish", strides=1),
)

V3_REFERENCE = "Howard et al. 2019, Searching for MobileNetV3; keras.applications.MobileNetV3{}"
V3_NOTES = ("keras.applications ends with 1x1 convs over the pooled features; here they are "
            "the equivalent dense layers (same parameters).")


def _minimalistic(row):
    # The paper's minimalistic models: no squeeze-and-excite, no hard-swish, no 5x5.
    return dataclasses.replace(row, kernel_size=3, squeeze_excite=False, activation="relu")


def _v3_blocks(rows, input_filters, alpha):
    """The MBConv blocks of ``rows`` with keras.applications' widths: output and expanded
    widths rounded to multiples of 8 (never 10% down), the squeeze a quarter of the
    expanded width, the first block without an expand conv."""
    blocks, channels = [], input_filters
    for i, row in enumerate(rows, start=1):
        expanded = channels if i == 1 else make_divisible(channels * row.expansion)
        squeeze = (SqueezeExcite(reduced_filters=make_divisible(expanded * 0.25),
                                 activation="relu", gate_activation="hard_sigmoid")
                   if row.squeeze_excite else None)
        filters = make_divisible(row.filters * alpha)
        blocks.append(MBConv(filters, row.kernel_size, strides=row.strides,
                             activation=row.activation, bn_momentum=0.999,
                             expanded_filters=expanded, squeeze_excite=squeeze,
                             name=f"block{i}"))
        channels = filters
    return blocks, channels


def mobilenet_v3(name, rows, head_filters, input_shape, classes, include_top, dropout,
                 alpha, minimalistic, include_preprocessing):
    """The generic MobileNetV3: inputs in [0, 255] rescaled to [-1, 1], a 3x3 stride-2
    conv to 16 channels, the block ``rows``, a 1x1 conv to 6 times the last width, and a
    head of global pooling, a ``head_filters`` dense layer (with bias, no batch norm),
    dropout and the classifier."""
    activation = "relu" if minimalistic else "hard_swish"
    if minimalistic:
        rows = tuple(_minimalistic(row) for row in rows)
    bn = dict(bn_momentum=0.999)
    stem_filters = 16  # keras.applications leaves the stem out of alpha
    blocks, channels = _v3_blocks(rows, stem_filters, alpha)
    body = Sequence((
        *([Rescaling(1.0 / 127.5, -1.0, name="rescaling")] if include_preprocessing else []),
        ConvBN(stem_filters, 3, strides=2, activation=activation, name="stem", **bn),
        Sequence(tuple(blocks), name="blocks"),
        ConvBN(make_divisible(channels * 6), 1, activation=activation, name="top", **bn),
    ))
    if alpha > 1.0:  # the head only grows
        head_filters = make_divisible(head_filters * alpha)
    head = (ClassifierHead(classes, pool="avg", hidden=(head_filters,),
                           hidden_activation=activation, dropout=dropout)
            if include_top else None)
    return Network(tuple(input_shape), body, head, name=name)


def _v3_variant(size, rows, head_filters, minimalistic):
    function_name = f"mobilenet_v3_{size}" + ("_minimalistic" if minimalistic else "")

    def create(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.2,
               alpha=1.0, include_preprocessing=True):
        return mobilenet_v3(function_name, rows, head_filters, input_shape, classes,
                            include_top, dropout, alpha, minimalistic, include_preprocessing)

    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (
        f"MobileNetV3-{size.capitalize()}"
        + (" minimalistic (no squeeze-and-excite, no hard-swish, 3x3 kernels)"
           if minimalistic else "")
        + ". ``alpha`` scales the block widths (multiples of 8); ``include_preprocessing`` "
        "keeps the input rescaling from [0, 255] to [-1, 1].")
    return create


for _size, _rows, _head_filters in (("small", V3_SMALL_ROWS, 1024),
                                     ("large", V3_LARGE_ROWS, 1280)):
    for _minimal in (False, True):
        _function = _v3_variant(_size, _rows, _head_filters, _minimal)
        globals()[_function.__name__] = register(
            family="mobilenet", reference=V3_REFERENCE.format(_size.capitalize()),
            notes=V3_NOTES)(_function)
