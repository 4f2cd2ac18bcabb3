"""The blueprint language: primitives, combinators and search-space markers."""

from .base import Block, Blueprint, Layer, blueprint, replace
from .combinators import (ClassifierHead, Identity, Network, Parallel, Repeat, Residual,
                          Sequence, SideOutput)
from .layers import (LSTM, GRU, Activation, Add, AvgPool2D, BatchNorm, Bidirectional,
                     ChannelAffine, Concatenate, Conv2D, Dense, DepthwiseConv2D, Dropout,
                     Flatten, GlobalPool, LocalResponseNorm, MaxPool2D, Multiply,
                     Normalization, Permute, Rescaling, Reshape, SelectChannels,
                     SeparableConv2D, SimpleRNN, ZeroPadding2D)
from .combinators import Cell, Cells  # two-input cells (NASNet)
from .layers import Cropping2D
# ConvNeXt and ViT primitives
from .layers import (ClassToken, LayerNorm, LayerScale, MultiHeadAttention, PositionEmbedding,
                     SelectToken)
from .markers import Boolean, Choice, Float, Int, Marker, concrete, has_markers

__all__ = [
    # machinery
    "Block", "Blueprint", "Layer", "blueprint", "replace",
    # combinators
    "ClassifierHead", "Identity", "Network", "Parallel", "Repeat", "Residual", "Sequence",
    "SideOutput",
    # primitives
    "LSTM", "GRU", "Activation", "Add", "AvgPool2D", "BatchNorm", "Bidirectional",
    "ChannelAffine", "Concatenate", "Conv2D", "Dense", "DepthwiseConv2D", "Dropout", "Flatten",
    "GlobalPool", "LocalResponseNorm", "MaxPool2D", "Multiply", "Normalization", "Permute",
    "Rescaling", "Reshape", "SelectChannels", "SeparableConv2D", "SimpleRNN", "ZeroPadding2D",
    "Cell", "Cells", "Cropping2D",
    "ClassToken", "LayerNorm", "LayerScale", "MultiHeadAttention", "PositionEmbedding",
    "SelectToken",
    # search-space markers
    "Boolean", "Choice", "Float", "Int", "Marker", "concrete", "has_markers",
]
