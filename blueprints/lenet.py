"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to
document recognition", Proc. IEEE 1998, section II.B).

32x32 input; C1 6@28x28 (156 parameters), S2 6@14x14 (12), C3 16@10x10 with the
partial connection table of Table I (1,516), S4 16@5x5 (32), C5 120@1x1 (48,120),
F6 84 (10,164): 60,000 trainable parameters up to F6. Units squash with
f(a) = 1.7159 tanh(2a/3).

One documented departure: the paper's output layer is 10 Euclidean RBF units whose
84-dimensional centres are fixed (hand-drawn 7x12 bitmaps of the characters) and not
trained. Here the output is a trained 10-way dense softmax (850 parameters), as in
every modern reproduction; ``include_top=False`` ends at F6.
"""

from __future__ import annotations

from builder.blocks import ConnectionTable, Subsampling
from builder.dsl import (Activation, AvgPool2D, ClassifierHead, Conv2D, Dense, Flatten,
                         Network, Sequence)
from builder.registry import register

# Table I: the S2 maps that each C3 map takes input from.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

REFERENCE = "LeCun et al. 1998, Gradient-based learning applied to document recognition"


def _unit(layer, name, activation):
    return Sequence((layer, Activation(activation, name="act")), name=name)


def _lenet5(name, input_shape, classes, include_top, dropout, c3, pool, activation):
    body = Sequence((
        _unit(Conv2D(6, 5, padding="valid", name="conv"), "c1", activation),
        _unit(pool(name="pool"), "s2", activation),
        _unit(c3, "c3", activation),
        _unit(pool(name="pool"), "s4", activation),
        _unit(Conv2D(120, 5, padding="valid", name="conv"), "c5", activation),
        Flatten(name="flatten"),
        _unit(Dense(84, name="dense"), "f6", activation),
    ))
    head = ClassifierHead(classes, pool="none", dropout=dropout) if include_top else None
    return Network(tuple(input_shape), body, head, name=name)


@register(family="lenet", reference=REFERENCE)
def lenet5(input_shape=(32, 32, 1), classes=10, include_top=True, dropout=0.0):
    """LeNet-5 as published: C3's connection table, trainable subsampling, scaled tanh."""
    return _lenet5("lenet5", input_shape, classes, include_top, dropout,
                   c3=ConnectionTable(C3_TABLE, kernel_size=5, name="conv"),
                   pool=Subsampling, activation="lecun_tanh")


@register(family="lenet", reference=REFERENCE + " (C3 fully connected, plain average pooling)")
def lenet5_full(input_shape=(32, 32, 1), classes=10, include_top=True, dropout=0.0):
    """The common simplification: C3 sees all six S2 maps (2,416 parameters), S2 and S4
    are plain average pooling (no parameters), tanh units."""
    return _lenet5("lenet5_full", input_shape, classes, include_top, dropout,
                   c3=Conv2D(16, 5, padding="valid", name="conv"),
                   pool=AvgPool2D, activation="tanh")
