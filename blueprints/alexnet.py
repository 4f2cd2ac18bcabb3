"""AlexNet (Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep
convolutional neural networks", NIPS 2012) and ZFNet (Zeiler and Fergus, "Visualizing and
understanding convolutional networks", 2013; ECCV 2014).

Each network is a table of five convolutional layers (one ``ConvStack`` each) and the
classifier FC 4096 - 4096 - classes with dropout on the two hidden layers.

AlexNet, two towers (section 3.5, Figure 2): conv2, conv4 and conv5 see only the maps of
their own GPU (``groups=2``); conv3 and the fully connected layers see both. Per layer:
conv1 34,944; conv2 307,456; conv3 885,120; conv4 663,936; conv5 442,624; fc6
37,752,832; fc7 16,781,312; fc8 4,097,000: 60,965,224 in all ("60 million").
"""

from __future__ import annotations

from builder.blocks import ConvStack
from builder.dsl import ClassifierHead, Network, Sequence
from builder.registry import register

ALEXNET_REFERENCE = ("Krizhevsky, Sutskever and Hinton 2012, ImageNet classification with "
                     "deep convolutional neural networks")
ZFNET_REFERENCE = "Zeiler and Fergus 2013, Visualizing and understanding convolutional networks"

# AlexNet, section 3.5: response normalization after conv1 and conv2, overlapping 3x3
# stride-2 max pools after both and after conv5.
_OVERLAPPING = dict(pool_size=3, pool_strides=2)
ALEXNET = (
    ConvStack(96, (11,), strides=4, padding="valid", lrn="after_first_conv", **_OVERLAPPING),
    ConvStack(256, (5,), groups=2, lrn="after_first_conv", **_OVERLAPPING),
    ConvStack(384, (3,), pool="none"),
    ConvStack(384, (3,), groups=2, pool="none"),
    ConvStack(256, (3,), groups=2, **_OVERLAPPING),
)

# ZFNet, Figure 3: a 7x7 stride-2 first layer and a stride-2 second one, contrast
# normalization after the first two pools, one tower. 'same' pools 1 and 2 give the
# figure's 55 and 13 (Caffe's ceil-mode pooling); pool 5 fits 13 -> 6 exactly.
ZFNET = (
    ConvStack(96, (7,), strides=2, padding=1, lrn="after_pool", pool_size=3, pool_strides=2,
              pool_padding="same"),
    ConvStack(256, (5,), strides=2, padding="valid", lrn="after_pool", pool_size=3,
              pool_strides=2, pool_padding="same"),
    ConvStack(384, (3,), pool="none"),
    ConvStack(384, (3,), pool="none"),
    ConvStack(256, (3,), **_OVERLAPPING),
)


def _convnet(name, layers, input_shape, classes, include_top, dropout):
    """Five conv layers named ``layer1 .. layer5``, then FC 4096 - 4096 - classes."""
    body = Sequence(tuple(layer.replace(name=f"layer{i}") for i, layer in enumerate(layers, 1)))
    head = (ClassifierHead(classes, pool="flatten", hidden=(4096, 4096), hidden_dropout=dropout)
            if include_top else None)
    return Network(tuple(input_shape), body, head, name=name)


INPUT_NOTE = (
    "Input 227x227x3, not the paper's 224: an 11x11 stride-4 filter gives the paper's "
    "55x55 maps only from 227 ((227 - 11) / 4 + 1 = 55; from 224 it is 54.25).")
TOWERS_NOTE = (
    " The two GPUs are modelled by grouped convolutions (groups=2) in conv2, conv4 and conv5; "
    "conv1 is one convolution (each tower's 48 kernels see all three colour channels).")
SINGLE_NOTE = (
    " One tower: every convolution sees all maps of the layer before (groups=1), and there "
    "is no local response normalization; the paper's widths 96-256-384-384-256 are kept "
    "(torchvision's 'one weird trick' AlexNet narrows them to 64-192-384-256-256).")


@register(family="alexnet", reference=ALEXNET_REFERENCE, notes=INPUT_NOTE + TOWERS_NOTE)
def alexnet(input_shape=(227, 227, 3), classes=1000, include_top=True, dropout=0.5):
    """AlexNet as published: two towers (grouped conv2, conv4, conv5), LRN after conv1 and
    conv2, overlapping pools; 60,965,224 parameters."""
    return _convnet("alexnet", ALEXNET, input_shape, classes, include_top, dropout)


@register(family="alexnet", reference=ALEXNET_REFERENCE + " (one tower, no LRN)",
          notes=INPUT_NOTE + SINGLE_NOTE)
def alexnet_single(input_shape=(227, 227, 3), classes=1000, include_top=True, dropout=0.5):
    """AlexNet on one GPU: no groups, no LRN; 62,378,344 parameters."""
    layers = tuple(layer.replace(groups=1, lrn="none") for layer in ALEXNET)
    return _convnet("alexnet_single", layers, input_shape, classes, include_top, dropout)


@register(family="alexnet", reference=ZFNET_REFERENCE, notes=(
    "Figure 3 gives 110x110 after the 7x7 stride-2 conv1 on 224x224; no whole padding does "
    "that exactly, so conv1 pads 1: (224 - 7 + 2) / 2 + 1 = 110.5, floored to 110, and the "
    "position left over is the padding, so no input is lost. Its 3x3 stride-2 pools give 55 from 110 and 13 from "
    "26 only with ceil-mode (here 'same') pooling. Contrast normalization is AlexNet's LRN."))
def zfnet(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.5):
    """ZFNet: AlexNet with a 7x7 stride-2 first layer and a stride-2 second layer."""
    return _convnet("zfnet", ZFNET, input_shape, classes, include_top, dropout)
