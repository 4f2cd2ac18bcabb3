"""Inception-ResNet-v2 against keras.applications InceptionResNetV2: exact parameter
counts (measured once from keras.applications 3.15.1 with weights=None at 299x299x3 and
pinned here), the grid of each stage, the scaled residuals, and weights that transfer
with identical outputs."""

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import InceptionResNetA, InceptionResNetB, InceptionResNetC

from keras_twins import randomize_normalization_and_biases, transferred_difference

# keras.applications.InceptionResNetV2(weights=None, include_top=True/False).count_params()
WITH_TOP, WITHOUT_TOP, NON_TRAINABLE = 55_873_736, 54_336_736, 60_544


@pytest.fixture(scope="module")
def report():
    return builder.analyze(builder.load("inception_resnet_v2"))


def test_parameter_counts_match_keras_applications(report):
    assert report.input_shape == (299, 299, 3)
    assert report.total_params == WITH_TOP
    assert report.non_trainable_params == NON_TRAINABLE
    assert report.output_shape == (1000,)
    bare = builder.analyze(builder.load("inception_resnet_v2", include_top=False))
    assert bare.total_params == WITHOUT_TOP
    assert bare.output_shape == (8, 8, 1536)
    assert not report.warnings


def test_stages_have_keras_names_and_grids(report):
    rows = {r.path: r for r in report.blocks(1)}
    expected = {"mixed_5b": (35, 35, 320), "block35": (35, 35, 320),
                "mixed_6a": (17, 17, 1088), "block17": (17, 17, 1088),
                "mixed_7a": (8, 8, 2080), "block8": (8, 8, 2080),
                "block8_10": (8, 8, 2080), "conv_7b": (8, 8, 1536)}
    for path, shape in expected.items():
        assert rows[path].output_shape == shape, path
    depth2 = [r.path for r in report.blocks(2) if r.path.startswith("block17/")]
    assert depth2 == [f"block17/block{i}" for i in range(1, 21)]


def test_residuals_are_scaled_before_the_add(report):
    graph = report.graph
    for path, scale in (("block35/block1", 0.17), ("block17/block20", 0.1),
                        ("block8/block9", 0.2)):
        node = graph.node(f"{path}/scale")
        assert node.kind == "Rescaling" and node.layer.scale == scale
        assert graph.node(f"{path}/add").inputs[0] == f"{path}/scale"
        assert graph.node(f"{path}/out").layer.function == "relu"
    # The last block: scale 1 and no activation, as keras's block8_10.
    paths = [n.path for n in graph.nodes if n.path.startswith("block8_10/")]
    assert "block8_10/scale" not in paths and "block8_10/out" not in paths
    assert paths[-1] == "block8_10/add"


@pytest.mark.parametrize("block, grid, channels", [
    (InceptionResNetA(), 35, 320), (InceptionResNetB(), 17, 1088), (InceptionResNetC(), 8, 2080),
    (InceptionResNetA(), 9, 64),  # the 1x1 back follows whatever the input has
])
def test_block_keeps_its_input_shape(block, grid, channels):
    r = builder.analyze(block, input_shape=(grid, grid, channels))
    assert r.output_shape == (grid, grid, channels)


def test_block_parameters_by_hand():
    # block35 on 320 channels: 1x1 32 | 1x1 32 -> 3x3 32 | 1x1 32 -> 3x3 48 -> 3x3 64, each
    # conv without bias plus a batch norm without gamma (beta, mean, variance), then a
    # 1x1 from the 128 concatenated channels back to 320 with a bias.
    def unit(c_in, c_out, k=1):
        return k * k * c_in * c_out + 3 * c_out

    branches = (unit(320, 32) + unit(320, 32) + unit(32, 32, 3) + unit(320, 32)
                + unit(32, 48, 3) + unit(48, 64, 3))
    up = 128 * 320 + 320
    r = builder.analyze(InceptionResNetA(), input_shape=(35, 35, 320))
    assert r.total_params == branches + up


def test_scale_is_checked():
    with pytest.raises(BlueprintError, match=r"InceptionResNetA\.scale"):
        InceptionResNetA(scale=1.5)


@pytest.mark.slow  # two 54M-parameter models: about half a minute
def test_weights_transfer_from_keras_applications():
    import keras

    keras.backend.clear_session()
    shape = (139, 139, 3)
    src = keras.applications.InceptionResNetV2(weights=None, include_top=False,
                                               input_shape=shape)
    randomize_normalization_and_biases(src, np.random.default_rng(1))
    dst = builder.build(builder.load("inception_resnet_v2", input_shape=shape,
                                     include_top=False))
    assert dst.count_params() == src.count_params()
    assert tuple(dst.output.shape[1:]) == (3, 3, 1536)
    assert transferred_difference(src, dst, shape) < 1e-4


@pytest.mark.slow
def test_keras_applications_side_by_side():
    import keras

    for include_top, pinned in ((True, WITH_TOP), (False, WITHOUT_TOP)):
        keras.backend.clear_session()
        theirs = keras.applications.InceptionResNetV2(weights=None, include_top=include_top,
                                                      input_shape=(299, 299, 3))
        ours = builder.build(builder.load("inception_resnet_v2", include_top=include_top))
        assert theirs.count_params() == ours.count_params() == pinned
        assert theirs.output.shape[1:] == ours.output.shape[1:]
