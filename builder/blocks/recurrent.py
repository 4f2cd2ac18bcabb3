"""Recurrent blocks: stacked (bidirectional) SimpleRNN / LSTM / GRU layers, and the
bridge from a convolutional feature map to a sequence (a CRNN's)."""

from __future__ import annotations

from typing import Literal

from ..dsl.base import Block, PositiveInt, Rate, Repeats, blueprint
from ..dsl.combinators import Sequence
from ..dsl.layers import GRU, LSTM, Bidirectional, Permute, Reshape, SimpleRNN
from ..errors import BlueprintError
from ..text import shape_text

__all__ = ["Recurrent", "ImageToSequence"]

CELLS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}



@blueprint
class Recurrent(Block):
    """``layers`` recurrent layers of ``cell`` stacked on a sequence (time, features).

    Every layer but the last returns its whole sequence (the next one needs it); the last
    returns the sequence with ``return_sequences``, else only its last state (many-to-one).
    With ``bidirectional`` each layer also runs backwards, merged by ``merge_mode``.
    ``dropout`` drops each layer's inputs while training. Children: ``lstm1 .. lstmN``
    (``gru``, ``simple_rnn``).
    """

    cell: Literal["simple_rnn", "lstm", "gru"] = "lstm"
    units: PositiveInt = 64
    layers: Repeats = 1
    bidirectional: bool = False
    merge_mode: Literal["concat", "sum", "mul", "ave"] = "concat"
    return_sequences: bool = False
    dropout: Rate = 0.0

    def expand(self, input_shape):
        if len(input_shape) != 2:
            hint = ("put an ImageToSequence before it to read the image's columns as time "
                    "steps" if len(input_shape) == 3 else
                    "put a Reshape before it")
            raise BlueprintError(
                f"Recurrent needs a sequence (time, features), got {shape_text(input_shape)}; {hint}")
        kind = CELLS[self.cell]
        children = []
        for i in range(1, self.layers + 1):
            sequences = self.return_sequences or i < self.layers
            layer = kind(self.units, return_sequences=sequences, dropout=self.dropout,
                         name=f"{self.cell}{i}")
            if self.bidirectional:
                layer = Bidirectional(layer.replace(name=None), merge_mode=self.merge_mode,
                                      name=f"{self.cell}{i}")
            children.append(layer)
        return Sequence(tuple(children))


@blueprint
class ImageToSequence(Block):
    """(H, W, C) -> (W, H * C): each column of a feature map becomes one time step, read
    left to right (a Permute to (W, H, C), then a Reshape)."""

    def expand(self, input_shape):
        if len(input_shape) != 3 or None in input_shape:
            raise BlueprintError(
                f"ImageToSequence needs an image (H, W, C) of known size, got {shape_text(input_shape)}")
        height, width, channels = input_shape
        return Sequence((Permute((2, 1, 3), name="permute"),
                         Reshape((width, height * channels), name="reshape")))
