"""ConvNeXt (Liu et al. 2022, "A ConvNet for the 2020s") as keras.applications builds it.

- ``ConvNeXtBlock``: depthwise 7x7 convolution, LayerNorm, 1x1 expansion to 4x the
  channels with GELU, 1x1 projection back, layer scale, stochastic depth, identity
  shortcut. Its width is its input's: it has no channel field to keep consistent.
- ``ConvNeXtDownsample``: the "patchify" stem (a 4x4 convolution at stride 4, then
  LayerNorm) and the downsampling between stages (LayerNorm, then a 2x2 convolution at
  stride 2).
- ``ConvNeXtStage``: an optional downsampling and ``depth`` blocks, stochastic depth
  growing linearly over them; ``filters`` and ``depth`` are what ``builder.scaling``
  scales.
- ``ConvNeXtHead``: global average pool, LayerNorm, the class scores.

keras.applications has a ``Conv2D`` with one group per channel for the depthwise
convolution (on TensorFlow's CPU kernels some 30 times slower to train than a
``DepthwiseConv2D``) and ``Dense`` layers for the pointwise ones; ``transfer_weights``
pairs those with our ``DepthwiseConv2D`` and 1x1 ``Conv2D``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from ..dsl.base import Block, Epsilon, Min, Pair, PositiveInt, Rate, Repeats, blueprint
from ..dsl.combinators import Residual, Sequence
from ..dsl.layers import (Activation, ActivationName, Conv2D, Dense, DepthwiseConv2D, Dropout,
                          GlobalPool, LayerNorm, LayerScale)
from ..errors import BlueprintError

__all__ = ["ConvNeXtBlock", "ConvNeXtDownsample", "ConvNeXtStage", "ConvNeXtHead"]


@blueprint
class ConvNeXtBlock(Block):
    """The ConvNeXt block (Figure 4 of the paper); output channels = input channels.

    Children (inside the residual): ``depthwise``, ``norm``, ``expand``, ``act``,
    ``project``, ``layer_scale``; then ``drop`` (stochastic depth) and ``add``.
    """

    kernel_size: Pair = (7, 7)
    expansion: PositiveInt = 4  # the inverted bottleneck's hidden width, x input channels
    layer_scale: Annotated[float, Min(0.0, exclusive=True)] | None = 1e-6  # None: none
    drop_rate: Rate = 0.0  # stochastic depth: the block is dropped per example
    epsilon: Epsilon = 1e-6
    activation: ActivationName = "gelu"

    def expand(self, input_shape):
        channels = self.input_channels(input_shape)
        layers = [DepthwiseConv2D(self.kernel_size, name="depthwise"),
                  LayerNorm(self.epsilon, name="norm"),
                  Conv2D(channels * self.expansion, 1, name="expand"),
                  Activation(self.activation, name="act"),
                  Conv2D(channels, 1, name="project")]
        if self.layer_scale is not None:
            layers.append(LayerScale(self.layer_scale, name="layer_scale"))
        return Residual(Sequence(tuple(layers)), drop_rate=self.drop_rate)


@blueprint
class ConvNeXtDownsample(Block):
    """A non-overlapping ``patch_size`` convolution at stride ``patch_size`` to
    ``filters`` channels, with a LayerNorm after it (``norm="after"``: the stem) or
    before it (``norm="before"``: between stages). Children ``conv`` and ``norm``."""

    filters: PositiveInt
    patch_size: Pair = (2, 2)
    norm: Literal["before", "after"] = "before"
    epsilon: Epsilon = 1e-6

    scalable_widths = ("filters",)

    def expand(self, input_shape):
        conv = Conv2D(self.filters, self.patch_size, strides=self.patch_size,
                      padding="valid", name="conv")
        norm = LayerNorm(self.epsilon, name="norm")
        return Sequence((conv, norm) if self.norm == "after" else (norm, conv))


@blueprint
class ConvNeXtStage(Block):
    """``depth`` ConvNeXt blocks of ``filters`` channels (``block1`` .. ``blockN``, made
    from ``block``), after a ``downsample`` (LayerNorm, 2x2 convolution at stride 2 to
    ``filters``) unless ``downsample=False`` (the first stage, after the stem; its input
    must then have ``filters`` channels).

    Stochastic depth grows linearly from ``drop_rates[0]`` (first block) to
    ``drop_rates[1]`` (last block); (0, 0) keeps ``block.drop_rate``.
    """

    filters: PositiveInt
    depth: Repeats
    downsample: bool = True
    block: ConvNeXtBlock = ConvNeXtBlock()
    drop_rates: tuple[Rate, Rate] = (0.0, 0.0)

    scalable_widths = ("filters",)
    scalable_repeats = ("depth",)

    def expand(self, input_shape):
        layers = []
        if self.downsample:
            layers.append(ConvNeXtDownsample(self.filters, epsilon=self.block.epsilon,
                                             name="downsample"))
        elif input_shape[-1] != self.filters:
            raise BlueprintError(
                f"ConvNeXtStage without downsampling keeps its input's {input_shape[-1]} "
                f"channels, but filters is {self.filters}; set filters={input_shape[-1]} "
                "or downsample=True")
        first, last = self.drop_rates
        for i in range(self.depth):
            changes = {"name": f"block{i + 1}"}
            if first or last:
                changes["drop_rate"] = first + (last - first) * i / max(self.depth - 1, 1)
            layers.append(self.block.replace(**changes))
        return Sequence(tuple(layers))

    def summary_columns(self) -> dict:
        """The stage's depth and width, as the paper's Table 9 gives them."""
        return {"depth": self.depth, "width": self.filters}


@blueprint
class ConvNeXtHead(Block):
    """Global average pool, LayerNorm, optional dropout, the class scores and softmax
    (children ``pool``, ``norm``, ``dropout``, ``logits``, ``predictions``)."""

    classes: PositiveInt
    dropout: Rate = 0.0  # before the class scores
    epsilon: Epsilon = 1e-6
    activation: ActivationName | None = "softmax"

    def expand(self, input_shape):
        layers = [GlobalPool("avg", name="pool"), LayerNorm(self.epsilon, name="norm")]
        if self.dropout:
            layers.append(Dropout(self.dropout, name="dropout"))
        layers.append(Dense(self.classes, name="logits"))
        if self.activation:
            layers.append(Activation(self.activation, name="predictions"))
        return Sequence(tuple(layers))
