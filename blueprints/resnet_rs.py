"""ResNet-RS (Bello, Fedus, Du, Cubuk, Srinivas, Lin, Shlens and Zoph, "Revisiting
ResNets: Improved Training and Scaling Strategies", NeurIPS 2021), as keras.applications
builds it (same parameter counts, same order of weighted layers, so keras' weights load
with ``builder.transfer_weights``).

ResNet-RS is a ResNet-D with squeeze-and-excitation: a stem of four 3x3 convolutions (the
last strided in place of the max pool), v1.5 bottlenecks (the stride on the 3x3) with SE
after the last convolution, average-pool projection shortcuts, batch-norm momentum 0 and
epsilon 1e-5, no convolution biases. One line of data per depth over one builder.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import Bottleneck, ConvBN
from builder.dsl import ClassifierHead, Network, Normalization, Rescaling, Sequence
from builder.registry import register

REFERENCE = ("Bello et al. 2021, Revisiting ResNets: Improved Training and Scaling "
             "Strategies; keras.applications.ResNetRS{}")

STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck widths; outputs are 4x
BN = {"bn_epsilon": 1e-5, "bn_momentum": 0.0}
# The ImageNet mean and variance of RGB pixels in [0, 1] (keras' preprocessing inside).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_VARIANCE = (0.229 ** 2, 0.224 ** 2, 0.225 ** 2)


@dataclasses.dataclass(frozen=True)
class Variant:
    blocks: tuple[int, int, int, int]  # bottlenecks per stage
    drop_connect_rate: float  # keras' stochastic depth: stage i (1..4) drops rate * (i + 1) / 5
    dropout: float  # before the classifier
    resolution: int  # of keras' ImageNet weights (the largest it ships)


# keras.applications' BLOCK_ARGS and per-depth arguments.
VARIANTS = {
    50: Variant((3, 4, 6, 3), drop_connect_rate=0.0, dropout=0.25, resolution=160),
    101: Variant((3, 4, 23, 3), drop_connect_rate=0.0, dropout=0.25, resolution=192),
    152: Variant((3, 8, 36, 3), drop_connect_rate=0.0, dropout=0.25, resolution=256),
    200: Variant((3, 24, 36, 3), drop_connect_rate=0.1, dropout=0.25, resolution=256),
    270: Variant((4, 29, 53, 4), drop_connect_rate=0.1, dropout=0.25, resolution=256),
    350: Variant((4, 36, 72, 4), drop_connect_rate=0.1, dropout=0.4, resolution=320),
    420: Variant((4, 44, 87, 4), drop_connect_rate=0.1, dropout=0.4, resolution=320),
}


def _stem():
    """ResNet-D's stem: 3x3 convolutions of 32, 32 and 64 channels, then a strided 3x3 in
    place of the max pool; strided ones pad 1 on every side (keras' fixed padding)."""
    units = ((32, 2), (32, 1), (64, 1), (64, 2))
    return Sequence(tuple(
        ConvBN(filters, 3, strides=strides, padding=1 if strides > 1 else "same",
               name=f"conv{i}", **BN)
        for i, (filters, strides) in enumerate(units, start=1)), name="stem")


def _stage(index, blocks, filters, drop_rate):
    """``blocks`` bottlenecks; the first projects (ResNet-D) and, after stage 1, strides."""
    block = Bottleneck(filters, version="v1.5", se_ratio=0.25, downsample="avg",
                       drop_rate=drop_rate, **BN)
    return Sequence(tuple(
        block.replace(strides=2 if b == 1 and index > 1 else 1, name=f"block{b}")
        for b in range(1, blocks + 1)), name=f"stage{index}")


def resnet_rs(name, variant, input_shape, classes, include_top, dropout):
    """The generic ResNet-RS: rescaling and ImageNet normalization, the stem, four stages
    of bottlenecks, and a classifier head with dropout."""
    stages = []
    for i, (blocks, filters) in enumerate(zip(variant.blocks, STAGE_FILTERS), start=1):
        # keras' rate per stage (it names it a survival probability but drops with it).
        rate = variant.drop_connect_rate * (i + 1) / (len(STAGE_FILTERS) + 1)
        stages.append(_stage(i, blocks, filters, rate))
    body = Sequence((
        Rescaling(1.0 / 255.0, name="rescaling"),
        Normalization(IMAGENET_MEAN, IMAGENET_VARIANCE, name="normalization"),
        _stem(),
        *stages,
    ))
    head = ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


def _variant_function(depth, variant):
    function_name = f"resnet_rs_{depth}"

    def create(input_shape=(224, 224, 3), classes=1000, include_top=True,
               dropout=variant.dropout):
        return resnet_rs(function_name, variant, input_shape, classes, include_top, dropout)

    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (f"ResNet-RS-{depth}: ResNet-D bottlenecks with squeeze-and-excitation, "
                      f"{'-'.join(map(str, variant.blocks))}.")
    return create


for _depth, _variant in VARIANTS.items():
    _function = _variant_function(_depth, _variant)
    globals()[_function.__name__] = register(
        family="resnet_rs", reference=REFERENCE.format(_depth),
        notes=(f"keras.applications' ResNetRS{_depth} layer for layer, at keras' default "
               f"input of 224x224; keras' ImageNet weights for it were trained at "
               f"{_variant.resolution}x{_variant.resolution} (pass input_shape="
               f"({_variant.resolution}, {_variant.resolution}, 3)). Inputs are pixels in "
               "[0, 255], rescaled and normalized inside."))(_function)
