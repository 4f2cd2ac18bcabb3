"""Textbook shape and parameter arithmetic: output = floor((N - F + 2P) / S) + 1,
conv params = (F * F * D_in / groups + 1) * K. The worked exercises of CNN courses."""

import pytest

import builder
from builder import (AvgPool2D, BatchNorm, Conv2D, Dense, DepthwiseConv2D, Flatten, GlobalPool,
                     MaxPool2D, Network, Parallel, Residual, Sequence, SeparableConv2D)


def one(layer, shape):
    r = builder.analyze(layer, input_shape=shape)
    return r.output_shape, r.total_params, r.macs, r.warnings


@pytest.mark.parametrize("layer, shape, out, params", [
    # 32x32x3, ten 5x5 filters, stride 1, pad 2 -> 32x32x10, (5*5*3+1)*10 = 760
    (Conv2D(10, 5, strides=1, padding=2), (32, 32, 3), (32, 32, 10), 760),
    # AlexNet conv1: 227x227x3, 96 11x11 filters, stride 4, no padding -> 55x55x96, 34,944
    (Conv2D(96, 11, strides=4, padding="valid"), (227, 227, 3), (55, 55, 96), 34944),
    # 3x3 pooling, stride 2 on 55x55x96 -> 27x27x96, no parameters
    (MaxPool2D(3, strides=2), (55, 55, 96), (27, 27, 96), 0),
    # 7x7 input, 3x3 filter, stride 2, no padding -> 3x3
    (Conv2D(1, 3, strides=2, padding="valid"), (7, 7, 1), (3, 3, 1), 10),
    # 'same' as Keras defines it: ceil(N / S)
    (Conv2D(4, 3, strides=2, padding="same"), (7, 7, 2), (4, 4, 4), (9 * 2 + 1) * 4),
    # VGG conv1_1: (3*3*3+1)*64 = 1,792
    (Conv2D(64, 3), (224, 224, 3), (224, 224, 64), 1792),
    # grouped: 16 input channels in 4 groups, 32 filters -> (3*3*4+1)*32 = 1,184
    (Conv2D(32, 3, groups=4), (8, 8, 16), (8, 8, 32), 1184),
    # dilation 2 makes a 3x3 filter span 5: (9 - 5) / 1 + 1 = 5
    (Conv2D(1, 3, dilation_rate=2, padding="valid"), (9, 9, 1), (5, 5, 1), 10),
    (DepthwiseConv2D(3), (112, 112, 32), (112, 112, 32), 9 * 32 + 32),
    (DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (8, 8, 4), (8, 8, 8), 72),
    (SeparableConv2D(64, 3), (56, 56, 32), (56, 56, 64), 9 * 32 + 32 * 64 + 64),
    (Dense(1000), (4096,), (1000,), 4097000),
    (BatchNorm(), (7, 7, 512), (7, 7, 512), 2048),
    (GlobalPool(), (7, 7, 512), (512,), 0),
    (Flatten(), (7, 7, 512), (25088,), 0),
    (AvgPool2D(2), (28, 28, 6), (14, 14, 6), 0),
])
def test_textbook_layers(layer, shape, out, params):
    got_out, got_params, _, _ = one(layer, shape)
    assert got_out == out
    assert got_params == params


def test_conv_macs_are_output_positions_times_window():
    _, _, macs, _ = one(Conv2D(96, 11, strides=4, padding="valid"), (227, 227, 3))
    assert macs == 55 * 55 * 96 * 11 * 11 * 3


def test_uneven_valid_window_warns_naming_the_layer():
    # (7 - 3) / 3 is not whole: the last row and column are dropped
    bp = Sequence((Conv2D(1, 3, strides=3, padding="valid", name="reduce"),))
    out, _, _, warnings = one(bp, (7, 7, 1))
    assert out == (2, 2, 1)
    assert len(warnings) == 1 and warnings[0].startswith("reduce:") and "not whole" in warnings[0]


def test_even_window_does_not_warn():
    assert one(Conv2D(1, 3, strides=2, padding="valid"), (7, 7, 1))[3] == []


@pytest.mark.parametrize("layer, shape", [
    # the leftover position is padding, not data (ResNet's stem)
    (Conv2D(64, 7, strides=2, padding=3), (224, 224, 3)),
    # a window narrower than its stride skips positions by design
    (Conv2D(8, 1, strides=2, padding="valid"), (56, 56, 4)),
])
def test_no_warning_when_no_input_is_lost(layer, shape):
    assert one(layer, shape)[3] == []


def test_default_names():
    from builder.dsl.base import snake

    assert [snake(n) for n in ("MaxPool2D", "SeparableConv2D", "BatchNorm", "LSTM", "ConvBN")] == [
        "max_pool2d", "separable_conv2d", "batch_norm", "lstm", "conv_bn"]


def test_batchnorm_counts_trainable_and_not():
    r = builder.analyze(BatchNorm(), input_shape=(4, 4, 10))
    assert (r.trainable_params, r.non_trainable_params) == (20, 20)


def test_network_blocks_and_totals():
    net = Network((32, 32, 3), Sequence((
        Sequence((Conv2D(8, 3, name="conv"), BatchNorm(name="bn")), name="stem"),
        Residual(Sequence((Conv2D(8, 3, name="conv1"), Conv2D(8, 3, name="conv2"))),
                 activation="relu", name="block1"),
        GlobalPool(name="pool"),
    )), builder.ClassifierHead(10, pool="none"), name="tiny")
    r = builder.analyze(net)
    assert r.output_shape == (10,)
    stem = (3 * 9 + 1) * 8 + 4 * 8
    block = 2 * (8 * 9 + 1) * 8
    head = 8 * 10 + 10
    assert r.total_params == stem + block + head
    rows = {row.path: row for row in r.blocks(1)}
    assert list(rows) == ["input", "stem", "block1", "pool", "head"]
    assert rows["block1"].params == block and rows["block1"].kind == "Residual"
    deeper = [row.path for row in r.blocks(2)]
    assert deeper == ["input", "stem/conv", "stem/bn", "block1/conv1", "block1/conv2",
                      "block1/add", "block1/out", "pool", "head/logits",
                      "head/predictions"]


def test_parallel_concat_adds_channels():
    bp = Parallel((Conv2D(64, 1), Conv2D(128, 3), MaxPool2D(3, 1, padding="same")))
    r = builder.analyze(bp, input_shape=(28, 28, 192))
    assert r.output_shape == (28, 28, 64 + 128 + 192)


def test_activation_memory_counts_every_layer_output():
    r = builder.analyze(Sequence((Conv2D(4, 3), Conv2D(2, 3))), input_shape=(8, 8, 1))
    assert r.activation_memory == (8 * 8 * 4 + 8 * 8 * 2) * 4


def test_analysis_does_not_import_keras():
    import subprocess
    import sys

    code = ("import sys, builder; builder.analyze(builder.load('lenet5')); "
            "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
