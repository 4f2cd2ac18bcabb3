"""Inception v3 (Szegedy et al., "Rethinking the Inception architecture for computer
vision", CVPR 2016) exactly as keras.applications InceptionV3 builds it: every unit is
a convolution without bias, batch norm without gamma and ReLU; the same modules, branch
order and paddings, so weights transfer one to one.

299x299x3 -> stem (35x35x192) -> 3 x 35x35 modules (mixed0-2) -> grid reduction (mixed3)
-> 4 x 17x17 modules (mixed4-7) -> grid reduction (mixed8) -> 2 x 8x8 modules (mixed9,
mixed10: 8x8x2048) -> global average pool -> softmax.
"""

from __future__ import annotations

from builder.blocks import (ConvBNUnscaled, GridReduction, GridReductionAsymmetric,
                            InceptionAsymmetric, InceptionExpanded, InceptionFactorized)
from builder.dsl import ClassifierHead, MaxPool2D, Network, Sequence
from builder.registry import register

REFERENCE = ("Szegedy et al. 2016, Rethinking the Inception architecture; "
             "keras.applications InceptionV3")

STEM = (
    ConvBNUnscaled(32, 3, strides=2, padding="valid", name="conv1"),
    ConvBNUnscaled(32, 3, padding="valid", name="conv2"),
    ConvBNUnscaled(64, 3, name="conv3"),
    MaxPool2D(3, 2, name="pool1"),
    ConvBNUnscaled(80, 1, padding="valid", name="conv4"),
    ConvBNUnscaled(192, 3, padding="valid", name="conv5"),
    MaxPool2D(3, 2, name="pool2"),
)

# keras layer names mixed0 .. mixed10, one module each.
MODULES = (
    InceptionFactorized(pool_projection=32, name="mixed0"),
    InceptionFactorized(pool_projection=64, name="mixed1"),
    InceptionFactorized(pool_projection=64, name="mixed2"),
    GridReduction(name="mixed3"),
    InceptionAsymmetric(inner_filters=128, name="mixed4"),
    InceptionAsymmetric(inner_filters=160, name="mixed5"),
    InceptionAsymmetric(inner_filters=160, name="mixed6"),
    InceptionAsymmetric(inner_filters=192, name="mixed7"),
    GridReductionAsymmetric(name="mixed8"),
    InceptionExpanded(name="mixed9"),
    InceptionExpanded(name="mixed10"),
)


@register(family="inception", reference=REFERENCE)
def inception_v3(input_shape=(299, 299, 3), classes=1000, include_top=True, dropout=0.0):
    """InceptionV3 as keras.applications builds it (no dropout before the classifier
    there; ``dropout`` adds one). Smallest input: 75x75."""
    head = ClassifierHead(classes, dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(STEM + MODULES), head, name="inception_v3")
