"""Residual networks: exact parameter counts against keras.applications and torchvision,
He et al.'s multiply-adds, WRN-28-10's 36.5M, block structure, bad input, and keras'
ResNet50 weights giving the same outputs in ours."""

import re

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import BasicBlock, Bottleneck, WideBlock


def analyze(name, **options):
    return builder.analyze(builder.load(name, **options))


def graph_nodes(name, **options):
    """path -> graph node (layer, inputs, shape)."""
    return {n.path: n for n in analyze(name, **options).graph.nodes}


# keras.applications (Keras 3.15.1), default input 224x224x3, 1000 classes:
# (total with top, trainable with top, total without top).
KERAS_APPLICATIONS = {
    "resnet50": (25_636_712, 25_583_592, 23_587_712),
    "resnet101": (44_707_176, 44_601_832, 42_658_176),
    "resnet152": (60_419_944, 60_268_520, 58_370_944),
    "resnet50_v2": (25_613_800, 25_568_360, 23_564_800),
    "resnet101_v2": (44_675_560, 44_577_896, 42_626_560),
    "resnet152_v2": (60_380_648, 60_236_904, 58_331_648),
}


@pytest.mark.parametrize("name", sorted(KERAS_APPLICATIONS))
def test_params_equal_keras_applications(name):
    total, trainable, without_top = KERAS_APPLICATIONS[name]
    report = analyze(name)
    assert (report.total_params, report.trainable_params) == (total, trainable)
    features = analyze(name, include_top=False)
    assert features.total_params == without_top
    assert features.output_shape == (7, 7, 2048)


# torchvision counts parameters without batch norm's moving statistics: our trainable ones.
TORCHVISION = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_trainable_params_equal_torchvision(name):
    assert analyze(name).trainable_params == TORCHVISION[name]


def test_wide_resnet28_10_has_the_papers_36_5_million():
    report = analyze("wide_resnet28_10")
    assert report.trainable_params == 36_479_194
    assert report.total_params == 36_497_146  # + 17,952 moving means and variances
    assert round(report.trainable_params / 1e6, 1) == 36.5  # Zagoruyko & Komodakis 2016
    assert report.output_shape == (10,)
    assert analyze("wide_resnet28_10", include_top=False).output_shape == (8, 8, 640)


# He et al. 2016, Table 1: FLOPs (multiply-adds) at 224x224, and ours (convolutions and the
# classifier; keras' biases add nothing to the multiply-adds). All are within 2%.
PAPER_MACS = {
    "resnet18": (1.8e9, 1_814_073_344),
    "resnet34": (3.6e9, 3_663_761_408),
    "resnet50": (3.8e9, 3_857_973_248),
    "resnet101": (7.6e9, 7_570_194_432),
    "resnet152": (11.3e9, 11_282_415_616),
}


@pytest.mark.parametrize("name", sorted(PAPER_MACS))
def test_macs_match_he_et_al_table_1(name):
    paper, ours = PAPER_MACS[name]
    macs = analyze(name).macs
    assert macs == ours
    assert abs(macs - paper) / paper < 0.10


@pytest.mark.parametrize("name, macs", [
    ("resnet50", 4_089_184_256),  # torchvision's ResNet-50 (v1.5): 4.09 GMACs
    ("resnet101", 7_801_405_440),
    ("resnet152", 11_513_626_624),
])
def test_v1_5_moves_the_stride_to_the_3x3(name, macs):
    v1, v15 = analyze(name), analyze(name, version="v1.5")
    assert v15.total_params == v1.total_params
    assert v15.macs == macs
    shapes = {n.path: n.output_shape for n in v15.nodes}
    assert shapes["stage2/block1/conv1/conv"] == (56, 56, 128)
    assert shapes["stage2/block1/conv2/conv"] == (28, 28, 128)
    shapes = {n.path: n.output_shape for n in v1.nodes}
    assert shapes["stage2/block1/conv1/conv"] == (28, 28, 128)


def test_other_torchvision_macs():
    assert analyze("resnext50_32x4d").macs == 4_230_479_872  # torchvision: 4.23 G
    assert analyze("wide_resnet50_2").macs == 11_398_021_120  # torchvision: 11.40 G
    assert analyze("wide_resnet28_10").macs == 5_243_328_768  # at 32x32


def test_resnet50_paths_follow_keras_layout():
    nodes = graph_nodes("resnet50")
    # keras conv2_block1_0_conv, conv3_block1_1_conv (stride 2 on the 1x1), conv5_block3_out
    assert nodes["stage1/block1/shortcut/conv"].shape == (56, 56, 256)
    assert nodes["stage2/block1/conv1/conv"].layer.strides == (2, 2)
    assert nodes["stage4/block3/out"].shape == (7, 7, 2048)
    assert "stage1/block2/shortcut/conv" not in nodes  # identity shortcut
    assert nodes["head/logits"].shape == (1000,)


def test_resnet50_v2_strides_in_the_last_block_with_a_pooled_shortcut():
    nodes = graph_nodes("resnet50_v2")
    # keras conv2_block3: MaxPooling2D(1, strides=2) on the block's input
    assert nodes["stage1/block3/shortcut"].kind == "MaxPool2D"
    assert nodes["stage1/block3/shortcut"].inputs == ("stage1/block2/add",)
    assert nodes["stage1/block3/add"].shape == (28, 28, 256)
    # the first block's projection starts from the pre-activation
    assert nodes["stage2/block1/residual/shortcut"].inputs == ("stage2/block1/preact/act",)
    assert nodes["stage4/block3/add"].shape == (7, 7, 2048)  # the last stage keeps 7x7
    assert nodes["post/act"].shape == (7, 7, 2048)
    assert nodes["stem/conv"].layer.use_bias and "stem/conv/bn" not in nodes


# --- blocks -------------------------------------------------------------------------------


def block(bp, shape):
    return builder.analyze(bp.replace(name="block"), input_shape=shape)


def paths(report):
    """Node paths inside the block."""
    return [n.path.removeprefix("block/") for n in report.nodes]


def test_basic_block_identity_and_projection():
    same = block(BasicBlock(64), (56, 56, 64))
    assert same.total_params == 2 * (9 * 64 * 64 + 4 * 64)
    assert not any("shortcut" in p for p in paths(same))
    down = block(BasicBlock(128, strides=2), (56, 56, 64))
    assert down.output_shape == (28, 28, 128)
    assert down.total_params == (9 * 64 * 128 + 9 * 128 * 128 + 64 * 128 + 3 * 4 * 128)


def test_bottleneck_groups_and_width():
    # ResNeXt 32x4d: 32 groups of 4 channels at filters 64, a grouped 3x3 over 128.
    bp = Bottleneck(64, groups=32, base_width=4, version="v1.5")
    assert bp.width == 128 and bp.output_channels == 256
    report = block(bp, (56, 56, 64))
    conv2 = report.nodes[paths(report).index("conv2/conv")]
    assert conv2.trainable_params == 3 * 3 * 4 * 128
    assert Bottleneck(64, widen_factor=2).width == 128  # Wide ResNet-50-2
    assert Bottleneck(512, groups=32, base_width=4).width == 1024


def test_wide_block_is_preactivation_with_dropout():
    report = block(WideBlock(16, widen_factor=10, dropout=0.3), (32, 32, 16))
    assert report.output_shape == (32, 32, 160)
    assert paths(report)[1:3] == ["preact/bn", "preact/act"]
    assert "residual/dropout" in paths(report)
    assert "residual/shortcut" in paths(report)  # 16 -> 160 channels: a 1x1 projection
    assert report.total_params == (2 * 16 * 2 + 9 * 16 * 160 + 4 * 160 + 9 * 160 * 160
                                   + 16 * 160)
    identity = block(WideBlock(16, widen_factor=10), (32, 32, 160))
    assert not any("shortcut" in p for p in paths(identity))


@pytest.mark.parametrize("make, words", [
    (lambda: Bottleneck(10, groups=32, base_width=4),
     ["Bottleneck.base_width 4", "10 * 4 / 64 = 0.625", "not a whole number"]),
    (lambda: Bottleneck(64, widen_factor=0), ["Bottleneck.widen_factor", ">= 1", "0"]),
    (lambda: Bottleneck(64, groups=0), ["Bottleneck.groups", ">= 1"]),
    (lambda: BasicBlock(64, widen_factor=0), ["BasicBlock.widen_factor", ">= 1"]),
    (lambda: WideBlock(16, widen_factor=0), ["WideBlock.widen_factor", ">= 1"]),
    (lambda: WideBlock(16, dropout=1.0), ["WideBlock.dropout", "< 1.0"]),
    (lambda: Bottleneck(64, version="v1_5"), ["Bottleneck.version", "did you mean 'v1.5'"]),
    (lambda: BasicBlock(64, bn_epsilon=0.0), ["BasicBlock.bn_epsilon", "> 0.0"]),
    (lambda: builder.load("resnet50", version="v2"), ["version", "'v1.5'", "'v2'"]),
    (lambda: builder.load("resnet101", version="v15"), ["did you mean 'v1.5'"]),
    (lambda: builder.load("resnet50_v2", version="v1"), ["no option 'version'"]),
])
def test_bad_input(make, words):
    with pytest.raises(BlueprintError) as e:
        make()
    for w in words:
        assert w in str(e.value)


# --- weights: keras.applications.ResNet50 into ours ------------------------------------------


def keras_to_ours(name):
    """keras.applications' ResNet50 layer name -> ours (the '/' of paths becomes '.')."""
    if name == "predictions":
        return "head.logits"
    if m := re.fullmatch(r"conv1_(conv|bn)", name):
        return f"stem.conv.{m[1]}"
    m = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", name)
    stage, unit = int(m[1]) - 1, "shortcut" if m[3] == "0" else f"conv{m[3]}"
    return f"stage{stage}.block{m[2]}.{unit}.{m[4]}"


@pytest.mark.slow
def test_keras_resnet50_weights_give_the_same_outputs():
    import keras

    keras.backend.clear_session()
    theirs = keras.applications.ResNet50(weights=None, classifier_activation=None)
    rng = np.random.default_rng(0)
    for layer in theirs.layers:  # moving statistics away from 0 and 1, to be compared too
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape),
                               rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape),
                               rng.uniform(0.5, 1.5, variance.shape)])
    bp = builder.load("resnet50")
    ours = builder.build(bp.replace(head=bp.head.replace(activation=None)))  # logits
    pairs = builder.transfer_weights(theirs, ours)
    assert len(pairs) == 107
    assert all(keras_to_ours(src) == dst for src, dst in pairs)
    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    expected = np.asarray(theirs(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert np.abs(expected).max() > 1e-2  # logits, not all zero
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
