"""NASNet-A (Zoph et al., "Learning transferable architectures for scalable image
recognition", CVPR 2018) exactly as keras.applications NASNetMobile and NASNetLarge
build it, so weights transfer one to one.

The two cells found by the search (Figure 4) are stated below as data: five pairwise
combinations each over the hidden states h (this cell's input) and h_prev (the previous
cell's input). The network: a 3x3/2 convolution and BN (the stem), two reduction cells
(stem_1, stem_2), then three stages of ``cell_repeats`` normal cells with a reduction
cell between stages, each stage with ``filter_multiplier`` times the filters of the one
before; ReLU, global average pool, softmax. The last stage has
``penultimate_filters / 24`` filters per cell and ``penultimate_filters`` output channels
(normal cells concatenate six hidden states).
"""

from __future__ import annotations

from builder.blocks import Combination, NASNetCell
from builder.dsl import (Activation, BatchNorm, Cells, ClassifierHead, Conv2D, Network,
                         Sequence)
from builder.errors import BlueprintError
from builder.registry import register

REFERENCE = ("Zoph et al. 2018, Learning transferable architectures for scalable image "
             "recognition; keras.applications NASNetMobile, NASNetLarge")

# Each row: an operation and the hidden state it reads, plus another operation and the
# hidden state it reads; row i makes the hidden state x<i>.
NORMAL = (
    Combination("separable_5x5", "h", "separable_3x3", "h_prev"),
    Combination("separable_5x5", "h_prev", "separable_3x3", "h_prev"),
    Combination("avg_3x3", "h", "identity", "h_prev"),
    Combination("avg_3x3", "h_prev", "avg_3x3", "h_prev"),
    Combination("separable_3x3", "h", "identity", "h"),
)
NORMAL_CONCAT = ("h_prev", "x1", "x2", "x3", "x4", "x5")

REDUCTION = (
    Combination("separable_5x5", "h", "separable_7x7", "h_prev"),
    Combination("max_3x3", "h", "separable_7x7", "h_prev"),
    Combination("avg_3x3", "h", "separable_5x5", "h_prev"),
    Combination("identity", "x2", "avg_3x3", "x1"),
    Combination("separable_3x3", "x1", "max_3x3", "h"),
)
REDUCTION_CONCAT = ("x2", "x3", "x4", "x5")


def normal_cell(filters, name):
    return NASNetCell(filters, NORMAL, NORMAL_CONCAT, name=name)


def reduction_cell(filters, name, keep_prev=False):
    return NASNetCell(filters, REDUCTION, REDUCTION_CONCAT, reduction=True,
                      keep_prev=keep_prev, name=name)


def nasnet(name, input_shape, classes, include_top, dropout, *, penultimate_filters,
           cell_repeats, stem_filters, skip_reduction, filter_multiplier=2):
    """NASNet-A with keras NASNet(...)'s arguments (``cell_repeats`` is its
    ``num_blocks``, ``stem_filters`` its ``stem_block_filters``). Cells are named as
    keras names them: stem_1, stem_2, normal_0 .. , reduce_<n>, normal_<n+1> ..
    ``skip_reduction``: the cell after a reduction reads, as h_prev, the reduction
    cell's own h_prev (NASNet-A Large)."""
    m = filter_multiplier
    if penultimate_filters % (24 * m ** 2):
        raise BlueprintError(f"NASNet's penultimate_filters {penultimate_filters} must be a "
                             f"multiple of 24 * filter_multiplier ** 2 = {24 * m ** 2}")
    filters = penultimate_filters // 24
    cells = [reduction_cell(filters // m ** 2, "stem_1"), reduction_cell(filters // m, "stem_2")]
    for stage in range(3):
        first = stage * cell_repeats + (stage > 0)  # keras's block ids
        if stage:
            cells.append(reduction_cell(filters * m ** stage, f"reduce_{stage * cell_repeats}",
                                        keep_prev=skip_reduction))
        cells += [normal_cell(filters * m ** stage, f"normal_{first + i}")
                  for i in range(cell_repeats)]
    body = Sequence((
        Conv2D(stem_filters, 3, strides=2, padding="valid", use_bias=False,
               kernel_initializer="he_normal", name="stem_conv"),
        BatchNorm(momentum=0.9997, epsilon=1e-3, name="stem_bn"),
        Cells(tuple(cells), name="cells"),
        Activation("relu", name="relu"),
    ))
    head = ClassifierHead(classes, dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


@register(family="nasnet", reference=REFERENCE)
def nasnet_mobile(input_shape=(224, 224, 3), classes=1000, include_top=True, dropout=0.0):
    """NASNetMobile (NASNet-A 4 @ 1056) as keras.applications builds it."""
    return nasnet("nasnet_mobile", input_shape, classes, include_top, dropout,
                  penultimate_filters=1056, cell_repeats=4, stem_filters=32,
                  skip_reduction=False)


@register(family="nasnet", reference=REFERENCE)
def nasnet_large(input_shape=(331, 331, 3), classes=1000, include_top=True, dropout=0.0):
    """NASNetLarge (NASNet-A 6 @ 4032) as keras.applications builds it."""
    return nasnet("nasnet_large", input_shape, classes, include_top, dropout,
                  penultimate_filters=4032, cell_repeats=6, stem_filters=96,
                  skip_reduction=True)
