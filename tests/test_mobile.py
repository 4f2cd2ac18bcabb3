"""Mobile blocks and networks: MobileNet v1/v2/v3 and EfficientNetV2 pinned to
keras.applications and the MobileNet papers, block structure and errors, and weight
transfers from keras.applications that must give the same outputs."""

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import (DepthwiseSeparable, DropPathSchedule, FusedMBConv,
                            InvertedResidual, MBConv, SqueezeExcite, StridedRepeat)


def analyze(bp, shape=(8, 8, 32)):
    return builder.analyze(bp, input_shape=shape)


def kinds(report):
    return [n.kind for n in report.nodes]


def layer_nodes(name, **options):
    """The graph nodes of a registered network after its input."""
    graph = builder.analyze(builder.load(name, **options)).graph
    return [n for n in graph.nodes if n.kind != "Input"]


# --- networks ---------------------------------------------------------------------------------

# keras.applications(weights=None), Keras 3.15.1: (options, total, trainable, without top).
KERAS = {
    "mobilenet": [({}, 4_253_864, 4_231_976, 3_228_864),
                  ({"alpha": 0.5, "input_shape": (160, 160, 3)}, 1_342_536, 1_331_592, 829_536)],
    "mobilenet_v2": [({}, 3_538_984, 3_504_872, 2_257_984),
                     ({"alpha": 0.35, "input_shape": (96, 96, 3)}, 1_691_208, 1_677_128,
                      410_208),
                     ({"alpha": 1.4}, 6_156_712, 6_108_776, 4_363_712)],
    "mobilenet_v3_small": [({}, 2_554_968, 2_542_856, 939_120),
                           ({"alpha": 0.75}, 2_051_552, 2_041_872, 583_160)],
    "mobilenet_v3_large": [({}, 5_507_432, 5_483_032, 2_996_352),
                           ({"alpha": 0.75}, 4_012_616, 3_993_528, 1_808_736),
                           ({"alpha": 1.25}, 8_286_760, 8_255_784, 4_764_160)],
    # keras.applications' minimalistic=True
    "mobilenet_v3_small_minimalistic": [({}, 2_056_848, 2_044_736, 441_000)],
    "mobilenet_v3_large_minimalistic": [({}, 3_948_688, 3_924_288, 1_437_608)],
    "efficientnet_v2_b0": [({}, 7_200_312, 7_139_704, 5_919_312)],
    "efficientnet_v2_b1": [({}, 8_212_124, 8_141_052, 6_931_124)],
    "efficientnet_v2_b2": [({}, 10_178_374, 10_096_086, 8_769_374)],
    "efficientnet_v2_b3": [({}, 14_467_622, 14_358_406, 12_930_622)],
    "efficientnet_v2_s": [({}, 21_612_360, 21_458_488, 20_331_360)],
    "efficientnet_v2_m": [({}, 54_431_388, 54_139_356, 53_150_388)],
    "efficientnet_v2_l": [({}, 119_027_848, 118_515_272, 117_746_848)],
}
# keras.applications' default input sizes.
DEFAULT_SIZES = {"mobilenet_v3_small": 224, "mobilenet_v3_large": 224,
                 "efficientnet_v2_b0": 224, "efficientnet_v2_b1": 240,
                 "efficientnet_v2_b2": 260, "efficientnet_v2_b3": 300,
                 "efficientnet_v2_s": 384, "efficientnet_v2_m": 480, "efficientnet_v2_l": 480}
CASES = [(name, *case) for name, cases in KERAS.items() for case in cases]


@pytest.mark.parametrize("name, options, total, trainable, without_top", CASES)
def test_counts_equal_keras_applications(name, options, total, trainable, without_top):
    report = builder.analyze(builder.load(name, **options))
    assert report.total_params == total
    assert report.trainable_params == trainable
    assert builder.analyze(builder.load(name, include_top=False, **options)).total_params \
        == without_top


def test_mobilenet_v1_against_the_paper():
    # Howard et al. 2017, Table 8: 1.0 MobileNet-224, 569 million multiply-adds, 4.2
    # million parameters (the paper counts the trained weights).
    report = builder.analyze(builder.load("mobilenet"))
    assert report.macs == 568_740_352
    assert round(report.macs / 1e6) == 569
    assert round(report.trainable_params / 1e6, 1) == 4.2
    assert report.output_shape == (1000,)


def test_mobilenet_resolution_option():
    bp = builder.load("mobilenet", alpha=0.75, resolution=128)
    assert bp.input_shape == (128, 128, 3)
    # alpha 0.75: widths 24, 48, ... 768.
    assert bp.body.layers[0].filters == 24
    assert bp.body.layers[-1].block.filters == 768
    with pytest.raises(BlueprintError, match="total stride"):
        builder.load("mobilenet", resolution=16)


@pytest.mark.parametrize("name, size", DEFAULT_SIZES.items())
def test_default_input_sizes(name, size):
    assert builder.load(name).input_shape == (size, size, 3)


def test_mobilenet_v3_large_against_keras_table():
    # keras.applications' MobileNetV3 docstring (from TF-slim): 217M, 155M and 209M
    # multiply-adds for Large 1.0, Large 0.75 and Large minimalistic.
    for name, options, millions in (("mobilenet_v3_large", {}, 217),
                                    ("mobilenet_v3_large", {"alpha": 0.75}, 155),
                                    ("mobilenet_v3_large_minimalistic", {}, 209)):
        assert round(builder.analyze(builder.load(name, **options)).macs / 1e6) == millions


def test_mobilenet_v3_structure():
    nodes = layer_nodes("mobilenet_v3_small")
    assert {n.layer.function for n in nodes if n.kind == "Activation"} \
        == {"relu", "hard_swish", "softmax"}
    # The squeeze-and-excite convs: ReLU, then the hard-sigmoid gate.
    assert {n.layer.activation for n in nodes if n.kind == "Conv2D" and n.layer.use_bias} \
        == {"relu", "hard_sigmoid"}
    assert nodes[0].kind == "Rescaling" and nodes[0].layer.scale == pytest.approx(1 / 127.5)
    # The first block: no expand conv, SE from 16 channels to 8 with a hard-sigmoid gate.
    shapes = {n.path: n.shape for n in nodes}
    assert "blocks/block1/expand/conv" not in shapes
    assert shapes["blocks/block1/se/gate/reduce"] == (1, 1, 8)
    # The expanded widths of Table 2 of the paper.
    widths = [shapes[f"blocks/block{i}/depthwise/conv"][-1] for i in range(1, 12)]
    assert widths == [16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576]
    assert shapes["top/conv"] == (7, 7, 576) and shapes["head/fc1"] == (1024,)
    minimal = layer_nodes("mobilenet_v3_large_minimalistic")
    assert {n.layer.function for n in minimal if n.kind == "Activation"} == {"relu", "softmax"}
    assert "Multiply" not in [n.kind for n in minimal]
    assert {n.layer.kernel_size for n in minimal if n.kind == "DepthwiseConv2D"} == {(3, 3)}
    assert layer_nodes("mobilenet_v3_small", include_preprocessing=False)[0].kind == "Conv2D"


def test_efficientnet_v2_preprocessing():
    # The B variants normalize with ImageNet's mean and variance (constants, no weights)
    # for three channels, and rescale to [-1, 1] otherwise, as S, M and L always do.
    first = layer_nodes("efficientnet_v2_b0")[:2]
    assert [n.kind for n in first] == ["Rescaling", "Normalization"]
    assert first[1].layer.mean == (0.485, 0.456, 0.406)
    gray = layer_nodes("efficientnet_v2_b0", input_shape=(64, 64, 1))[:2]
    assert [n.kind for n in gray] == ["Rescaling", "Conv2D"] and gray[0].layer.offset == -1.0
    assert [n.kind for n in layer_nodes("efficientnet_v2_m")[:2]] == ["Rescaling", "Conv2D"]
    assert layer_nodes("efficientnet_v2_b0", include_preprocessing=False)[0].kind == "Conv2D"


def test_efficientnet_v2_b3_rounds_without_the_ten_percent_rule():
    paths = {n.path: n.shape for n in layer_nodes("efficientnet_v2_b3")}
    # keras.applications' V2 rounds 16 * 1.2 = 19.2 down to 16 (V1's rule would give 24).
    assert paths["blocks/stage1/block1/project/conv"][-1] == 16
    # Depth 1.4 gives stages of 2, 3, 3, 5, 7 and 12 blocks.
    repeats = [len({p.split("/")[2] for p in paths if p.startswith(f"blocks/stage{i}/")})
               for i in range(1, 7)]
    assert repeats == [2, 3, 3, 5, 7, 12]


def test_efficientnet_v2_s_input():
    bp = builder.load("efficientnet_v2_s")
    assert bp.input_shape == (384, 384, 3)
    report = builder.analyze(bp)
    assert report.non_trainable_params == 153_872
    assert report.output_shape == (1000,)


# --- blocks -----------------------------------------------------------------------------------


def test_squeeze_excite():
    report = analyze(SqueezeExcite(ratio=0.25))
    # reduce 32 -> 8 (256 + 8), expand 8 -> 32 (256 + 32).
    assert report.total_params == 552
    assert report.output_shape == (8, 8, 32)
    assert kinds(report)[-1] == "Multiply"
    assert analyze(SqueezeExcite(reduced_filters=4)).total_params == 32 * 4 + 4 + 4 * 32 + 32
    with pytest.raises(BlueprintError, match="ratio"):
        SqueezeExcite(ratio=0.0)


def test_mbconv_without_and_with_shortcut():
    # EfficientNet's first block: no expansion, SE from 32 input channels, 32 -> 16.
    first = analyze(MBConv(16, expand_ratio=1, se_ratio=0.25))
    assert first.total_params == 288 + 128 + 552 + 512 + 64
    assert "Add" not in kinds(first) and "Conv2D" in kinds(first)
    same = analyze(MBConv(32, expand_ratio=6, se_ratio=0.25, drop_rate=0.1))
    assert same.total_params == (6144 + 768) + (1728 + 768) + (1544 + 1728) + (6144 + 128)
    assert kinds(same)[-2:] == ["Dropout", "Add"]
    strided = analyze(MBConv(32, strides=2))
    assert "Add" not in kinds(strided) and strided.output_shape == (4, 4, 32)
    assert "Add" not in kinds(analyze(MBConv(32, residual=False)))


def test_inverted_residual_is_relu6_without_se():
    report = analyze(InvertedResidual(32))
    assert [n.layer.function for n in report.graph.nodes if n.kind == "Activation"] == ["relu6"] * 2
    assert "Multiply" not in kinds(report) and "Add" in kinds(report)


def test_depthwise_separable():
    report = analyze(DepthwiseSeparable(64, strides=2))
    assert report.total_params == 288 + 128 + 2048 + 256
    assert report.output_shape == (4, 4, 64)
    assert report.macs == 4 * 4 * (9 * 32 + 32 * 64)


def test_fused_mbconv():
    plain = analyze(FusedMBConv(32, expand_ratio=1))
    assert plain.total_params == 9216 + 128
    assert kinds(plain)[-2:] == ["Activation", "Add"]  # the projection keeps its activation
    expanded = analyze(FusedMBConv(48, strides=2, expand_ratio=4), shape=(8, 8, 24))
    assert expanded.total_params == (20736 + 384) + (4608 + 192)
    assert expanded.output_shape == (4, 4, 48)
    assert "Add" not in kinds(expanded)


def test_mbconv_with_explicit_widths():
    # MobileNetV3's block: 16 -> 72 expanded (not a whole ratio), SE 72 -> 24 -> 72.
    se = SqueezeExcite(reduced_filters=24, activation="relu", gate_activation="hard_sigmoid")
    report = analyze(MBConv(24, 5, strides=2, activation="hard_swish", expanded_filters=72,
                            squeeze_excite=se), shape=(8, 8, 16))
    # expand conv + BN (4 per channel), depthwise + BN, SE reduce and expand, project + BN
    assert report.total_params == ((16 * 72 + 288) + (25 * 72 + 288) + (72 * 24 + 24)
                                   + (24 * 72 + 72) + (72 * 24 + 96))
    gate = [n for n in report.graph.nodes if "se/gate/" in n.path]
    assert [n.layer.activation for n in gate if n.kind == "Conv2D"] == ["relu", "hard_sigmoid"]
    # The expanded width equal to the input's: no expand conv.
    same = analyze(MBConv(16, expanded_filters=16), shape=(8, 8, 16))
    assert not any("expand/" in n.path for n in same.graph.nodes)
    assert "Add" in kinds(same)
    with pytest.raises(BlueprintError, match="se_ratio or squeeze_excite"):
        MBConv(16, se_ratio=0.25, squeeze_excite=se)


def test_hard_activations_are_mobilenet_v3s():
    # keras.applications' MobileNetV3 gates with ReLU6(x + 3) / 6 and uses hard-swish
    # x * ReLU6(x + 3) / 6; our activation names must compile to exactly these.
    x = np.linspace(-8, 8, 161).astype("float32")[None, :]
    gate = np.minimum(np.maximum(x + 3, 0), 6) / 6
    for function, expected in (("hard_sigmoid", gate), ("hard_swish", x * gate)):
        model = builder.build(builder.Network((161,), builder.Activation(function)))
        np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)


def test_strided_repeat_and_drop_path_schedule():
    stage = StridedRepeat(MBConv(32, strides=2), 3)
    report = analyze(DropPathSchedule((stage, stage.replace(repeats=1)), drop_rate=0.2),
                     shape=(16, 16, 32))
    assert report.output_shape == (4, 4, 32)
    rates = [n.layer.rate for n in report.graph.nodes if n.kind == "Dropout"]
    # Blocks 0..3 of 4: block 0 strides (no shortcut); blocks 1 and 2 drop 0.05, 0.1;
    # the next stage's only block strides too.
    assert rates == pytest.approx([0.05, 0.1])


def test_block_errors():
    with pytest.raises(BlueprintError, match="drop rate would be"):
        StridedRepeat(MBConv(32), 5, drop_rate_step=0.3)
    with pytest.raises(BlueprintError, match="se_ratio"):
        MBConv(32, se_ratio=1.5)
    with pytest.raises(BlueprintError, match="filters"):
        MBConv(0)
    with pytest.raises(BlueprintError, match="stages is empty"):
        DropPathSchedule(())


# --- weights from keras.applications ---------------------------------------------------------


def _randomize(model, rng):
    # Move every weight, batch-norm statistics included, away from its initial value so
    # that a wrong copy cannot go unnoticed.
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                               if w.ndim else w for w in layer.get_weights()])


def _same_outputs(name, options, application, keras_options, include_top, shape=(64, 64, 3),
                  classes=10):
    """Build keras.applications' model and ours, randomize keras' weights, transfer them
    and compare the outputs (with the top: the logits, before a softmax that saturates)."""
    import keras

    keras.backend.clear_session()
    common = dict(input_shape=shape, include_top=include_top)
    if include_top:
        common.update(classes=classes)
    reference = getattr(keras.applications, application)(
        weights=None, classifier_activation=None, **common, **keras_options)
    bp = builder.load(name, **common, **options)
    if include_top:
        bp = bp.replace(head=bp.head.replace(activation=None))
    ours = builder.build(bp)
    assert ours.count_params() == reference.count_params()
    rng = np.random.default_rng(0)
    _randomize(reference, rng)
    builder.transfer_weights(reference, ours)
    x = rng.uniform(0, 255, (2,) + shape).astype("float32")
    expected = np.asarray(reference(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


# (ours, our options, keras.applications', its options, include_top)
TRANSFERS = [
    ("efficientnet_b0", {}, "EfficientNetB0", {}, False),
    ("mobilenet_v2", {}, "MobileNetV2", {}, False),
    ("mobilenet_v3_small", {}, "MobileNetV3Small", {}, True),
    ("mobilenet_v3_large", {}, "MobileNetV3Large", {}, True),
    ("mobilenet_v3_small_minimalistic", {}, "MobileNetV3Small", {"minimalistic": True}, True),
    ("mobilenet_v3_large_minimalistic", {}, "MobileNetV3Large", {"minimalistic": True}, False),
    ("efficientnet_v2_b0", {}, "EfficientNetV2B0", {}, True),
    ("efficientnet_v2_b3", {}, "EfficientNetV2B3", {}, False),  # width and depth scaled
]


@pytest.mark.parametrize("name, options, application, keras_options, include_top", TRANSFERS,
                         ids=[c[0] + ("-top" if c[4] else "") for c in TRANSFERS])
@pytest.mark.slow
def test_weights_from_keras_applications_give_the_same_outputs(
        name, options, application, keras_options, include_top):
    _same_outputs(name, options, application, keras_options, include_top)


# keras.applications' large EfficientNetV2s side by side with ours (M 54M, L 119M).
@pytest.mark.slow
@pytest.mark.parametrize("name, application", [
    ("efficientnet_v2_m", "EfficientNetV2M"),
    ("efficientnet_v2_l", "EfficientNetV2L"),
])
def test_large_efficientnet_v2_side_by_side(name, application):
    total = KERAS[name][0][1]
    assert builder.analyze(builder.load(name)).total_params == total
    # The count does not depend on the input size: compare at a small one.
    _same_outputs(name, {}, application, {}, include_top=True, classes=1000)


def _columns(name, depth):
    report = builder.analyze(builder.load(name))
    return [row.blueprint.summary_columns() for row in report.blocks(depth)
            if callable(getattr(row.blueprint, "summary_columns", None))]


def test_summary_of_efficientnet_b0_is_the_papers_table_1():
    rows = _columns("efficientnet_b0", 2)
    assert [(r["operator"], r["layers"]) for r in rows] == [
        ("MBConv1, 3x3", 1), ("MBConv6, 3x3", 2), ("MBConv6, 5x5", 2), ("MBConv6, 3x3", 3),
        ("MBConv6, 5x5", 3), ("MBConv6, 5x5", 4), ("MBConv6, 3x3", 1)]


def test_summary_of_mobilenet_v3_large_is_the_papers_table_1():
    rows = _columns("mobilenet_v3_large", 2)
    assert [r["exp"] for r in rows] == [16, 64, 72, 72, 120, 120, 240, 200, 184, 184, 480, 672,
                                        672, 960, 960]
    assert "".join("y" if r["SE"] == "yes" else "n" for r in rows) == "nnnyyynnnnyyyyy"
    assert [r["s"] for r in rows] == [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1]
    assert {r["NL"] for r in rows[:6]} == {"relu"} and {r["NL"] for r in rows[6:]} == {"hard_swish"}
