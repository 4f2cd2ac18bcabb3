"""Small recurrent classifiers for the scikit-learn digits (8x8 grey images).

``digits_rnn`` reads each image as a sequence of its 8 rows (8 time steps of 8 pixels)
and classifies from the recurrent layer's last state (many-to-one). ``digits_crnn`` is a
CRNN: a small convolutional front end on a 32x32 image, whose feature map's columns are
then read left to right by a bidirectional GRU.
"""

from __future__ import annotations

from builder.blocks import ConvBN, ImageToSequence, Recurrent
from builder.dsl import ClassifierHead, MaxPool2D, Network, Reshape, Sequence
from builder.errors import BlueprintError
from builder.registry import register

REFERENCE = "recurrent classifiers for the scikit-learn digits (no published twin)"


def _head(classes, include_top, dropout):
    # The recurrent layer's last state is already a vector: no pooling.
    return ClassifierHead(classes, pool="none", dropout=dropout) if include_top else None


@register(family="sequence", reference=REFERENCE)
def digits_rnn(input_shape=(8, 8, 1), classes=10, include_top=True, dropout=0.0,
               cell="lstm", units=64, bidirectional=False):
    """The image's rows as 8 time steps of 8 features, one recurrent layer, the classes.
    With the defaults (an LSTM of 64 units): 4 * (64 * (8 + 64) + 64) = 18,688 recurrent
    parameters and 650 in the classifier."""
    if len(input_shape) != 3 or None in input_shape:
        raise BlueprintError(f"digits_rnn needs an input_shape (H, W, C), got {input_shape}")
    height, width, channels = input_shape
    body = Sequence((
        Reshape((height, width * channels), name="rows"),
        Recurrent(cell, units, bidirectional=bidirectional, name="rnn"),
    ))
    return Network(tuple(input_shape), body, _head(classes, include_top, dropout),
                   name="digits_rnn")


@register(family="sequence", reference=REFERENCE)
def digits_crnn(input_shape=(32, 32, 1), classes=10, include_top=True, dropout=0.0,
                cell="gru", units=64):
    """Two conv-BN-ReLU units with 2x2 max pools (32x32x1 -> 8x8x32), the 8 columns as
    time steps of 8 * 32 = 256 features, a bidirectional recurrent layer, the classes."""
    body = Sequence((
        ConvBN(16, 3, name="conv1"),
        MaxPool2D(2, name="pool1"),
        ConvBN(32, 3, name="conv2"),
        MaxPool2D(2, name="pool2"),
        ImageToSequence(name="columns"),
        Recurrent(cell, units, bidirectional=True, name="rnn"),
    ))
    return Network(tuple(input_shape), body, _head(classes, include_top, dropout),
                   name="digits_crnn")
