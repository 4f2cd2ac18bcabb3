"""RegNetX and RegNetY (Radosavovic, Kosaraju, Girshick, He and Dollár, "Designing
Network Design Spaces", CVPR 2020), as keras.applications builds them (same parameter
counts, same order of weighted layers, so keras' weights load with
``builder.transfer_weights``).

Each variant is one line of the design-space parameters (w0, wa, wm, depth, group width)
of the paper's models, as pycls publishes them; ``builder.regnet_rule.regnet`` turns them
into the per-stage widths and depths (which equal keras.applications' own tables).
The name's number is the model's FLOPs in hundreds of millions (regnetx_032: 3.2 GF).
"""

from __future__ import annotations

import dataclasses

from builder.blocks import ConvBN, RegNetStage
from builder.dsl import ClassifierHead, Network, Rescaling, Sequence
from builder.regnet_rule import regnet
from builder.registry import register


@dataclasses.dataclass(frozen=True)
class Variant:
    w0: int  # initial width
    wa: float  # slope of the width ramp
    wm: float  # width multiplier between stages
    depth: int  # blocks in all
    group_width: int


X_VARIANTS = {
    "002": Variant(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8),
    "004": Variant(w0=24, wa=24.48, wm=2.54, depth=22, group_width=16),
    "006": Variant(w0=48, wa=36.97, wm=2.24, depth=16, group_width=24),
    "008": Variant(w0=56, wa=35.73, wm=2.28, depth=16, group_width=16),
    "016": Variant(w0=80, wa=34.01, wm=2.25, depth=18, group_width=24),
    "032": Variant(w0=88, wa=26.31, wm=2.25, depth=25, group_width=48),
    "040": Variant(w0=96, wa=38.65, wm=2.43, depth=23, group_width=40),
    "064": Variant(w0=184, wa=60.83, wm=2.07, depth=17, group_width=56),
    "080": Variant(w0=80, wa=49.56, wm=2.88, depth=23, group_width=120),
    "120": Variant(w0=168, wa=73.36, wm=2.37, depth=19, group_width=112),
    "160": Variant(w0=216, wa=55.59, wm=2.1, depth=22, group_width=128),
    "320": Variant(w0=320, wa=69.86, wm=2.0, depth=23, group_width=168),
}

Y_VARIANTS = {
    "002": Variant(w0=24, wa=36.44, wm=2.49, depth=13, group_width=8),
    "004": Variant(w0=48, wa=27.89, wm=2.09, depth=16, group_width=8),
    "006": Variant(w0=48, wa=32.54, wm=2.32, depth=15, group_width=16),
    "008": Variant(w0=56, wa=38.84, wm=2.4, depth=14, group_width=16),
    "016": Variant(w0=48, wa=20.71, wm=2.65, depth=27, group_width=24),
    "032": Variant(w0=80, wa=42.63, wm=2.66, depth=21, group_width=24),
    "040": Variant(w0=96, wa=31.41, wm=2.24, depth=22, group_width=64),
    "064": Variant(w0=112, wa=33.22, wm=2.27, depth=25, group_width=72),
    "080": Variant(w0=192, wa=76.82, wm=2.19, depth=17, group_width=56),
    "120": Variant(w0=168, wa=73.36, wm=2.37, depth=19, group_width=112),
    "160": Variant(w0=200, wa=106.23, wm=2.48, depth=18, group_width=112),
    "320": Variant(w0=232, wa=115.89, wm=2.53, depth=20, group_width=232),
}

SE_RATIO = {"x": 0.0, "y": 0.25}  # RegNetY adds squeeze-and-excitation, ratio 1/4

REFERENCE = ("Radosavovic et al. 2020, Designing Network Design Spaces; "
             "keras.applications.RegNet{}")
NOTES = ("keras.applications' RegNet{} layer for layer. Its classifier gives logits (keras "
         "ignores classifier_activation there); ours ends in a softmax like every "
         "registered network (the same weights; pass a head with activation=None for "
         "logits). Inputs are pixels in [0, 255], rescaled inside.")


def design(block_type: str, key: str):
    """The ``RegNetDesign`` of a registered variant (``design("y", "032")``)."""
    v = (X_VARIANTS if block_type == "x" else Y_VARIANTS)[key]
    return regnet(w0=v.w0, wa=v.wa, wm=v.wm, depth=v.depth, group_width=v.group_width,
                  se_ratio=SE_RATIO[block_type])


def regnet_network(name, stages, input_shape, classes, include_top, dropout,
                   stem_filters=32):
    """The generic RegNet: rescaling to [0, 1], a 3x3 stride-2 stem, one ``RegNetStage``
    per stage of the design (each halves the resolution), and a classifier head."""
    body = Sequence((
        Rescaling(1.0 / 255.0, name="rescaling"),
        ConvBN(stem_filters, 3, strides=2, bn_epsilon=1e-5, bn_momentum=0.9,
               kernel_initializer="he_normal", name="stem"),
        *(RegNetStage(s.width, s.depth, s.group_width, s.bottleneck_ratio, s.se_ratio,
                      name=f"stage{i}")
          for i, s in enumerate(stages, start=1)),
    ))
    head = ClassifierHead(classes, pool="avg", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


def _variant_function(block_type, key):
    function_name = f"regnet{block_type}_{key}"

    def create(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
        return regnet_network(function_name, design(block_type, key).stages, input_shape,
                              classes, include_top, dropout)

    create.__name__ = create.__qualname__ = function_name
    create.__doc__ = (f"RegNet{block_type.upper()}-{int(key) / 10:g}GF "
                      f"(keras.applications.RegNet{block_type.upper()}{key}).")
    return create


for _type, _variants in (("x", X_VARIANTS), ("y", Y_VARIANTS)):
    for _key in _variants:
        _label = f"{_type.upper()}{_key}"
        _function = _variant_function(_type, _key)
        globals()[_function.__name__] = register(
            family="regnet", reference=REFERENCE.format(_label),
            notes=NOTES.format(_label))(_function)
