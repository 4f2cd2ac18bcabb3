"""Inception and Xception: GoogLeNet against the paper's Table 1, Inception v3 and
Xception against keras.applications (exact parameter counts, and weights that transfer
one to one), bad input."""

import importlib.util

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import (AuxiliaryHead, Inception, InceptionAsymmetric,
                            XceptionMiddleBlock)

# --- GoogLeNet (Szegedy et al. 2015, Table 1) -----------------------------------------

# module: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj), output shape, our
# parameters (weights + biases), Table 1's params in K (weights only, K = 1024).
TABLE1 = {
    "inception3a": ((64, 96, 128, 16, 32, 32), (28, 28, 256), 163_696, 159),
    "inception3b": ((128, 128, 192, 32, 96, 64), (28, 28, 480), 388_736, 380),
    "inception4a": ((192, 96, 208, 16, 48, 64), (14, 14, 512), 376_176, 364),
    "inception4b": ((160, 112, 224, 24, 64, 64), (14, 14, 512), 449_160, 437),
    "inception4c": ((128, 128, 256, 24, 64, 64), (14, 14, 512), 510_104, 463),
    "inception4d": ((112, 144, 288, 32, 64, 64), (14, 14, 528), 605_376, 580),
    "inception4e": ((256, 160, 320, 32, 128, 128), (14, 14, 832), 868_352, 840),
    "inception5a": ((256, 160, 320, 32, 128, 128), (7, 7, 832), 1_043_456, 1072),
    "inception5b": ((384, 192, 384, 48, 128, 128), (7, 7, 1024), 1_444_080, 1388),
}
# Modules whose Table 1 params follow from the table's own channel columns; for the
# others the table is inconsistent with itself (see the registry notes).
TABLE1_CONSISTENT = ("inception3a", "inception3b", "inception4b")
GOOGLENET_PARAMS = 6_998_552  # paper: "about 6.8M" (weights only: 6,990,272)
GOOGLENET_MACS = 1_582_671_872  # paper: "about 1.5 billion"; Table 1's ops sum to 1,586M
AUX1_PARAMS = 3_188_840  # 512 channels in: 1x1 conv 65,664 + FC 2,098,176 + FC 1,025,000
AUX2_PARAMS = 3_190_888  # 528 channels in (after 4d)


@pytest.fixture(scope="module")
def googlenet_report():
    return builder.analyze(builder.load("googlenet"))


def test_googlenet_totals(googlenet_report):
    r = googlenet_report
    assert r.input_shape == (224, 224, 3)
    assert r.output_shape == (1000,)
    assert r.total_params == GOOGLENET_PARAMS
    assert r.macs == GOOGLENET_MACS
    assert 1.5e9 <= r.macs < 1.6e9
    assert r.warnings == []
    weights_only = r.total_params - sum(
        n.output_shape[-1] for n in r.nodes if n.kind in ("Conv2D", "Dense"))
    assert weights_only == 6_990_272


def test_googlenet_modules_match_table1(googlenet_report):
    rows = {row.path: row for row in googlenet_report.blocks(1)}
    for name, (channels, shape, params, paper_k) in TABLE1.items():
        row = rows[name]
        assert row.kind == "Inception"
        assert tuple(row.blueprint.summary_columns().values()) == channels
        assert row.output_shape == shape, name
        assert row.params == params, name
        if name in TABLE1_CONSISTENT:
            biases = sum(channels)  # one per output channel of each of the six convs
            assert abs((params - biases) / 1024 - paper_k) <= 1.0, name
    # The stem before 3a: conv 7x7/2 (9,472) and the 1x1 + 3x3 pair (Table 1: 112K weights).
    assert rows["conv1"].output_shape == (112, 112, 64)
    assert rows["conv2_reduce"].params + rows["conv2"].params - 64 - 192 == 112 * 1024
    assert rows["pool2"].output_shape == (28, 28, 192)
    assert rows["head"].params == 1024 * 1000 + 1000


def test_googlenet_has_22_layers_with_parameters(googlenet_report):
    # The longest input-to-output path counted in layers with parameters.
    depth = {}
    for node in googlenet_report.graph.nodes:
        here = 1 if node.kind in ("Conv2D", "Dense") else 0
        depth[node.path] = max((depth[i] for i in node.inputs), default=0) + here
    assert depth[googlenet_report.graph.outputs[0]] == 22


def test_inception_summary_columns():
    module = Inception(64, 96, 128, 16, 32, 32)
    assert module.summary_columns() == {"#1x1": 64, "#3x3 reduce": 96, "#3x3": 128,
                                        "#5x5 reduce": 16, "#5x5": 32, "pool proj": 32}
    r = builder.analyze(module, input_shape=(28, 28, 192))
    assert r.output_shape == (28, 28, 256)
    assert r.total_params == 163_696


def test_summary_prints_table1_columns(googlenet_report, capsys, monkeypatch):
    from builder.summary import print_report

    monkeypatch.setenv("COLUMNS", "200")
    print_report(googlenet_report, depth=1)
    out = capsys.readouterr().out
    for column in ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj"):
        assert column in out
    line = next(l for l in out.splitlines() if "inception4e" in l)
    assert [c.strip() for c in line.split("│")[4:10]] == ["256", "160", "320", "32", "128", "128"]


def test_googlenet_aux_heads():
    bp = builder.load("googlenet", aux_heads=True)
    r = builder.analyze(bp)
    assert r.output_shapes == [(1000,), (1000,), (1000,)]
    assert r.graph.loss_weights == [1.0, 0.3, 0.3]
    assert r.total_params == GOOGLENET_PARAMS + AUX1_PARAMS + AUX2_PARAMS
    assert r.graph.node("aux1/pool").shape == (4, 4, 512)
    assert r.graph.node("aux2/pool").shape == (4, 4, 528)
    assert builder.from_json(bp.to_json()) == bp
    # No top, no auxiliary classifiers.
    assert builder.analyze(builder.load("googlenet", aux_heads=True, include_top=False)
                           ).output_shapes == [(7, 7, 1024)]


def test_googlenet_aux_heads_build():
    import keras

    keras.backend.clear_session()
    bp = builder.load("googlenet", input_shape=(80, 80, 3), classes=10, aux_heads=True)
    model = builder.build(bp)
    assert len(model.outputs) == 3
    assert model.count_params() == builder.analyze(bp).total_params
    outputs = model(np.zeros((1, 80, 80, 3), "float32"), training=False)
    assert [tuple(o.shape) for o in outputs] == [(1, 10)] * 3


def test_auxiliary_head_alone():
    r = builder.analyze(AuxiliaryHead(1000), input_shape=(14, 14, 512))
    assert r.output_shape == (1000,)
    assert r.total_params == AUX1_PARAMS


# --- Inception v3 and Xception against keras.applications -----------------------------


@pytest.mark.parametrize("name, with_top, without_top, non_trainable", [
    ("inception_v3", 23_851_784, 21_802_784, 34_432),
    ("xception", 22_910_480, 20_861_480, 54_528),
])
def test_keras_applications_parameter_counts(name, with_top, without_top, non_trainable):
    top = builder.analyze(builder.load(name))
    assert top.input_shape == (299, 299, 3)
    assert top.total_params == with_top
    assert top.non_trainable_params == non_trainable
    bare = builder.analyze(builder.load(name, include_top=False))
    assert bare.total_params == without_top
    assert bare.output_shape[-1] == 2048


def test_inception_v3_grid_sizes():
    rows = {r.path: r for r in builder.analyze(builder.load("inception_v3")).blocks(1)}
    assert rows["mixed0"].output_shape == (35, 35, 256)
    assert rows["mixed2"].output_shape == (35, 35, 288)
    assert rows["mixed3"].output_shape == (17, 17, 768)
    assert rows["mixed7"].output_shape == (17, 17, 768)
    assert rows["mixed8"].output_shape == (8, 8, 1280)
    assert rows["mixed10"].output_shape == (8, 8, 2048)


def _copy_in_order(src, dst):
    """Copy weights layer by layer in order (until builder.weights lands)."""
    ours = [layer for layer in dst.layers if layer.weights]
    theirs = [layer for layer in src.layers if layer.weights]
    assert len(ours) == len(theirs)
    for a, b in zip(theirs, ours):
        assert type(a) is type(b), (a.name, b.name)
        b.set_weights(a.get_weights())


@pytest.mark.slow
def test_inception_v3_weights_transfer_from_keras_applications():
    import keras

    keras.backend.clear_session()
    shape = (139, 139, 3)
    src = keras.applications.InceptionV3(weights=None, include_top=False, input_shape=shape)
    # Non-trivial batch-norm statistics, so a misplaced layer shows in the output.
    rng = np.random.default_rng(1)
    for layer in src.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.1, beta.shape), rng.normal(0, 0.1, mean.shape),
                               rng.uniform(0.5, 1.5, variance.shape)])
    dst = builder.build(builder.load("inception_v3", input_shape=shape, include_top=False))
    assert dst.count_params() == src.count_params()
    if importlib.util.find_spec("builder.weights") is not None:
        builder.transfer_weights(src, dst)
    else:
        _copy_in_order(src, dst)
    x = np.random.default_rng(0).random((1,) + shape).astype("float32")
    expected = np.asarray(src(x, training=False))
    got = np.asarray(dst(x, training=False))
    assert got.shape == expected.shape == (1, 3, 3, 2048)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("reduce_3x3", 0), ("filters_5x5", -3),
                                          ("pool_projection", 0)])
def test_inception_rejects_nonpositive_channels(field, value):
    channels = dict(filters_1x1=64, reduce_3x3=96, filters_3x3=128, reduce_5x5=16,
                    filters_5x5=32, pool_projection=32)
    channels[field] = value
    with pytest.raises(BlueprintError, match=rf"Inception\.{field}.*{value}"):
        Inception(**channels)
    with pytest.raises(BlueprintError, match=r"InceptionAsymmetric\.inner_filters"):
        InceptionAsymmetric(inner_filters=0)


def test_too_small_input_names_the_layer():
    # The auxiliary classifiers' 5x5 pool needs 4a's grid (input / 16) to be at least 5.
    with pytest.raises(BlueprintError) as info:
        builder.analyze(builder.load("googlenet", input_shape=(32, 32, 3), aux_heads=True))
    assert info.value.path == "aux1/pool"
    assert "too small" in str(info.value)
    with pytest.raises(BlueprintError) as info:
        builder.analyze(builder.load("inception_v3", input_shape=(64, 64, 3)))
    assert info.value.path == "mixed8/branch3x3/conv2/conv"


def test_xception_middle_block_needs_matching_channels():
    with pytest.raises(BlueprintError, match="XceptionMiddleBlock.filters 728.*512"):
        builder.analyze(XceptionMiddleBlock(728), input_shape=(19, 19, 512))

