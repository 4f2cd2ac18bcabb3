"""Vision Transformers (Dosovitskiy et al., "An image is worth 16x16 words: Transformers
for image recognition at scale", ICLR 2021): ViT-Ti/16, S/16 (the DeiT sizes, Touvron
et al. 2021), B/16, B/32 and L/16 at 224x224.

The paper's Table 1 in one place, one generic builder. As timm's vit_*_patch*_224: a
class token, learned position embeddings, pre-norm encoder layers with biased Q/K/V,
LayerNorm epsilon 1e-6, the class token's features after the final LayerNorm, and a
linear classifier with no pre-logits layer; the parameter counts equal timm's with a
1000-class head. Without the top the output is the class token's features.
"""

from __future__ import annotations

import dataclasses

from builder.blocks import ViTEncoder
from builder.dsl import Choice, ClassifierHead, Int, Network, SelectToken, Sequence
from builder.registry import register


@dataclasses.dataclass(frozen=True)
class Size:
    layers: int
    hidden: int  # D
    mlp: int  # MLP size
    heads: int


# Table 1 of the paper (Base, Large) and DeiT's Tiny and Small.
SIZES = {
    "tiny": Size(layers=12, hidden=192, mlp=768, heads=3),
    "small": Size(layers=12, hidden=384, mlp=1536, heads=6),
    "base": Size(layers=12, hidden=768, mlp=3072, heads=12),
    "large": Size(layers=24, hidden=1024, mlp=4096, heads=16),
}

REFERENCE = "Dosovitskiy et al. 2021, An image is worth 16x16 words; timm {}"
# timm's counts with a 1000-class head, in the notes of each variant.
VARIANTS = {
    "vit_ti16": ("tiny", 16, "vit_tiny_patch16_224", "5,717,416"),
    "vit_s16": ("small", 16, "vit_small_patch16_224", "22,050,664"),
    "vit_b16": ("base", 16, "vit_base_patch16_224", "86,567,656"),
    "vit_b32": ("base", 32, "vit_base_patch32_224", "88,224,232"),
    "vit_l16": ("large", 16, "vit_large_patch16_224", "304,326,632"),
}


def vit(name, size, patch_size, input_shape, classes, include_top, dropout, *,
        encoder_dropout=0.0, attention_dropout=0.0, drop_path=0.0):
    """The generic ViT: the encoder (patches, class token, positions, layers, LayerNorm),
    the class token's features, and a linear classifier (``include_top``)."""
    encoder = ViTEncoder(patch_size, size.layers, size.hidden, size.mlp, size.heads,
                         dropout=encoder_dropout, attention_dropout=attention_dropout,
                         drop_path=drop_path, name="encoder")
    body = Sequence((encoder, SelectToken(0, name="token")))
    head = ClassifierHead(classes, pool="none", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


def _variant_function(function_name, size_key, patch, timm_name):
    size = SIZES[size_key]

    def create(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0,
               encoder_dropout=0.0, attention_dropout=0.0, drop_path=0.0):
        return vit(function_name, size, patch, input_shape, classes, include_top, dropout,
                   encoder_dropout=encoder_dropout, attention_dropout=attention_dropout,
                   drop_path=drop_path)

    create.__name__ = create.__qualname__ = function_name
    short = {"tiny": "Ti", "small": "S", "base": "B", "large": "L"}[size_key]
    create.__doc__ = (f"ViT-{short}/{patch}: {size.layers} layers, hidden "
                      f"{size.hidden}, MLP {size.mlp}, {size.heads} heads, {patch}x{patch} "
                      "patches. ``encoder_dropout``: the paper's dropout (0.1 for ViT-B/L "
                      "on ImageNet-21k); ``drop_path``: stochastic depth of the last layer.")
    return create


for _name, (_size, _patch, _timm, _count) in VARIANTS.items():
    globals()[_name] = register(
        _name, family="vit", reference=REFERENCE.format(_timm),
        notes=(f"timm's {_timm} ({_count} parameters with 1000 classes): pre-norm layers, "
               "a class token, learned position embeddings, no pre-logits layer."),
    )(_variant_function(_name, _size, _patch, _timm))


@register(family="vit", reference="a small ViT search space for the digits")
def vit_digits(input_shape=(16, 16, 1), classes=10, include_top=True, dropout=0.0):
    """ViT for the digits at 16x16: 4x4 patches (16 tokens and the class token). Layers,
    hidden size, MLP size and heads are markers; their defaults are a 103K-parameter
    model that ``train`` uses as it is."""
    size = Size(layers=Int(1, 4, default=3, label="layers"),
                hidden=Choice((64, 32, 128), label="hidden"),
                mlp=Choice((128, 64, 192), label="mlp"),
                heads=Choice((4, 2, 8), label="heads"))
    return vit("vit_digits", size, 4, input_shape, classes, include_top, dropout)
