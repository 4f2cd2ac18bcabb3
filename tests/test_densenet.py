"""DenseNet: the blocks' channel arithmetic, keras.applications' exact parameter counts,
and the same outputs as keras.applications.DenseNet121 once the weights are copied."""

import importlib.util

import numpy as np
import pytest

import builder
from builder import BlueprintError, Sequence
from builder.blocks import DenseBlock, DenseLayer, Transition

# keras.applications DenseNet121/169/201(weights=None), Keras 3.15.1, 224x224x3:
# (total with top, total without top, non-trainable).
KERAS_APPLICATIONS = {
    "densenet121": (8_062_504, 7_037_504, 83_648),
    "densenet169": (14_307_880, 12_642_880, 158_400),
    "densenet201": (20_242_984, 18_321_984, 229_056),
}


@pytest.mark.parametrize("name", sorted(KERAS_APPLICATIONS))
def test_parameters_equal_keras_applications(name):
    total, without_top, non_trainable = KERAS_APPLICATIONS[name]
    report = builder.analyze(builder.load(name))
    assert report.total_params == total
    assert report.non_trainable_params == non_trainable
    assert report.output_shape == (1000,)
    features = builder.analyze(builder.load(name, include_top=False))
    assert features.total_params == without_top
    assert features.non_trainable_params == non_trainable


@pytest.mark.parametrize("name, channels", [
    ("densenet121", 1024), ("densenet169", 1664), ("densenet201", 1920)])
def test_feature_map_is_seven_by_seven(name, channels):
    # 64 + 6*32 = 256 -> 128 + 12*32 = 512 -> 256 + n3*32 -> half + n4*32
    assert builder.analyze(builder.load(name, include_top=False)).output_shape == (7, 7, channels)


def test_dense_layer_concatenates_input_then_new_maps():
    # BN(64) 256 + 1x1 conv 64*128 + BN(128) 512 + 3x3 conv 9*128*32 = 45,824
    report = builder.analyze(DenseLayer(32, name="layer"), input_shape=(8, 8, 64))
    assert report.output_shape == (8, 8, 96)
    assert report.total_params == 256 + 64 * 128 + 512 + 9 * 128 * 32
    graph = builder.lower(DenseLayer(32, name="layer"), input_shape=(8, 8, 64))
    concat = graph.nodes[-1]
    assert concat.kind == "Concatenate"
    # The block's input comes first, as keras.applications' Concatenate([x, x1]).
    assert concat.inputs[0] == "input"
    assert concat.input_shapes == ((8, 8, 64), (8, 8, 32))


def test_dense_block_grows_by_growth_rate_per_layer():
    report = builder.analyze(DenseBlock(5, growth_rate=12, bottleneck_width=4),
                             input_shape=(16, 16, 24))
    assert report.output_shape == (16, 16, 24 + 5 * 12)
    paths = [row.path for row in report.blocks(2)]
    assert "dense_block/layer5" in paths


@pytest.mark.parametrize("compression, channels, out", [
    (0.5, 256, 128), (0.5, 1023, 511), (1.0, 100, 100), (0.3, 10, 3)])
def test_transition_floors_the_channels(compression, channels, out):
    report = builder.analyze(Transition(compression), input_shape=(8, 8, channels))
    assert report.output_shape == (4, 4, out)
    assert report.total_params == 4 * channels + channels * out


@pytest.mark.parametrize("compression", [0, 0.0, -0.5, 1.5])
def test_transition_compression_out_of_range(compression):
    with pytest.raises(BlueprintError) as e:
        Transition(compression)
    assert "Transition.compression" in str(e.value)
    assert str(compression) in str(e.value)


def test_transition_that_leaves_no_channels_names_the_path():
    bp = Sequence((Transition(0.1, name="transition1"),), name="body")
    with pytest.raises(BlueprintError) as e:
        builder.analyze(bp, input_shape=(8, 8, 5))
    assert e.value.path == "body/transition1"
    assert "compression 0.1" in str(e.value) and "0 output channels" in str(e.value)


def test_growth_rate_and_compression_options():
    # DenseNet-BC with k=12 on the 121 layout: stem 24 maps, ...
    report = builder.analyze(builder.load("densenet121", input_shape=(64, 64, 3),
                                          growth_rate=12, compression=0.5, classes=10))
    assert report.output_shape == (10,)
    features = builder.analyze(builder.load("densenet121", include_top=False,
                                            input_shape=(64, 64, 3), growth_rate=12))
    channels = 24
    for i, layers in enumerate((6, 12, 24, 16)):
        channels += layers * 12
        if i < 3:
            channels //= 2
    assert features.output_shape == (2, 2, channels)


def _copy_in_order(src, dst):
    """Fallback while builder.weights is not there: pair weighted layers in order."""
    src_layers = [layer for layer in src.layers if layer.weights]
    dst_layers = [layer for layer in dst.layers if layer.weights]
    assert len(src_layers) == len(dst_layers)
    for a, b in zip(src_layers, dst_layers):
        assert type(a) is type(b), (a.name, b.name)
        assert [w.shape for w in a.weights] == [w.shape for w in b.weights], (a.name, b.name)
        b.set_weights(a.get_weights())


@pytest.mark.slow
def test_weights_transfer_from_keras_applications():
    import keras

    keras.backend.clear_session()
    theirs = keras.applications.DenseNet121(weights=None, include_top=False,
                                            input_shape=(64, 64, 3))
    ours = builder.build(builder.load("densenet121", include_top=False, input_shape=(64, 64, 3)))
    assert ours.count_params() == theirs.count_params()
    # Random batch-norm statistics, so that a swapped layer would show in the outputs.
    rng = np.random.default_rng(0)
    for layer in theirs.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])
    if importlib.util.find_spec("builder.weights") is not None:
        builder.transfer_weights(theirs, ours)
    else:
        _copy_in_order(theirs, ours)
    x = rng.random((1, 64, 64, 3)).astype("float32")
    expected = np.asarray(theirs(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert got.shape == expected.shape == (1, 2, 2, 1024)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
