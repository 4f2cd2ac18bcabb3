"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
Mobile Vision Applications", 2017) and MobileNetV2 (Sandler et al., "MobileNetV2:
Inverted Residuals and Linear Bottlenecks", CVPR 2018), as keras.applications builds
them. The width multiplier alpha is ``builder.scaling.scale``'s width.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import ConvBN, DepthwiseSeparable, InvertedResidual, StridedRepeat
from builder.dsl import ClassifierHead, Network, Sequence
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
