"""DenseNet-121, -169 and -201 (Huang, Liu, van der Maaten and Weinberger, "Densely
connected convolutional networks", CVPR 2017, Table 1), layer for layer as
keras.applications builds them.

Stem: 7x7/2 convolution to 2 * growth_rate maps, BN-ReLU, 3x3/2 max pool. Then four
dense blocks with a transition (compression 0.5) between each two, and a final BN-ReLU.
``include_top=False`` ends after that BN-ReLU, as keras.applications does.
"""

from __future__ import annotations

from builder.blocks import ConvBN, DenseBlock, Transition
from builder.blocks.dense import DENSENET_EPSILON
from builder.dsl import (Activation, BatchNorm, ClassifierHead, MaxPool2D, Network,
                         Sequence)
from builder.registry import register

REFERENCE = "Huang et al. 2017, Densely connected convolutional networks; keras.applications"

# Dense layers in each of the four dense blocks.
LAYERS_PER_BLOCK = {
    "densenet121": (6, 12, 24, 16),
    "densenet169": (6, 12, 32, 32),
    "densenet201": (6, 12, 48, 32),
}


def densenet(name, input_shape, classes, include_top, dropout, growth_rate=32,
             compression=0.5, layers_per_block=None):
    """A DenseNet-BC: the dense blocks of ``layers_per_block`` (default: the variant's)."""
    layers_per_block = layers_per_block or LAYERS_PER_BLOCK[name]
    stem = Sequence((
        ConvBN(2 * growth_rate, 7, strides=2, padding=3, bn_epsilon=DENSENET_EPSILON,
               name="conv"),
        MaxPool2D(3, 2, padding=1, name="pool"),
    ), name="stem")
    stages = []
    for i, layers in enumerate(layers_per_block, start=1):
        stages.append(DenseBlock(layers, growth_rate, name=f"dense{i}"))
        if i < len(layers_per_block):
            stages.append(Transition(compression, name=f"transition{i}"))
    body = Sequence((stem, *stages,
                     BatchNorm(epsilon=DENSENET_EPSILON, name="final_bn"),
                     Activation("relu", name="final_relu")))
    head = ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


@register(family="densenet", reference=REFERENCE)
def densenet121(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
                growth_rate=32, compression=0.5):
    """DenseNet-121: dense blocks of 6, 12, 24 and 16 layers."""
    return densenet("densenet121", input_shape, classes, include_top, dropout,
                    growth_rate, compression)


@register(family="densenet", reference=REFERENCE)
def densenet169(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
                growth_rate=32, compression=0.5):
    """DenseNet-169: dense blocks of 6, 12, 32 and 32 layers."""
    return densenet("densenet169", input_shape, classes, include_top, dropout,
                    growth_rate, compression)


@register(family="densenet", reference=REFERENCE)
def densenet201(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
                growth_rate=32, compression=0.5):
    """DenseNet-201: dense blocks of 6, 12, 48 and 32 layers."""
    return densenet("densenet201", input_shape, classes, include_top, dropout,
                    growth_rate, compression)
