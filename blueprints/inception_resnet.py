"""Inception-ResNet-v2 (Szegedy et al., "Inception-v4, Inception-ResNet and the impact of
residual connections on learning", AAAI 2017) exactly as keras.applications
InceptionResNetV2 builds it, so weights transfer one to one.

299x299x3 -> Inception v3's stem (35x35x192) -> mixed_5b (35x35x320) -> 10 x block35
(Inception-ResNet-A, residual scale 0.17) -> mixed_6a (Reduction-A, 17x17x1088) ->
20 x block17 (B, 0.1) -> mixed_7a (Reduction-B, 8x8x2080) -> 9 x block8 (C, 0.2) and
block8_10 (scale 1, no activation) -> conv_7b (1x1, 1536) -> global average pool ->
softmax. keras's stem is the Inception v3 stem rather than the paper's Figure 3.
"""

from __future__ import annotations

from builder.blocks import (ConvBNUnscaled, GridReduction, InceptionFactorized,
                            InceptionResNetA, InceptionResNetB, InceptionResNetC,
                            InceptionResNetReductionB)
from builder.dsl import ClassifierHead, Network, Repeat, Sequence
from builder.registry import register

from .inception import STEM

REFERENCE = ("Szegedy et al. 2017, Inception-v4, Inception-ResNet and the impact of "
             "residual connections on learning; keras.applications InceptionResNetV2")

# keras layer names: mixed_5b, block35_N, mixed_6a, block17_N, mixed_7a, block8_N, conv_7b.
BODY = (
    InceptionFactorized(filters_1x1=96, reduce_5x5=48, filters_5x5=64, reduce_3x3=64,
                        filters_3x3=96, pool_projection=64, name="mixed_5b"),
    Repeat(InceptionResNetA(scale=0.17, name="block"), 10, name="block35"),
    GridReduction(filters_3x3=384, reduce_3x3_double=256, middle_3x3_double=256,
                  filters_3x3_double=384, name="mixed_6a"),
    Repeat(InceptionResNetB(scale=0.1, name="block"), 20, name="block17"),
    InceptionResNetReductionB(name="mixed_7a"),
    Repeat(InceptionResNetC(scale=0.2, name="block"), 9, name="block8"),
    InceptionResNetC(scale=1.0, activation=None, name="block8_10"),
    ConvBNUnscaled(1536, 1, name="conv_7b"),
)


@register(family="inception", reference=REFERENCE)
def inception_resnet_v2(input_shape=(299, 299, 3), classes=1000, include_top=True,
                        dropout=0.0):
    """InceptionResNetV2 as keras.applications builds it (no dropout before the
    classifier there; ``dropout`` adds one). Smallest input: 75x75."""
    head = ClassifierHead(classes, dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(STEM + BODY), head,
                   name="inception_resnet_v2")
