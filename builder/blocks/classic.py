"""Blocks of the earliest convolutional networks (LeNet-5)."""

from __future__ import annotations

from typing import Annotated

from ..dsl.base import Block, Min, NonNegativeInt, Pair, blueprint
from ..dsl.combinators import Parallel, Sequence
from ..dsl.layers import AvgPool2D, ChannelAffine, Conv2D, SelectChannels
from ..errors import BlueprintError

__all__ = ["ConnectionTable", "Subsampling"]


@blueprint
class ConnectionTable(Block):
    """A convolution whose output maps each see only some input maps (LeNet-5's C3).

    ``table[i]`` lists the input channels that output map ``i`` is connected to; each
    map is its own ``kernel_size`` convolution over those channels, so the parameters
    are sum over maps of (F * F * len(table[i]) + 1).
    """

    table: tuple[tuple[NonNegativeInt, ...], ...]
    kernel_size: Pair = (5, 5)
    padding: str = "valid"

    def validate(self):
        if len(self.table) < 2:
            raise BlueprintError("ConnectionTable.table needs at least two output maps")
        for i, row in enumerate(self.table):
            if not row or len(set(row)) != len(row):
                raise BlueprintError(f"ConnectionTable.table[{i}] must list distinct input maps")

    def expand(self, input_shape):
        branches = tuple(
            Sequence((SelectChannels(row, name="select"),
                      Conv2D(1, self.kernel_size, padding=self.padding, name="conv")),
                     name=f"map{i}")
            for i, row in enumerate(self.table))
        return Parallel(branches, merge="concat")


@blueprint
class Subsampling(Block):
    """LeNet-5's subsampling: the sum of each ``pool_size`` window times a trainable
    coefficient plus a trainable bias, per map (2 parameters a map). The average pool's
    1 / (window size) is absorbed in the coefficient."""

    pool_size: Pair = (2, 2)
    strides: Annotated[tuple[int, int], Min(1)] | None = None

    def expand(self, input_shape):
        return Sequence((AvgPool2D(self.pool_size, self.strides, name="pool"),
                         ChannelAffine(name="coefficient")))
