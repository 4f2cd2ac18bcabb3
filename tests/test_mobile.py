"""Mobile blocks and networks: MobileNet v1/v2 and EfficientNetV2-S pinned to
keras.applications and the MobileNet paper, block structure and errors, and a weight
transfer from keras.applications that must give the same outputs."""

import importlib.util

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


# --- networks ---------------------------------------------------------------------------------

# keras.applications(weights=None), Keras 3.15.1: (options, total, trainable, without top).
KERAS = {
    "mobilenet": [({}, 4_253_864, 4_231_976, 3_228_864),
                  ({"alpha": 0.5, "input_shape": (160, 160, 3)}, 1_342_536, 1_331_592, 829_536)],
    "mobilenet_v2": [({}, 3_538_984, 3_504_872, 2_257_984),
                     ({"alpha": 0.35, "input_shape": (96, 96, 3)}, 1_691_208, 1_677_128,
                      410_208),
                     ({"alpha": 1.4}, 6_156_712, 6_108_776, 4_363_712)],
    "efficientnet_v2_s": [({}, 21_612_360, 21_458_488, 20_331_360)],
}
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


def _copy_in_order(source, target):
    """Copy weights layer by layer in order (used until builder.weights exists)."""
    def weighted(model):
        return [layer for layer in model.layers if layer.weights]

    pairs = list(zip(weighted(source), weighted(target), strict=True))
    for src, dst in pairs:
        assert type(src) is type(dst), (src.name, dst.name)
        dst.set_weights(src.get_weights())


@pytest.mark.parametrize("name, application", [
    ("efficientnet_b0", "EfficientNetB0"),
    ("mobilenet_v2", "MobileNetV2"),
])
def test_weights_from_keras_applications_give_the_same_outputs(name, application):
    import keras

    keras.backend.clear_session()
    shape = (64, 64, 3)
    reference = getattr(keras.applications, application)(
        weights=None, include_top=False, input_shape=shape)
    ours = builder.build(builder.load(name, input_shape=shape, include_top=False))
    assert ours.count_params() == reference.count_params()
    rng = np.random.default_rng(0)
    # Move batch-norm statistics away from 0/1 so that the copy is really checked.
    for layer in reference.layers:
        if layer.weights:
            layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype)
                               if w.ndim else w for w in layer.get_weights()])
    if importlib.util.find_spec("builder.weights") is None:
        _copy_in_order(reference, ours)
    else:
        builder.transfer_weights(reference, ours)
    x = rng.uniform(0, 255, (1,) + shape).astype("float32")
    expected = np.asarray(reference(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
