"""Search spaces: blueprints whose markers ``python -m builder tune`` resolves.

``digits_search`` is a small CNN for the 32x32 digits: a stem, two stages and a
classifier. Each stage's block type is a conditional choice among a plain conv unit
(with its own kernel-size choice), a residual basic block, an MBConv block and an MBConv
block with squeeze-and-excitation (whose SE ratio exists only in that option), each with
its own width; each stage's depth is an Int. At the markers' defaults it is a
6,386-parameter, 0.66M-MAC model; candidates range from about 6K parameters and 0.44M
MACs to 118K parameters and 15.2M MACs, so ``--max-macs`` between those bounds (5M, say)
rejects part of the space.
"""

from __future__ import annotations

from builder.blocks import BasicBlock, ConvBN, MBConv
from builder.dsl import (Choice, ClassifierHead, Float, Int, MaxPool2D, Network, Repeat,
                         Sequence)
from builder.registry import register


# Trials train a few short epochs on 1,258 images (40 steps an epoch): batch norm's moving
# averages must settle in that time, or validation (inference mode) scores at chance.
MOMENTUM = 0.9


def _stage(name, widths, max_depth):
    plain = ConvBN(Choice(widths), kernel_size=Choice((3, 5)), bn_momentum=MOMENTUM,
                   name="plain")
    residual = BasicBlock(Choice(widths), bn_momentum=MOMENTUM, name="residual")
    # Squeeze-and-excitation is an option of its own, so its ratio exists only with it.
    mbconv = MBConv(Choice(widths), expand_ratio=Choice((2, 4)), bn_momentum=MOMENTUM,
                    name="mbconv")
    mbconv_se = MBConv(Choice(widths), expand_ratio=Choice((2, 4)), bn_momentum=MOMENTUM,
                       se_ratio=Float(0.125, 0.5), name="mbconv_se")
    block = Choice((plain, residual, mbconv, mbconv_se), label=f"{name}.block")
    return Repeat(block, Int(1, max_depth, label=f"{name}.depth"), name=name)


@register(family="search", reference="a search space for tuning tests and examples")
def digits_search(input_shape=(32, 32, 1), classes=10, dropout=0.0):
    """Block type (plain conv unit or residual), widths, depths and kernel sizes are
    markers; see the module docstring."""
    body = Sequence((
        ConvBN(Choice((8, 16), label="stem.width"), kernel_size=Choice((3, 5), label="stem.kernel"),
               bn_momentum=MOMENTUM, name="stem"),
        MaxPool2D(name="pool1"),
        _stage("stage1", (16, 32), 2),
        MaxPool2D(name="pool2"),
        _stage("stage2", (32, 48), 2),
    ))
    head = ClassifierHead(classes, dropout=dropout)
    return Network(tuple(input_shape), body, head, name="digits_search")
