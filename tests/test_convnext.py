"""ConvNeXt: the five variants pinned to keras.applications (with and without the top),
keras' weights transferred by structure giving the same outputs, the block's structure,
stochastic depth, scaling, markers inside the blocks, and training on the digits."""

import json

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import ConvNeXtBlock, ConvNeXtDownsample, ConvNeXtHead, ConvNeXtStage
from builder.dsl import Choice, Int, Network, Sequence, concrete
from builder.scaling import scale
from conftest import run_cli


# keras.applications.ConvNeXt*(weights=None), Keras 3.15.1: (total = trainable, without
# top). keras' preprocessing Normalization gets its mean and variance as constants, so it
# holds no weights: nothing is non-trainable.
KERAS = {
    "convnext_tiny": ("ConvNeXtTiny", 28_589_128, 27_820_128),
    "convnext_small": ("ConvNeXtSmall", 50_223_688, 49_454_688),
    "convnext_base": ("ConvNeXtBase", 88_591_464, 87_566_464),
    "convnext_large": ("ConvNeXtLarge", 197_767_336, 196_230_336),
    "convnext_xlarge": ("ConvNeXtXLarge", 350_196_968, 348_147_968),
}


@pytest.mark.parametrize("name", KERAS)
def test_counts_equal_keras_applications(name):
    _, total, without_top = KERAS[name]
    report = builder.analyze(builder.load(name))
    assert report.total_params == report.trainable_params == total
    assert report.non_trainable_params == 0
    assert report.output_shape == (1000,)
    bare = builder.analyze(builder.load(name, include_top=False))
    assert bare.total_params == without_top
    assert bare.output_shape[:2] == (7, 7)  # keras: a LayerNorm over the last feature map
    assert bare.nodes[-1].kind == "LayerNorm"


def _keras_counts(application):
    import keras

    counts = []
    for include_top in (True, False):
        keras.backend.clear_session()
        model = getattr(keras.applications, application)(weights=None, include_top=include_top)
        counts.append(model.count_params())
        del model
    return tuple(counts)


@pytest.mark.parametrize("name", [
    "convnext_tiny", "convnext_small", "convnext_base",
    pytest.param("convnext_large", marks=pytest.mark.slow),
    pytest.param("convnext_xlarge", marks=pytest.mark.slow),
])
@pytest.mark.slow
def test_pinned_counts_are_what_keras_applications_builds(name):
    application, total, without_top = KERAS[name]
    assert _keras_counts(application) == (total, without_top)


def test_macs_match_the_paper():
    # Liu et al. 2022, Table 1/Table 9: 4.5, 8.7, 15.4, 34.4, 60.9 GFLOPs at 224^2 (their
    # "FLOPs" are multiply-adds).
    published = {"tiny": 4.5, "small": 8.7, "base": 15.4, "large": 34.4, "xlarge": 60.9}
    for key, gmacs in published.items():
        assert round(builder.analyze(builder.load(f"convnext_{key}")).macs / 1e9, 1) == gmacs


def _randomize(model, rng):
    # Random weights everywhere (layer scales far from their 1e-6), so that a block
    # paired with the wrong weights would show in the outputs.
    for w in model.weights:
        shift = 1.0 if w.path.endswith("layernorm/gamma") else 0.0
        w.assign(rng.normal(shift, 0.05, w.shape).astype("float32"))


def _logits(model):
    import keras

    return keras.Model(model.input, model.get_layer("head.logits").output)


@pytest.mark.slow
def test_keras_weights_give_the_same_outputs():
    import keras

    keras.backend.clear_session()
    src = keras.applications.ConvNeXtTiny(weights=None, classifier_activation=None)
    rng = np.random.default_rng(0)
    _randomize(src, rng)
    ours = builder.build(builder.load("convnext_tiny"))
    x = rng.random((2, 224, 224, 3)).astype("float32") * 255
    expected = np.asarray(src(x))
    assert np.abs(np.asarray(_logits(ours)(x)) - expected).max() > 1e-2  # before: unrelated
    pairs = builder.transfer_weights(src, ours)
    assert len(pairs) == 100
    # keras' grouped Conv2D and Dense layers pair with our DepthwiseConv2D and 1x1 Conv2D
    first = "convnext_tiny_stage_0_block_0_"
    assert pairs[2:5] == [(first + "depthwise_conv", "stage1.block1.depthwise"),
                          (first + "layernorm", "stage1.block1.norm"),
                          (first + "pointwise_conv_1", "stage1.block1.expand")]
    assert np.abs(np.asarray(_logits(ours)(x)) - expected).max() < 1e-4


def test_stochastic_depth_as_keras():
    """keras' generic ConvNeXt with drop_path_rate (keras.applications' variants do not
    expose it) against ours at a small size: the same linear schedule of rates, and at
    inference both are the identity."""
    import keras
    from keras.src.applications.convnext import ConvNeXt

    from blueprints.convnext import convnext, stages

    keras.backend.clear_session()
    depths, widths = (1, 2, 2, 1), (8, 16, 24, 32)
    src = ConvNeXt(depths=list(depths), projection_dims=list(widths), drop_path_rate=0.3,
                   input_shape=(32, 32, 3), classes=5, classifier_activation=None,
                   name="small", weights=None)
    bp = convnext("small", stages(depths, widths), (32, 32, 3), 5, True, 0.0, drop_path=0.3)
    theirs = [layer.drop_path_rate for layer in src.layers
              if type(layer).__name__ == "StochasticDepth"]
    mine = [node.layer.rate for node in builder.lower(bp).nodes
            if node.kind == "Dropout" and node.layer.per_sample]
    # keras leaves out the first block's rate of 0.0 (np.linspace(0, 0.3, 6))
    np.testing.assert_allclose([0.0] + mine, [0.0] + theirs, rtol=1e-9)
    np.testing.assert_allclose([0.0] + mine, np.linspace(0, 0.3, 6), rtol=1e-9)
    ours = builder.build(bp)
    rng = np.random.default_rng(1)
    _randomize(src, rng)
    builder.transfer_weights(src, ours)
    x = rng.random((2, 32, 32, 3)).astype("float32") * 255
    np.testing.assert_allclose(_logits(ours)(x, training=False), src(x, training=False),
                               atol=1e-4)


def test_summary_shows_stage_depths_and_widths():
    rows = builder.analyze(builder.load("convnext_tiny")).blocks(1)
    stages = [row.blueprint.summary_columns() for row in rows if row.kind == "ConvNeXtStage"]
    assert stages == [{"depth": 3, "width": 96}, {"depth": 3, "width": 192},
                      {"depth": 9, "width": 384}, {"depth": 3, "width": 768}]
    out = run_cli("summary", "convnext_base", "--depth", "1")
    assert out.returncode == 0, out.stderr
    assert "depth" in out.stdout and "width" in out.stdout
    assert "27" in out.stdout and "1024" in out.stdout


# --- blocks -------------------------------------------------------------------------------------


def test_block_structure_and_counts():
    report = builder.analyze(ConvNeXtBlock(name="b"), input_shape=(8, 8, 32))
    assert [n.kind for n in report.nodes[1:]] == [
        "DepthwiseConv2D", "LayerNorm", "Conv2D", "Activation", "Conv2D", "LayerScale", "Add"]
    assert report.total_params == (49 + 1) * 32 + 2 * 32 + (32 + 1) * 128 + (128 + 1) * 32 + 32
    assert report.macs == 64 * (49 * 32 + 2 * 32 * 128)
    assert report.output_shape == (8, 8, 32)
    plain = builder.analyze(ConvNeXtBlock(layer_scale=None, expansion=2), input_shape=(8, 8, 32))
    assert "LayerScale" not in [n.kind for n in plain.nodes]


def test_downsampling_and_stem():
    stem = builder.analyze(ConvNeXtDownsample(16, 4, norm="after"), input_shape=(32, 32, 3))
    assert [n.kind for n in stem.nodes[1:]] == ["Conv2D", "LayerNorm"]
    assert stem.output_shape == (8, 8, 16)
    down = builder.analyze(ConvNeXtDownsample(32), input_shape=(8, 8, 16))
    assert [n.kind for n in down.nodes[1:]] == ["LayerNorm", "Conv2D"]
    assert down.output_shape == (4, 4, 32)
    assert down.total_params == 2 * 16 + (4 * 16 + 1) * 32


def test_stage_drop_rates_and_channel_check():
    stage = ConvNeXtStage(16, 3, drop_rates=(0.1, 0.3))
    rates = [n.layer.rate for n in builder.lower(stage, input_shape=(8, 8, 8)).nodes
             if n.kind == "Dropout"]
    assert rates == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(BlueprintError, match="set filters=8 or downsample=True") as e:
        builder.analyze(Network((8, 8, 8), Sequence((ConvNeXtStage(16, 1, downsample=False,
                                                                   name="stage1"),))))
    assert e.value.path == "stage1"


def test_head():
    report = builder.analyze(ConvNeXtHead(10, dropout=0.2), input_shape=(4, 4, 32))
    assert [n.kind for n in report.nodes[1:]] == [
        "GlobalPool", "LayerNorm", "Dropout", "Dense", "Activation"]
    assert report.total_params == 64 + 33 * 10


# --- scaling and markers --------------------------------------------------------------------


def test_scale_width_and_depth():
    bp = scale(builder.load("convnext_tiny"), width=0.5, depth=0.5)
    stages = [s for s in bp.body.layers if isinstance(s, ConvNeXtStage)]
    assert [(s.depth, s.filters) for s in stages] == [(2, 48), (2, 96), (5, 192), (2, 384)]
    assert bp.body.layers[1].filters == 48  # the stem follows
    report = builder.analyze(bp)
    assert report.output_shape == (1000,)
    small = scale(builder.load("convnext_tiny", input_shape=(32, 32, 3)), width=0.25, depth=0.34)
    model = builder.build(small)
    assert model.count_params() == builder.analyze(small).total_params


def test_markers_inside_the_blocks():
    from tuning.space import FixedValues, resolve

    space = builder.load("convnext_digits")
    assert builder.analyze(space).total_params == 210_466  # the markers' defaults
    chosen = resolve(FixedValues({"kernel": "3x3", "expansion": 2, "depth3": 3, "width1": 16,
                                     "width2": 32, "width3": 64}), space)
    stage3 = chosen.body.layers[3]
    assert (stage3.depth, stage3.filters, stage3.block.kernel_size) == (3, 64, (3, 3))
    assert chosen.body.layers[0].filters == 16  # the stem shares the label width1
    report = builder.analyze(chosen)
    assert report.total_params < 210_466
    model = builder.build(chosen)
    assert model.count_params() == report.total_params
    with pytest.raises(BlueprintError, match="expansion"):
        ConvNeXtBlock(expansion=Choice((2, 0)))
    assert concrete(ConvNeXtStage(Choice((8, 16)), Int(1, 3))).depth == 1


# --- training -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_convnext_digits_trains_from_the_command_line(tmp_path, cli):
    out = cli("train", "convnext_digits", "--epochs", "15", "--out", tmp_path / "run",
              timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # measured 98.6% in 29 to 43 s of training on two CPU cores
    assert metrics["test_accuracy"] > 0.95
