"""Residual networks: ResNet (He, Zhang, Ren and Sun, "Deep residual learning for image
recognition", CVPR 2016), ResNet v2 (He et al., "Identity mappings in deep residual
networks", ECCV 2016), ResNeXt (Xie et al., "Aggregated residual transformations for
deep neural networks", CVPR 2017) and Wide ResNet (Zagoruyko and Komodakis, "Wide
residual networks", BMVC 2016).

One table of stages and one generic builder. Two conventions of the weights people use:
- keras.applications (ResNet50/101/152 and their V2): convolutions with biases, batch
  norm epsilon 1.001e-5. resnet50 ... resnet152_v2 equal keras.applications' parameter
  counts exactly, layer for layer, so keras' weights load with
  ``builder.transfer_weights``.
- torchvision (resnet18/34, resnext50_32x4d, wide_resnet50_2): no convolution biases,
  epsilon 1e-5. Their trainable parameters equal torchvision's counts (torchvision does
  not count batch norm's moving statistics; keras and we do, as non-trainable).
"""

from __future__ import annotations

import dataclasses

from builder.blocks import BasicBlock, Bottleneck, ConvBN, WideBlock
from builder.dsl import (Activation, BatchNorm, ClassifierHead, Conv2D, MaxPool2D, Network,
                         Sequence)
from builder.errors import BlueprintError, did_you_mean, one_of
from builder.registry import register

RESNET = "He et al. 2016, Deep residual learning for image recognition"
RESNET_V2 = "He et al. 2016, Identity mappings in deep residual networks"
KERAS = {"use_bias": True, "bn_epsilon": 1.001e-5}  # keras.applications ResNet, ResNetV2
TORCHVISION = {"use_bias": False, "bn_epsilon": 1e-5}


@dataclasses.dataclass(frozen=True)
class Stage:
    blocks: int
    filters: int  # a bottleneck's inner channels (output: 4x), a basic block's channels
    strides: int  # of the stage's first block (v2 as keras: the previous stage's last)


def stages(*blocks: int, filters=(64, 128, 256, 512), strides=(1, 2, 2, 2)):
    """ResNet's four stages, conv2_x .. conv5_x of He et al. Table 1, with these depths."""
    return tuple(Stage(b, f, s) for b, f, s in zip(blocks, filters, strides))


# He et al. 2016, Table 1: blocks per stage of each depth.
DEPTHS = {
    18: (BasicBlock, stages(2, 2, 2, 2)),
    34: (BasicBlock, stages(3, 4, 6, 3)),
    50: (Bottleneck, stages(3, 4, 6, 3)),
    101: (Bottleneck, stages(3, 4, 23, 3)),
    152: (Bottleneck, stages(3, 8, 36, 3)),
}


def _stem(version, conventions):
    """7x7/2 convolution (padded 3), 3x3/2 max pool (padded 1): 224 -> 56. In v2 the
    first block's pre-activation normalizes the convolution's output instead."""
    if version == "v2":
        conv = Conv2D(64, 7, strides=2, padding=3, use_bias=conventions["use_bias"],
                      name="conv")
    else:
        conv = ConvBN(64, 7, strides=2, padding=3, name="conv", **conventions)
    return Sequence((conv, MaxPool2D(3, strides=2, padding=1, name="pool")), name="stem")


def _resnet(name, input_shape, classes, include_top, dropout, *, depth, version,
            conventions, **block_options):
    """The generic ResNet: stem, four stages of blocks, (v2: a last BN-ReLU), head."""
    block, table = DEPTHS[depth]
    strides = [stage.strides for stage in table]
    if version == "v2":
        # keras' ResNetV2 strides in the last block of a stage, the stage before the one
        # v1 strides in: the same downsampling, one block earlier.
        strides = strides[1:] + [1]
    layers = [_stem(version, conventions)]
    for i, (stage, stage_strides) in enumerate(zip(table, strides), start=1):
        strided = stage.blocks if version == "v2" else 1
        blocks = tuple(
            block(stage.filters, stage_strides if b == strided else 1, version=version,
                  name=f"block{b}", **conventions, **block_options)
            for b in range(1, stage.blocks + 1))
        layers.append(Sequence(blocks, name=f"stage{i}"))
    if version == "v2":
        layers.append(_post_activation(conventions["bn_epsilon"]))
    head = ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(tuple(layers)), head, name=name)


def _post_activation(epsilon):
    return Sequence((BatchNorm(epsilon=epsilon, name="bn"), Activation("relu", name="act")),
                    name="post")


def _check_version(version, allowed=("v1", "v1.5")):
    if version not in allowed:
        raise BlueprintError(f"version must be {one_of(allowed)}, got {version!r}"
                             f"{did_you_mean(version, allowed)}")
    return version


# --- ResNet-18/34: basic blocks, torchvision's conventions -----------------------------------

BASIC_NOTES = ("torchvision's conventions (no convolution biases, epsilon 1e-5): the "
               "trainable parameters equal torchvision's resnet{depth} ({params}); the "
               "projection shortcut where the shape changes is the paper's option B.")


@register(family="resnet", reference=RESNET,
          notes=BASIC_NOTES.format(depth=18, params="11,689,512"))
def resnet18(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNet-18: basic blocks, 2-2-2-2."""
    return _resnet("resnet18", input_shape, classes, include_top, dropout, depth=18,
                   version="v1", conventions=TORCHVISION)


@register(family="resnet", reference=RESNET,
          notes=BASIC_NOTES.format(depth=34, params="21,797,672"))
def resnet34(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNet-34: basic blocks, 3-4-6-3."""
    return _resnet("resnet34", input_shape, classes, include_top, dropout, depth=34,
                   version="v1", conventions=TORCHVISION)


# --- ResNet-50/101/152: bottlenecks as keras.applications ---------------------------------------

V1_NOTES = ("keras.applications' ResNet{depth} layer for layer (convolutions with biases, "
            "epsilon 1.001e-5, the stride on the first 1x1 of a bottleneck); "
            "version='v1.5' moves the stride to the 3x3 as torchvision does (same "
            "parameters, more multiply-adds).")


def _bottleneck_v1(depth, input_shape, classes, include_top, dropout, version):
    return _resnet(f"resnet{depth}", input_shape, classes, include_top, dropout, depth=depth,
                   version=_check_version(version), conventions=KERAS)


@register(family="resnet", reference=RESNET + "; keras.applications.ResNet50",
          notes=V1_NOTES.format(depth=50))
def resnet50(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
             version="v1"):
    """ResNet-50: bottlenecks, 3-4-6-3."""
    return _bottleneck_v1(50, input_shape, classes, include_top, dropout, version)


@register(family="resnet", reference=RESNET + "; keras.applications.ResNet101",
          notes=V1_NOTES.format(depth=101))
def resnet101(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
              version="v1"):
    """ResNet-101: bottlenecks, 3-4-23-3."""
    return _bottleneck_v1(101, input_shape, classes, include_top, dropout, version)


@register(family="resnet", reference=RESNET + "; keras.applications.ResNet152",
          notes=V1_NOTES.format(depth=152))
def resnet152(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
              version="v1"):
    """ResNet-152: bottlenecks, 3-8-36-3."""
    return _bottleneck_v1(152, input_shape, classes, include_top, dropout, version)


# --- ResNet v2: pre-activation bottlenecks as keras.applications ------------------------------

V2_NOTES = ("keras.applications' ResNet{depth}V2 layer for layer: pre-activation "
            "bottlenecks, the stride in the last block of a stage (a 1x1 max pool as its "
            "shortcut), convolutions before a batch norm without bias, the others with, "
            "a last BN-ReLU before the head.")


def _bottleneck_v2(depth, input_shape, classes, include_top, dropout):
    return _resnet(f"resnet{depth}_v2", input_shape, classes, include_top, dropout,
                   depth=depth, version="v2", conventions=KERAS)


@register(family="resnet", reference=RESNET_V2 + "; keras.applications.ResNet50V2",
          notes=V2_NOTES.format(depth=50))
def resnet50_v2(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNet-50 v2: pre-activation bottlenecks, 3-4-6-3."""
    return _bottleneck_v2(50, input_shape, classes, include_top, dropout)


@register(family="resnet", reference=RESNET_V2 + "; keras.applications.ResNet101V2",
          notes=V2_NOTES.format(depth=101))
def resnet101_v2(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNet-101 v2: pre-activation bottlenecks, 3-4-23-3."""
    return _bottleneck_v2(101, input_shape, classes, include_top, dropout)


@register(family="resnet", reference=RESNET_V2 + "; keras.applications.ResNet152V2",
          notes=V2_NOTES.format(depth=152))
def resnet152_v2(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNet-152 v2: pre-activation bottlenecks, 3-8-36-3."""
    return _bottleneck_v2(152, input_shape, classes, include_top, dropout)


# --- ResNeXt and Wide ResNet-50-2: torchvision's -----------------------------------------------


@register(family="resnet",
          reference="Xie et al. 2017, Aggregated residual transformations; torchvision",
          notes="torchvision's resnext50_32x4d (v1.5 bottlenecks, no convolution biases): "
                "trainable parameters 25,028,904 as torchvision counts them.")
def resnext50_32x4d(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """ResNeXt-50 32x4d: ResNet-50 with 3x3 convolutions of 32 groups of 4 channels
    (x2 each stage)."""
    return _resnet("resnext50_32x4d", input_shape, classes, include_top, dropout, depth=50,
                   version="v1.5", conventions=TORCHVISION, groups=32, base_width=4)


@register(family="resnet",
          reference="Zagoruyko & Komodakis 2016, Wide residual networks; torchvision",
          notes="torchvision's wide_resnet50_2 (v1.5 bottlenecks with twice the inner "
                "width, no convolution biases): trainable parameters 68,883,240 as "
                "torchvision counts them.")
def wide_resnet50_2(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide inside."""
    return _resnet("wide_resnet50_2", input_shape, classes, include_top, dropout, depth=50,
                   version="v1.5", conventions=TORCHVISION, widen_factor=2)


# --- Wide ResNet for CIFAR ------------------------------------------------------------------------

CIFAR_GROUPS = ((16, 1), (32, 2), (64, 2))  # (channels at k = 1, stride of the first block)


def _wide_resnet(name, depth, widen_factor, input_shape, classes, include_top, dropout,
                 block_dropout):
    """WRN-depth-k: a 3x3 convolution to 16 channels, three groups of (depth - 4) / 6
    wide blocks, a last BN-ReLU, global average pooling and the classifier."""
    if (depth - 4) % 6:
        raise BlueprintError(f"a Wide ResNet's depth must be 6n + 4, got {depth}")
    blocks_per_group = (depth - 4) // 6
    layers = [Conv2D(16, 3, use_bias=False, name="stem")]
    for i, (filters, strides) in enumerate(CIFAR_GROUPS, start=1):
        blocks = tuple(
            WideBlock(filters, strides if b == 1 else 1, widen_factor=widen_factor,
                      dropout=block_dropout, name=f"block{b}")
            for b in range(1, blocks_per_group + 1))
        layers.append(Sequence(blocks, name=f"stage{i}"))
    layers.append(_post_activation(1e-5))
    head = ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(tuple(layers)), head, name=name)


@register(family="resnet", reference="Zagoruyko & Komodakis 2016, Wide residual networks",
          notes="The paper gives 36.5M parameters; ours has 36,479,194 trainable (plus "
                "17,952 batch-norm moving statistics), convolutions without biases as the "
                "authors' code. block_dropout=0.3 is the paper's dropout variant.")
def wide_resnet28_10(input_shape=(32, 32, 3), classes=10, include_top=True, dropout=0.0,
                     block_dropout=0.0):
    """WRN-28-10 for CIFAR: 4 wide blocks per group, widths 160, 320, 640."""
    return _wide_resnet("wide_resnet28_10", 28, 10, input_shape, classes, include_top,
                        dropout, block_dropout)
