"""The Vision Transformer (Dosovitskiy et al. 2021, "An image is worth 16x16 words") and
its pre-norm encoder layer.

- ``PatchEmbedding``: the image cut into non-overlapping patches, each projected to
  ``hidden`` features (a convolution with kernel = stride = patch size), as a sequence of
  tokens.
- ``TransformerBlock``: one pre-norm encoder layer, x + MHSA(LN(x)) then x + MLP(LN(x)),
  the MLP a GELU dense layer and a projection back; its width is its input's.
- ``ViTEncoder``: patch embedding, class token, learned position embedding, dropout,
  ``layers`` encoder layers and the final LayerNorm: the columns of the paper's Table 1
  (layers, hidden size D, MLP size, heads) in one block, which is also what
  ``builder.scaling`` scales (hidden size and MLP size, layers; the hidden size stays a
  multiple of the heads).
"""

from __future__ import annotations

import math

from ..dsl.base import Block, Epsilon, Pair, PositiveInt, Rate, Repeats, blueprint
from ..dsl.combinators import Residual, Sequence
from ..dsl.layers import (ActivationName, ClassToken, Conv2D, Dense, Dropout, LayerNorm,
                          MultiHeadAttention, PositionEmbedding, Reshape)
from ..errors import BlueprintError

__all__ = ["PatchEmbedding", "TransformerBlock", "ViTEncoder"]


@blueprint
class PatchEmbedding(Block):
    """Image (H, W, C) -> tokens (H/P * W/P, hidden): children ``projection`` (the
    convolution) and ``tokens`` (the reshape)."""

    patch_size: Pair
    hidden: PositiveInt

    scalable_widths = ("hidden",)

    def expand(self, input_shape):
        return Sequence((
            Conv2D(self.hidden, self.patch_size, strides=self.patch_size, padding="valid",
                   name="projection"),
            Reshape((-1, self.hidden), name="tokens"),
        ))


def _heads_divide(where, width, heads):
    if isinstance(width, int) and isinstance(heads, int) and width % heads:
        raise BlueprintError(
            f"{where}: {heads} attention heads do not divide the width {width}; choose a "
            f"width that is a multiple of {heads} or a number of heads that divides {width}")


def _dropout(rate, name):
    return (Dropout(rate, name=name),) if rate else ()


@blueprint
class TransformerBlock(Block):
    """A pre-norm Transformer encoder layer over (tokens, width): children ``attention``
    (``norm``, ``mha``, ``dropout``; a residual) and ``mlp`` (``norm``, ``fc1`` with
    ``activation``, ``dropout1``, ``fc2``, ``dropout2``; a residual). Each head attends
    with width / ``heads`` features unless ``key_dim`` says otherwise."""

    heads: PositiveInt
    mlp_dim: PositiveInt  # the MLP's hidden width
    key_dim: PositiveInt | None = None  # per head; None: width / heads
    qkv_bias: bool = True
    dropout: Rate = 0.0  # after the attention's output projection and each MLP layer
    attention_dropout: Rate = 0.0  # on the attention probabilities
    drop_rate: Rate = 0.0  # stochastic depth of both residuals
    epsilon: Epsilon = 1e-6
    activation: ActivationName = "gelu"

    scalable_widths = ("mlp_dim",)

    def expand(self, input_shape):
        width = self.input_channels(input_shape)
        key_dim = self.key_dim
        if key_dim is None:
            _heads_divide("TransformerBlock", width, self.heads)
            key_dim = width // self.heads
        attention = (LayerNorm(self.epsilon, name="norm"),
                     MultiHeadAttention(self.heads, key_dim, use_bias=self.qkv_bias,
                                        dropout=self.attention_dropout, name="mha"),
                     *_dropout(self.dropout, "dropout"))
        mlp = (LayerNorm(self.epsilon, name="norm"),
               Dense(self.mlp_dim, activation=self.activation, name="fc1"),
               *_dropout(self.dropout, "dropout1"),
               Dense(width, name="fc2"),
               *_dropout(self.dropout, "dropout2"))
        return Sequence((Residual(Sequence(attention), drop_rate=self.drop_rate, name="attention"),
                         Residual(Sequence(mlp), drop_rate=self.drop_rate, name="mlp")))


@blueprint
class ViTEncoder(Block):
    """The ViT encoder (Eq. 1-4 of the paper): an image -> (tokens + 1, hidden), the
    class token first. Children ``embedding`` (``PatchEmbedding``), ``class_token``,
    ``position``, ``dropout``, ``layer1`` .. ``layerN`` (``TransformerBlock``) and
    ``norm``. Stochastic depth grows linearly from 0 (first layer) to ``drop_path``
    (last layer)."""

    patch_size: Pair
    layers: Repeats
    hidden: PositiveInt  # D, the width of every token
    mlp_dim: PositiveInt  # the MLP size
    heads: PositiveInt
    dropout: Rate = 0.0  # after the position embedding and in every layer
    attention_dropout: Rate = 0.0
    drop_path: Rate = 0.0
    epsilon: Epsilon = 1e-6

    scalable_widths = ("hidden", "mlp_dim")
    scalable_repeats = ("layers",)

    def validate(self):
        _heads_divide("ViTEncoder", self.hidden, self.heads)

    def width_divisor(self, field: str, divisor: int) -> int:
        """The multiple ``builder.scaling`` rounds ``field`` to: the hidden size stays a
        multiple of the heads."""
        if field == "hidden" and isinstance(self.heads, int):
            return math.lcm(divisor, self.heads)
        return divisor

    def expand(self, input_shape):
        layers = [PatchEmbedding(self.patch_size, self.hidden, name="embedding"),
                  ClassToken(name="class_token"), PositionEmbedding(name="position"),
                  *_dropout(self.dropout, "dropout")]
        for i in range(self.layers):
            rate = self.drop_path * i / max(self.layers - 1, 1)
            layers.append(TransformerBlock(
                self.heads, self.mlp_dim, dropout=self.dropout,
                attention_dropout=self.attention_dropout, drop_rate=rate,
                epsilon=self.epsilon, name=f"layer{i + 1}"))
        layers.append(LayerNorm(self.epsilon, name="norm"))
        return Sequence(tuple(layers))

    def summary_columns(self) -> dict:
        """The columns of the paper's Table 1."""
        return {"layers": self.layers, "hidden size": self.hidden, "MLP size": self.mlp_dim,
                "heads": self.heads}
