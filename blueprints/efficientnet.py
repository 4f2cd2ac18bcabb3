"""EfficientNet B0..B7 (Tan and Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", ICML 2019) and EfficientNetV2 B0..B3, S, M and L (Tan and
Le, "EfficientNetV2: Smaller Models and Faster Training", ICML 2021), as
keras.applications builds them (same parameter counts, same order of weighted layers).

B1..B7 are B0 run through ``builder.scaling.scale`` with the published (width, depth,
resolution) of ``VARIANTS``; nothing else differs but the head's dropout. EfficientNetV2
B1..B3 are V2-B0 scaled the same way (``V2_VARIANTS``); S, M and L have tables of their own.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import ConvBN, DropPathSchedule, FusedMBConv, MBConv, StridedRepeat
from builder.dsl import ClassifierHead, Network, Normalization, Rescaling, Sequence
from builder.registry import register
from builder.scaling import scale


@dataclasses.dataclass(frozen=True)
class Stage:
    block: type  # MBConv or FusedMBConv
    repeats: int
    filters: int  # output channels
    kernel_size: int
    strides: int
    expand_ratio: int
    se_ratio: float


# B0, Table 1 of the paper (keras.applications' DEFAULT_BLOCKS_ARGS).
B0_STAGES = (
    Stage(MBConv, repeats=1, filters=16, kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.25),
    Stage(MBConv, repeats=2, filters=24, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=2, filters=40, kernel_size=5, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=3, filters=80, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=3, filters=112, kernel_size=5, strides=1, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=4, filters=192, kernel_size=5, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=1, filters=320, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
)

# EfficientNetV2-B0 (keras.applications' "efficientnetv2-b0"; B1..B3 scale it).
V2_B0_STAGES = (
    Stage(FusedMBConv, repeats=1, filters=16, kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0),
    Stage(FusedMBConv, repeats=2, filters=32, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(FusedMBConv, repeats=2, filters=48, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(MBConv, repeats=3, filters=96, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.25),
    Stage(MBConv, repeats=5, filters=112, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=8, filters=192, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
)

# EfficientNetV2-S, Table 4 of the V2 paper (keras.applications' "efficientnetv2-s").
V2_S_STAGES = (
    Stage(FusedMBConv, repeats=2, filters=24, kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0),
    Stage(FusedMBConv, repeats=4, filters=48, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(FusedMBConv, repeats=4, filters=64, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(MBConv, repeats=6, filters=128, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.25),
    Stage(MBConv, repeats=9, filters=160, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=15, filters=256, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
)

# EfficientNetV2-M (keras.applications' "efficientnetv2-m", the paper's Appendix).
V2_M_STAGES = (
    Stage(FusedMBConv, repeats=3, filters=24, kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0),
    Stage(FusedMBConv, repeats=5, filters=48, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(FusedMBConv, repeats=5, filters=80, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(MBConv, repeats=7, filters=160, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.25),
    Stage(MBConv, repeats=14, filters=176, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=18, filters=304, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=5, filters=512, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
)

# EfficientNetV2-L (keras.applications' "efficientnetv2-l").
V2_L_STAGES = (
    Stage(FusedMBConv, repeats=4, filters=32, kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0),
    Stage(FusedMBConv, repeats=7, filters=64, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(FusedMBConv, repeats=7, filters=96, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.0),
    Stage(MBConv, repeats=10, filters=192, kernel_size=3, strides=2, expand_ratio=4, se_ratio=0.25),
    Stage(MBConv, repeats=19, filters=224, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=25, filters=384, kernel_size=3, strides=2, expand_ratio=6, se_ratio=0.25),
    Stage(MBConv, repeats=7, filters=640, kernel_size=3, strides=1, expand_ratio=6, se_ratio=0.25),
)


@dataclasses.dataclass(frozen=True)
class Variant:
    width: float
    depth: float
    resolution: int
    dropout: float


# The compound-scaling table, in one place (keras.applications' EfficientNetB0..B7).
VARIANTS = {
    "b0": Variant(1.0, 1.0, 224, 0.2),
    "b1": Variant(1.0, 1.1, 240, 0.2),
    "b2": Variant(1.1, 1.2, 260, 0.3),
    "b3": Variant(1.2, 1.4, 300, 0.3),
    "b4": Variant(1.4, 1.8, 380, 0.4),
    "b5": Variant(1.6, 2.2, 456, 0.4),
    "b6": Variant(1.8, 2.6, 528, 0.5),
    "b7": Variant(2.0, 3.1, 600, 0.5),
}

REFERENCE = "Tan & Le 2019, EfficientNet; keras.applications.EfficientNet{}"
V2_REFERENCE = "Tan & Le 2021, EfficientNetV2; keras.applications.EfficientNetV2{}"
INIT = "efficientnet_conv"


def efficientnet(name, stages, input_shape, classes, include_top, dropout, preprocess,
                 stem_filters=32, top_filters=1280, drop_connect_rate=0.2,
                 bn_momentum=0.99, activation="swish"):
    """The generic EfficientNet: preprocessing, a 3x3 stride-2 stem, the stages (with
    stochastic depth growing linearly to ``drop_connect_rate``), a 1x1 top conv, and a
    classifier head (``include_top``)."""
    unit = dict(activation=activation, bn_momentum=bn_momentum, kernel_initializer=INIT)
    blocks = tuple(
        StridedRepeat(stage.block(stage.filters, stage.kernel_size, strides=stage.strides,
                                  expand_ratio=stage.expand_ratio, se_ratio=stage.se_ratio,
                                  **unit),
                      stage.repeats, name=f"stage{i}")
        for i, stage in enumerate(stages, start=1))
    body = Sequence((
        *preprocess,
        ConvBN(stem_filters, 3, strides=2, name="stem", **unit),
        DropPathSchedule(blocks, drop_connect_rate, name="blocks"),
        ConvBN(top_filters, 1, name="top", **unit),
    ))
    head = (ClassifierHead(classes, pool="avg", dropout=dropout,
                           kernel_initializer="efficientnet_dense") if include_top else None)
    return Network(tuple(input_shape), body, head, name=name)


def _v1_preprocessing():
    # keras.applications' EfficientNet takes pixels in [0, 255]: rescale, then a
    # Normalization whose mean, variance and count are non-trainable weights.
    return (Rescaling(1.0 / 255.0, name="rescaling"), Normalization(name="normalization"))


def _variant_function(key, variant):
    base_size = VARIANTS["b0"].resolution
    function_name = f"efficientnet_{key}"

    def create(input_shape=(variant.resolution, variant.resolution, 3), classes=1000,
               include_top=True, dropout=variant.dropout):
        b0 = efficientnet(function_name, B0_STAGES, (base_size, base_size, input_shape[-1]),
                          classes, include_top, dropout, _v1_preprocessing())
        scaled = scale(b0, width=variant.width, depth=variant.depth,
                       resolution=tuple(input_shape[:2]))
        return scaled.replace(input_shape=tuple(input_shape))

    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (f"EfficientNet-{key.upper()}: B0 scaled by width {variant.width}, "
                      f"depth {variant.depth}, at {variant.resolution}x{variant.resolution}.")
    return create


for _key, _variant in VARIANTS.items():
    _function = _variant_function(_key, _variant)
    globals()[_function.__name__] = register(
        family="efficientnet", reference=REFERENCE.format(_key.upper()))(_function)


@dataclasses.dataclass(frozen=True)
class V2Variant:
    stages: tuple[Stage, ...]
    stem_filters: int  # before width scaling
    resolution: int  # keras.applications' default input size
    width: float = 1.0
    depth: float = 1.0


# keras.applications' EfficientNetV2 variants, in one place (all with dropout 0.2).
V2_VARIANTS = {
    "b0": V2Variant(V2_B0_STAGES, stem_filters=32, resolution=224),
    "b1": V2Variant(V2_B0_STAGES, stem_filters=32, resolution=240, depth=1.1),
    "b2": V2Variant(V2_B0_STAGES, stem_filters=32, resolution=260, width=1.1, depth=1.2),
    "b3": V2Variant(V2_B0_STAGES, stem_filters=32, resolution=300, width=1.2, depth=1.4),
    "s": V2Variant(V2_S_STAGES, stem_filters=24, resolution=384),
    "m": V2Variant(V2_M_STAGES, stem_filters=24, resolution=480),
    "l": V2Variant(V2_L_STAGES, stem_filters=32, resolution=480),
}


def _v2_preprocessing(key, channels):
    # keras.applications: the B variants keep V1's ImageNet normalization (constants,
    # so no weights) for 3-channel inputs; the others rescale [0, 255] to [-1, 1].
    if key.startswith("b") and channels == 3:
        return (Rescaling(1.0 / 255.0, name="rescaling"),
                Normalization((0.485, 0.456, 0.406), (0.229 ** 2, 0.224 ** 2, 0.225 ** 2),
                              name="normalization"))
    return (Rescaling(1.0 / 128.0, -1.0, name="rescaling"),)


def _v2_variant_function(key, variant):
    function_name = f"efficientnet_v2_{key}"

    def create(input_shape=(variant.resolution, variant.resolution, 3), classes=1000,
               include_top=True, dropout=0.2, include_preprocessing=True):
        preprocess = _v2_preprocessing(key, input_shape[-1]) if include_preprocessing else ()
        bp = efficientnet(function_name, variant.stages, input_shape, classes, include_top,
                          dropout, preprocess, stem_filters=variant.stem_filters,
                          bn_momentum=0.9)
        # keras.applications' V2 rounds widths without V1's "never 10% down" rule.
        return scale(bp, width=variant.width, depth=variant.depth, round_down_limit=0.0)

    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (
        f"EfficientNetV2-{key.upper()}: fused MBConv in the first stages, batch-norm "
        f"momentum 0.9, at {variant.resolution}x{variant.resolution}"
        + (f"; V2-B0 scaled by width {variant.width}, depth {variant.depth}"
           if variant.stages is V2_B0_STAGES and key != "b0" else "") + ".")
    return create


V2_DEPTH_NOTE = (
    "Stochastic depth grows to 0.2 over the blocks there are; keras.applications divides by "
    "the unscaled count, so its last blocks drop more (training only).")

for _key, _variant in V2_VARIANTS.items():
    _function = _v2_variant_function(_key, _variant)
    globals()[_function.__name__] = register(
        family="efficientnet", reference=V2_REFERENCE.format(_key.upper()),
        notes=V2_DEPTH_NOTE if _variant.depth != 1.0 else "")(_function)
