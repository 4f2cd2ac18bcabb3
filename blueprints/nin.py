"""Network in Network (Lin, Chen and Yan, "Network in network", ICLR 2014), the CIFAR-10
model of section 4.2 (the authors' published Caffe definition).

Three mlpconv layers (a kxk convolution and two 1x1 convolutions, all with ReLU):
192-160-96 (5x5), 192-192-192 (5x5), 192-192-classes (3x3); a 3x3 stride-2 max pool and
dropout 0.5 after the first, an average pool and dropout after the second. There is no
fully connected layer: the last mlpconv makes one map per class and global average
pooling turns each map into that class's score.
"""

from __future__ import annotations

from builder.blocks import GlobalAverageClassifier, MLPConv
from builder.dsl import AvgPool2D, Dropout, MaxPool2D, Network, Sequence
from builder.registry import register

REFERENCE = "Lin, Chen and Yan 2014, Network in network (CIFAR-10 model)"


def _nin(name, stages, input_shape, classes, include_top, dropout):
    """``stages``: (mlpconv, pool or None); each pool is followed by dropout."""
    body = []
    for i, (mlpconv, pool) in enumerate(stages, start=1):
        layers = [mlpconv.replace(name="mlpconv")]
        if pool is not None:
            layers.append(pool)
            if dropout:
                layers.append(Dropout(dropout, name="dropout"))
        body.append(Sequence(tuple(layers), name=f"stage{i}"))
    head = GlobalAverageClassifier(classes) if include_top else None
    return Network(tuple(input_shape), Sequence(tuple(body)), head, name=name)


@register(family="nin", reference=REFERENCE, notes=(
    "Caffe pools in ceil mode (32 -> 16 -> 8 with 3x3 stride-2 pools); here the pools use "
    "'same' padding, which gives the same sizes, but the padded average pool divides by "
    "the window's inside part where Caffe divides by 9. With include_top=False the output "
    "is the last mlpconv's class maps (8x8xclasses), before global average pooling."))
def nin(input_shape=(32, 32, 3), classes=10, include_top=True, dropout=0.5):
    """Network in Network for CIFAR-10: 966,986 parameters (classes=10)."""
    pool = dict(pool_size=3, strides=2, padding="same", name="pool")
    stages = (
        (MLPConv((192, 160, 96), kernel_size=5), MaxPool2D(**pool)),
        (MLPConv((192, 192, 192), kernel_size=5), AvgPool2D(**pool)),
        # the class count flows into the last 1x1 convolution
        (MLPConv((192, 192, classes), kernel_size=3), None),
    )
    return _nin("nin", stages, input_shape, classes, include_top, dropout)
