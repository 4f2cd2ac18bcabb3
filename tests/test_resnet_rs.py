"""ResNet-RS: parameter counts equal keras.applications' to the unit, the ResNet-D stem
and shortcuts, squeeze-and-excitation and keras' stochastic depth per stage, the
bottleneck's new options checked, and keras' weights giving the same outputs."""

import re

import pytest

import builder
from builder import BlueprintError
from builder.blocks import Bottleneck

from tf_keras_reference import applications, assert_same_outputs

# keras.applications (tf.keras 2.21) ResNetRS<depth>(weights=None), keras' default input
# 224x224x3, 1000 classes: (total with top, trainable with top, total without top).
KERAS_PARAMS = {
    "resnet_rs_50": (35_745_288, 35_691_912, 33_696_288),
    "resnet_rs_101": (63_724_296, 63_618_696, 61_675_296),
    "resnet_rs_152": (86_773_256, 86_621_576, 84_724_256),
    "resnet_rs_200": (93_386_248, 93_209_992, 91_337_248),
    "resnet_rs_270": (130_104_520, 129_861_448, 128_055_520),
    "resnet_rs_350": (164_268_360, 163_956_168, 162_219_360),
    "resnet_rs_420": (192_262_216, 191_891_656, 190_213_216),
}


@pytest.mark.parametrize("name", sorted(KERAS_PARAMS))
def test_params_equal_keras_applications(name):
    total, trainable, without_top = KERAS_PARAMS[name]
    report = builder.analyze(builder.load(name))
    assert (report.total_params, report.trainable_params) == (total, trainable)
    assert report.input_shape == (224, 224, 3) and report.output_shape == (1000,)
    features = builder.analyze(builder.load(name, include_top=False))
    assert features.total_params == without_top
    assert features.output_shape == (7, 7, 2048)


def nodes(name, **options):
    return {n.path: n for n in builder.analyze(builder.load(name, **options)).graph.nodes}


def test_resnet_d_stem_and_shortcuts():
    n = nodes("resnet_rs_50", input_shape=(160, 160, 3))
    assert n["normalization"].layer.mean == (0.485, 0.456, 0.406)
    # four 3x3 convolutions, the first and the last strided (in place of the max pool)
    assert [n[f"stem/conv{i}/conv"].shape for i in (1, 2, 3, 4)] == [
        (80, 80, 32), (80, 80, 32), (80, 80, 64), (40, 40, 64)]
    assert n["stem/conv4/conv"].layer.padding == 1 and "stem/pool" not in n
    # stage 1 projects at stride 1 with a 1x1; later stages average 2x2, then project
    assert n["stage1/block1/shortcut/conv"].layer.strides == (1, 1)
    assert n["stage2/block1/shortcut/pool"].kind == "AvgPool2D"
    assert n["stage2/block1/shortcut/conv/conv"].layer.strides == (1, 1)
    assert n["stage2/block1/shortcut/conv/conv"].shape == (20, 20, 512)
    # v1.5: the stride on the 3x3; squeeze-and-excitation to a quarter of the output
    assert n["stage2/block1/conv2/conv"].layer.strides == (2, 2)
    assert n["stage2/block1/se/gate/reduce"].shape == (1, 1, 128)
    assert n["stage4/block3/out"].shape == (5, 5, 2048)
    assert all(node.layer.momentum == 0.0 for node in n.values() if node.kind == "BatchNorm")


@pytest.mark.parametrize("name, rates, dropout", [
    ("resnet_rs_50", None, 0.25),
    ("resnet_rs_200", (0.04, 0.06, 0.08, 0.1), 0.25),
    ("resnet_rs_420", (0.04, 0.06, 0.08, 0.1), 0.4),
])
def test_stochastic_depth_per_stage_as_keras(name, rates, dropout):
    n = nodes(name)
    drops = {p: node.layer.rate for p, node in n.items() if p.endswith("/drop")}
    if rates is None:
        assert not drops
    else:
        for stage, rate in enumerate(rates, start=1):
            stage_rates = [r for p, r in drops.items() if p.startswith(f"stage{stage}/")]
            assert stage_rates and stage_rates == pytest.approx([rate] * len(stage_rates))
            assert all(n[p].layer.per_sample for p in drops)
    assert n["head/dropout"].layer.rate == dropout


@pytest.mark.parametrize("make, words", [
    (lambda: Bottleneck(64, version="v2", se_ratio=0.25), ["'v1' and 'v1.5', not 'v2'"]),
    (lambda: Bottleneck(64, version="v2", downsample="avg"), ["not 'v2'"]),
    (lambda: Bottleneck(64, downsample="pool"), ["Bottleneck.downsample", "'avg'"]),
    (lambda: Bottleneck(64, drop_rate=1.0), ["Bottleneck.drop_rate", "< 1.0"]),
])
def test_bottleneck_options_are_checked(make, words):
    with pytest.raises(BlueprintError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_plain_bottleneck_is_unchanged_by_the_options():
    plain = builder.analyze(Bottleneck(64, 2, version="v1.5").replace(name="b"),
                            input_shape=(56, 56, 256))
    avg = builder.analyze(Bottleneck(64, 2, version="v1.5", downsample="avg").replace(name="b"),
                          input_shape=(56, 56, 256))
    assert avg.total_params == plain.total_params  # the pool has no weights
    assert [n.path for n in plain.nodes if "shortcut" in n.path] == [
        "b/shortcut/conv", "b/shortcut/bn"]


# --- keras.applications side by side --------------------------------------------------------


def keras_to_ours(name):
    """keras' ResNet-RS layer name -> ours (the '/' of paths becomes '.')."""
    if name == "predictions":
        return "head.logits"
    if m := re.fullmatch(r"stem_\d+_stem_(conv|batch_norm)_(\d)", name):
        return f"stem.conv{m[2]}.{'conv' if m[1] == 'conv' else 'bn'}"
    m = re.fullmatch(r"BlockGroup(\d)__block_(\d+)__?(\w+)", name)
    stage, block, unit = int(m[1]) - 1, int(m[2]) + 1, m[3]
    units = {"conv_1": "conv1.conv", "batch_norm_1": "conv1.bn", "conv_2": "conv2.conv",
             "batch_norm_2": "conv2.bn", "conv_3": "conv3.conv", "batch_norm_3": "conv3.bn",
             "se_se_reduce": "se.gate.reduce", "se_se_expand": "se.gate.expand",
             "projection_batch_norm": "shortcut.bn", "projection_conv": "shortcut.conv"}
    unit = units[unit]
    if unit.startswith("shortcut") and stage > 1:  # behind ResNet-D's average pool
        unit = unit.replace("shortcut.", "shortcut.conv.")
    return f"stage{stage}.block{block}.{unit}"


@pytest.mark.slow
def test_keras_resnet_rs50_weights_give_the_same_outputs():
    import keras

    keras.backend.clear_session()
    # at 160x160, the resolution keras' ResNet-RS-50 ImageNet weights were trained at
    theirs = applications().ResNetRS50(weights=None, input_shape=(160, 160, 3),
                                       classifier_activation=None)
    pairs = assert_same_outputs(theirs, builder.load("resnet_rs_50", input_shape=(160, 160, 3)),
                                160)
    assert len(pairs) == 145
    assert all(keras_to_ours(src) == dst for src, dst in pairs)


@pytest.mark.slow
@pytest.mark.parametrize("keras_name, name", [
    ("ResNetRS200", "resnet_rs_200"), ("ResNetRS420", "resnet_rs_420"),
])
def test_large_models_equal_keras_side_by_side(keras_name, name):
    for include_top in (True, False):
        theirs = getattr(applications(), keras_name)(weights=None, include_top=include_top,
                                                     input_shape=(224, 224, 3))
        ours = builder.analyze(builder.load(name, include_top=include_top))
        assert ours.total_params == theirs.count_params()
        assert ours.output_shape == tuple(theirs.output_shape[1:])
        del theirs


def test_a_network_deeper_than_pythons_recursion_limit_builds():
    # Keras maps a functional graph recursively: ResNet-RS-270 has 1,369 layers in a row.
    import sys

    from builder import Activation, Network, Sequence

    depth = sys.getrecursionlimit() + 200
    layers = tuple(Activation("relu", name=f"act{i}") for i in range(depth))
    model = builder.build(Network((4,), Sequence(layers)))
    assert len(model.layers) == depth + 1
