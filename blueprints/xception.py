"""Xception (Chollet, "Xception: deep learning with depthwise separable convolutions",
CVPR 2017) exactly as keras.applications Xception builds it.

Entry flow: two 3x3 convolutions (32/2, 64; no bias, BN, ReLU) and three strided
separable residual blocks (128, 256, 728); middle flow: eight identity residual blocks
of three separable convolutions (728); exit flow: one strided residual block (728, 1024),
separable 1536 and 2048 with BN and ReLU; global average pool, softmax.
"""

from __future__ import annotations

from builder.blocks import (ConvBN, XceptionEntryBlock, XceptionExitBlock,
                            XceptionMiddleBlock)
from builder.dsl import (Activation, BatchNorm, ClassifierHead, Network, Repeat, Sequence,
                         SeparableConv2D)
from builder.registry import register

REFERENCE = "Chollet 2017, Xception; keras.applications Xception"


def _separable_bn_relu(filters, name):
    return Sequence((SeparableConv2D(filters, 3, use_bias=False, name="sepconv"),
                     BatchNorm(name="bn"), Activation("relu", name="act")), name=name)


# The flow in order; keras names its blocks block1 .. block14.
FLOW = (
    ConvBN(32, 3, strides=2, padding="valid", name="block1_conv1"),
    ConvBN(64, 3, padding="valid", name="block1_conv2"),
    XceptionEntryBlock(128, leading_activation=False, name="block2"),
    XceptionEntryBlock(256, name="block3"),
    XceptionEntryBlock(728, name="block4"),
    Repeat(XceptionMiddleBlock(728, name="middle"), 8, name="middle_flow"),
    XceptionExitBlock(728, 1024, name="block13"),
    _separable_bn_relu(1536, "block14_separable1"),
    _separable_bn_relu(2048, "block14_separable2"),
)


@register(family="xception", reference=REFERENCE)
def xception(input_shape=(299, 299, 3), classes=1000, include_top=True, dropout=0.0):
    """Xception as keras.applications builds it (no dropout before the classifier there;
    ``dropout`` adds one). Smallest input: 71x71."""
    head = ClassifierHead(classes, dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(FLOW), head, name="xception")
