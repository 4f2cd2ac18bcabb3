"""ConvNeXt (Liu, Mao, Wu, Feichtenhofer, Darrell and Xie, "A ConvNet for the 2020s",
CVPR 2022) as keras.applications builds it: ConvNeXtTiny .. ConvNeXtXLarge have the same
parameter counts, with and without the top, and the same weighted layers in the same
order, so keras' weights load with ``builder.transfer_weights``.

One table of (depth, width) per stage and one generic builder. keras' preprocessing is
kept: a ``Normalization`` by ImageNet's mean and variance over pixels in [0, 255] (given
as constants, so it holds no weights), for 3-channel inputs. Without the top, keras
ends with a LayerNorm over the last feature map; so do we.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import ConvNeXtBlock, ConvNeXtDownsample, ConvNeXtHead, ConvNeXtStage
from builder.dsl import Choice, Int, LayerNorm, Network, Normalization, Sequence
from builder.registry import register


@dataclasses.dataclass(frozen=True)
class Stage:
    depth: int  # blocks
    width: int  # channels


def stages(depths, widths):
    return tuple(Stage(d, w) for d, w in zip(depths, widths))


# The paper's section 3 / Table 9, keras.applications' MODEL_CONFIGS.
VARIANTS = {
    "tiny": stages((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": stages((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": stages((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": stages((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": stages((3, 3, 27, 3), (256, 512, 1024, 2048)),
}

REFERENCE = "Liu et al. 2022, A ConvNet for the 2020s; keras.applications.ConvNeXt{}"
# ImageNet's mean and variance over pixels in [0, 255], as keras' ConvNeXt normalizes.
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
VARIANCE = ((0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2)


def convnext(name, table, input_shape, classes, include_top, dropout, *, preprocess=True,
             drop_path=0.0, layer_scale=1e-6, stem_patch=4, block=None):
    """The generic ConvNeXt: (preprocessing), the patchify stem, the stages (stochastic
    depth growing linearly from 0 to ``drop_path`` over all blocks, as keras), and the
    head (GAP, LayerNorm, classes) or, without the top, a LayerNorm."""
    block = block or ConvNeXtBlock(layer_scale=layer_scale)
    layers = []
    if preprocess and input_shape[-1] == 3:
        layers.append(Normalization(MEAN, VARIANCE, name="normalization"))
    layers.append(ConvNeXtDownsample(table[0].width, stem_patch, norm="after", name="stem"))
    for i, (stage, rates) in enumerate(zip(table, _drop_rates(table, drop_path)), start=1):
        layers.append(ConvNeXtStage(stage.width, stage.depth, downsample=i > 1, block=block,
                                    drop_rates=rates, name=f"stage{i}"))
    if include_top:
        head = ConvNeXtHead(classes, dropout=dropout)
    else:
        head = None
        layers.append(LayerNorm(name="norm"))
    return Network(tuple(input_shape), Sequence(tuple(layers)), head, name=name)


def _drop_rates(table, drop_path):
    """(first, last) block's rate of each stage: block b of N in all gets
    drop_path * b / (N - 1), as keras' linspace."""
    if not drop_path:
        return [(0.0, 0.0)] * len(table)
    total = sum(stage.depth for stage in table)
    rates, seen = [], 0
    for stage in table:
        rates.append((drop_path * seen / max(total - 1, 1),
                      drop_path * (seen + stage.depth - 1) / max(total - 1, 1)))
        seen += stage.depth
    return rates


def _variant_function(key):
    function_name = f"convnext_{key}"

    def create(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
               drop_path=0.0, preprocess=True):
        return convnext(function_name, VARIANTS[key], input_shape, classes, include_top,
                        dropout, preprocess=preprocess, drop_path=drop_path)

    depths = "-".join(str(s.depth) for s in VARIANTS[key])
    widths = "-".join(str(s.width) for s in VARIANTS[key])
    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (f"ConvNeXt-{key[0].upper()}{key[1:]}: stage depths {depths}, widths "
                      f"{widths}; ``drop_path``: stochastic depth of the last block.")
    return create


for _key in VARIANTS:
    _function = _variant_function(_key)
    globals()[_function.__name__] = register(
        family="convnext", reference=REFERENCE.format(_key.capitalize()),
        notes=(f"keras.applications' ConvNeXt{_key.capitalize()} layer for layer; keras "
               "has a grouped Conv2D for the depthwise 7x7 and Dense layers for the 1x1 "
               "convolutions, which transfer_weights pairs with ours."))(_function)


@register(family="convnext", reference="a small ConvNeXt search space for the digits")
def convnext_digits(input_shape=(16, 16, 1), classes=10, include_top=True, dropout=0.0):
    """ConvNeXt for the digits at 16x16: a 2x2 stem and three stages (8x8, 4x4, 2x2).
    Widths, depths and the block's kernel and expansion are markers; their defaults are
    a 210K-parameter model that ``train`` uses as it is."""
    block = ConvNeXtBlock(kernel_size=Choice((7, 5, 3), label="kernel"),
                          expansion=Choice((4, 2), label="expansion"))
    table = (Stage(Int(1, 2, label="depth1"), Choice((24, 16, 32), label="width1")),
             Stage(Int(1, 2, label="depth2"), Choice((48, 32, 64), label="width2")),
             Stage(Int(1, 3, default=2, label="depth3"), Choice((96, 64, 128), label="width3")))
    return convnext("convnext_digits", table, input_shape, classes, include_top, dropout,
                    preprocess=False, stem_patch=2, block=block)
