"""VGG (Simonyan and Zisserman, "Very deep convolutional networks for large-scale image
recognition", ICLR 2015), configurations A to E of Table 1.

Five stages of 64, 128, 256, 512 and 512 filters, each a ``ConvStack`` of 3x3 'same'
convolutions with ReLU and a 2x2 max pool; then FC 4096 - 4096 - classes with dropout
0.5 on the two hidden layers (section 3.1). Configuration D is keras.applications
VGG16 and E is VGG19, layer for layer (``block1/conv1`` .. ``block5/pool``, ``fc1``,
``fc2``); Keras has no dropout layers, which hold no weights.
"""

from __future__ import annotations

from builder.blocks import ConvStack
from builder.dsl import ClassifierHead, Network, Sequence
from builder.registry import register

REFERENCE = ("Simonyan and Zisserman 2015, Very deep convolutional networks for large-scale "
             "image recognition")

WIDTHS = (64, 128, 256, 512, 512)

# Table 1: the kernel size of each convolution, stage by stage (C's third convolution
# in stages 3 to 5 is 1x1).
CONFIGURATIONS = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}


def _vgg(name, configuration, input_shape, classes, include_top, dropout, lrn=False):
    """One configuration of Table 1; ``lrn`` puts LRN after the first convolution (A-LRN)."""
    stages = []
    for i, (width, kernel_sizes) in enumerate(zip(WIDTHS, CONFIGURATIONS[configuration]), 1):
        normalize = "after_first_conv" if lrn and i == 1 else "none"
        stages.append(ConvStack(width, kernel_sizes, lrn=normalize, name=f"block{i}"))
    head = (ClassifierHead(classes, pool="flatten", hidden=(4096, 4096), hidden_dropout=dropout)
            if include_top else None)
    return Network(tuple(input_shape), Sequence(tuple(stages)), head, name=name)


@register(family="vgg", reference=REFERENCE + " (configuration A)")
def vgg11(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration A: 8 convolutions and 3 FC layers; 132,863,336 parameters."""
    return _vgg("vgg11", "A", input_shape, classes, include_top, dropout)


@register(family="vgg", reference=REFERENCE + " (configuration A-LRN)")
def vgg11_lrn(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration A-LRN: A with AlexNet's local response normalization after the first
    convolution (no parameters: 132,863,336)."""
    return _vgg("vgg11_lrn", "A", input_shape, classes, include_top, dropout, lrn=True)


@register(family="vgg", reference=REFERENCE + " (configuration B)")
def vgg13(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration B: 10 convolutions; 133,047,848 parameters."""
    return _vgg("vgg13", "B", input_shape, classes, include_top, dropout)


@register(family="vgg", reference=REFERENCE + " (configuration C)")
def vgg16_c(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration C: B with a 1x1 convolution added to stages 3 to 5; 133,638,952."""
    return _vgg("vgg16_c", "C", input_shape, classes, include_top, dropout)


@register(family="vgg", reference=REFERENCE + " (configuration D; keras.applications VGG16)")
def vgg16(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration D, keras.applications VGG16: 138,357,544 parameters."""
    return _vgg("vgg16", "D", input_shape, classes, include_top, dropout)


@register(family="vgg", reference=REFERENCE + " (configuration E; keras.applications VGG19)")
def vgg19(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """Configuration E, keras.applications VGG19: 143,667,240 parameters."""
    return _vgg("vgg19", "E", input_shape, classes, include_top, dropout)
