"""GoogLeNet (Szegedy et al., "Going deeper with convolutions", CVPR 2015), Table 1.

224x224x3 input: 7x7/2 convolution (64), 3x3/2 max pool, LRN, 1x1 convolution (64),
3x3 convolution (192), LRN, 3x3/2 max pool, Inception 3a, 3b, 3x3/2 max pool, 4a .. 4e,
3x3/2 max pool, 5a, 5b, 7x7 average pool, dropout 0.4, linear + softmax. Every
convolution has a bias and a ReLU (no batch norm). With ``aux_heads=True`` the two
auxiliary classifiers read the outputs of 4a and 4d as side outputs (loss weight 0.3).
"""

from __future__ import annotations

from builder.blocks import AuxiliaryHead, Inception
from builder.dsl import (ClassifierHead, Conv2D, LocalResponseNorm, MaxPool2D, Network,
                         Sequence, SideOutput)
from builder.registry import register

REFERENCE = "Szegedy et al. 2015, Going deeper with convolutions, Table 1"

NOTES = (
    "Params and ops follow Table 1 except: (1) every convolution and FC layer here has a "
    "bias (Table 1 counts weights only, in units of 1024: e.g. 3a 159K = 163,328 weights; "
    "ours 163,696 with 368 biases); (2) Table 1 gives the 7x7 stem convolution 2.7K "
    "params, but 7x7x3x64 = 9,408 weights (the table's figure is an erratum); (3) the LRN "
    "layers follow the Caffe model (size 5, alpha 1e-4 / 5, beta 0.75, k 1) and have no "
    "parameters; (4) Table 1's params for 4a, 4c, 4d, 4e, 5a, 5b (364K, 463K, 580K, 840K, "
    "1072K, 1388K) do not follow from its own channel columns, which give 366.75K, "
    "497.5K, 590.5K, 847K, 1018K, 1409K weights (3a, 3b, 4b agree: 159.5K, 379K, 438K); this "
    "network follows the channel columns. Totals: ours 6,998,552 parameters (6,990,272 "
    "weights) against 'about 6.8M'; 1,582,671,872 multiply-adds against 'about 1.5 "
    "billion' (Table 1's ops column sums to 1,586M). 'same' padding gives the table's "
    "sizes (112, 56, 28, 14, 7).")

# Table 1: module name, then #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
# ``None`` marks the 3x3/2 max pool between stages.
MODULES = (
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    None,
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    None,
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)
AUX_AFTER = {"inception4a": "aux1", "inception4d": "aux2"}


def _lrn(name):
    return LocalResponseNorm(size=5, alpha=1e-4 / 5, beta=0.75, k=1.0, name=name)


def _googlenet(name, input_shape, classes, include_top, dropout, aux_heads):
    layers = [
        Conv2D(64, 7, strides=2, activation="relu", name="conv1"),
        MaxPool2D(3, 2, padding="same", name="pool1"),
        _lrn("norm1"),
        Conv2D(64, 1, activation="relu", name="conv2_reduce"),
        Conv2D(192, 3, activation="relu", name="conv2"),
        _lrn("norm2"),
        MaxPool2D(3, 2, padding="same", name="pool2"),
    ]
    pools = 3
    for module in MODULES:
        if module is None:
            layers.append(MaxPool2D(3, 2, padding="same", name=f"pool{pools}"))
            pools += 1
            continue
        module_name, *channels = module
        layers.append(Inception(*channels, name=module_name))
        if aux_heads and include_top and module_name in AUX_AFTER:
            layers.append(SideOutput(AuxiliaryHead(classes), loss_weight=0.3,
                                     name=AUX_AFTER[module_name]))
    head = ClassifierHead(classes, dropout=dropout) if include_top else None
    return Network(tuple(input_shape), Sequence(tuple(layers)), head, name=name)


@register(family="googlenet", reference=REFERENCE, notes=NOTES)
def googlenet(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.4,
              aux_heads=False):
    """GoogLeNet; ``aux_heads=True`` adds the two auxiliary classifiers (training only,
    ignored without a top)."""
    return _googlenet("googlenet", input_shape, classes, include_top, dropout, aux_heads)
