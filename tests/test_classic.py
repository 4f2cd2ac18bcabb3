"""The early deep CNNs: AlexNet, ZFNet, VGG A-E and Network in Network.

Figures are pinned from the papers and from keras.applications (Keras 3.15.1,
weights=None); everything but the weight-transfer test is pure analysis.
"""

import importlib.util

import numpy as np
import pytest

import builder
from builder import BlueprintError
from builder.blocks import ConvStack, GlobalAverageClassifier, MLPConv


def params(name, **options):
    return builder.analyze(builder.load(name, **options)).total_params


def rows(name, depth=2, **options):
    report = builder.analyze(builder.load(name, **options))
    return {r.path: r for r in report.blocks(depth)}


# --- AlexNet and ZFNet ------------------------------------------------------------------------


def test_alexnet_per_layer_figures():
    by_path = rows("alexnet")
    expected = {  # two towers: conv2, conv4 and conv5 grouped
        "layer1/conv1": ((55, 55, 96), 34_944),      # 11*11*3*96 + 96
        "layer2/conv1": ((27, 27, 256), 307_456),    # 5*5*48*256 + 256
        "layer3/conv1": ((13, 13, 384), 885_120),    # 3*3*256*384 + 384: sees both towers
        "layer4/conv1": ((13, 13, 384), 663_936),    # 3*3*192*384 + 384
        "layer5/conv1": ((13, 13, 256), 442_624),    # 3*3*192*256 + 256
        "layer5/pool": ((6, 6, 256), 0),
        "head/fc1": ((4096,), 37_752_832),
        "head/fc2": ((4096,), 16_781_312),
        "head/logits": ((1000,), 4_097_000),
    }
    for path, (shape, count) in expected.items():
        assert (by_path[path].output_shape, by_path[path].params) == (shape, count), path
    # LRN after conv1 and conv2, each before its overlapping pool
    assert by_path["layer1/lrn"].kind == "LocalResponseNorm"
    assert by_path["layer2/lrn"].kind == "LocalResponseNorm"
    assert "layer3/lrn" not in by_path


def test_alexnet_totals():
    report = builder.analyze(builder.load("alexnet"))
    assert report.total_params == 60_965_224  # the paper's "60 million"
    assert round(report.total_params / 1e6) == 61
    assert report.macs == 724_406_816
    assert report.input_shape == (227, 227, 3)
    assert params("alexnet", include_top=False) == 2_334_080


def test_alexnet_single_tower():
    assert params("alexnet_single") == 62_378_344
    assert params("alexnet_single", include_top=False) == 3_747_200
    by_path = rows("alexnet_single")
    assert by_path["layer2/conv1"].params == 614_656  # 5*5*96*256 + 256
    assert not any(r.kind == "LocalResponseNorm" for r in by_path.values())


def test_zfnet_shapes_of_figure_3():
    by_path = rows("zfnet")
    shapes = {"layer1/conv1": (110, 110, 96), "layer1/pool": (55, 55, 96),
              "layer2/conv1": (26, 26, 256), "layer2/pool": (13, 13, 256),
              "layer5/pool": (6, 6, 256)}
    for path, shape in shapes.items():
        assert by_path[path].output_shape == shape, path
    assert by_path["layer1/conv1"].params == 14_208  # 7*7*3*96 + 96
    assert params("zfnet") == 62_357_608
    # (224 - 7 + 2) / 2 is not whole, but the position left over is padding: no input
    # is lost, so the analysis does not warn
    report = builder.analyze(builder.load("zfnet"))
    assert not any(w.startswith("layer1/conv1:") for w in report.graph.warnings)


def test_alexnet_classes_and_dropout_options():
    by_path = rows("alexnet", classes=10, dropout=0.3)
    assert by_path["head/logits"].params == 4097 * 10
    bp = builder.load("alexnet", dropout=0.3)
    assert bp.head.hidden_dropout == 0.3


# --- VGG -----------------------------------------------------------------------------------------


VGG = {  # name: (ours exactly, Table 2 in millions)
    "vgg11": (132_863_336, 133),
    "vgg11_lrn": (132_863_336, 133),
    "vgg13": (133_047_848, 133),
    "vgg16_c": (133_638_952, 134),
    "vgg16": (138_357_544, 138),
    "vgg19": (143_667_240, 144),
}


@pytest.mark.parametrize("name", VGG)
def test_vgg_parameters_round_to_table_2(name):
    ours, paper_millions = VGG[name]
    assert params(name) == ours
    assert round(ours / 1e6) == paper_millions


@pytest.mark.parametrize("name, with_top, without_top", [
    ("vgg16", 138_357_544, 14_714_688),  # keras.applications.VGG16
    ("vgg19", 143_667_240, 20_024_384),  # keras.applications.VGG19
])
def test_vgg_equals_keras_applications(name, with_top, without_top):
    assert params(name) == with_top
    assert params(name, include_top=False) == without_top


def test_vgg_configurations_of_table_1():
    def convs(name):
        return [r for r in rows(name, depth=3).values() if r.kind == "Conv2D"]

    assert [len(convs(n)) for n in ("vgg11", "vgg13", "vgg16_c", "vgg16", "vgg19")] == [8, 10, 13, 13, 16]
    c = rows("vgg16_c", depth=3)
    for stage, width in ((3, 256), (4, 512), (5, 512)):
        assert c[f"block{stage}/conv3"].params == width * width + width  # 1x1
    lrn = [p for p, r in rows("vgg11_lrn", depth=3).items() if r.kind == "LocalResponseNorm"]
    assert lrn == ["block1/lrn"]
    assert builder.analyze(builder.load("vgg16")).macs == 15_470_264_320


# --- Network in Network ---------------------------------------------------------------------------


def test_nin_cifar10():
    report = builder.analyze(builder.load("nin"))
    assert report.total_params == 966_986
    assert report.output_shape == (10,)
    by_path = rows("nin", depth=3)
    assert by_path["stage1/pool"].output_shape == (16, 16, 96)
    assert by_path["stage2/pool"].output_shape == (8, 8, 192)
    assert by_path["stage3/mlpconv/mlp2"].output_shape == (8, 8, 10)
    assert not any(r.kind == "Dense" for r in by_path.values())  # no fully connected layer


def test_nin_classes_flow_into_the_last_mlpconv():
    report = builder.analyze(builder.load("nin", classes=100))
    assert report.output_shape == (100,)
    assert report.total_params == 966_986 - 1_930 + (192 + 1) * 100
    features = builder.analyze(builder.load("nin", classes=100, include_top=False))
    assert features.output_shape == (8, 8, 100)


# --- blocks and bad input -----------------------------------------------------------------------


def test_conv_stack_children():
    block = ConvStack(64, (3, 3, 1), lrn="after_first_conv", name="stage")
    by_path = {r.path: r for r in builder.analyze(block, input_shape=(32, 32, 3)).blocks(2)}
    assert list(by_path) == ["input", "stage/conv1", "stage/lrn", "stage/conv2", "stage/conv3",
                             "stage/pool"]
    assert by_path["stage/conv3"].params == 64 * 64 + 64
    assert by_path["stage/pool"].output_shape == (16, 16, 64)


def test_mlpconv_children():
    block = MLPConv((32, 16, 8), kernel_size=5, name="m")
    report = builder.analyze(block, input_shape=(8, 8, 3))
    assert [r.path for r in report.blocks(2)][1:] == ["m/conv", "m/mlp1", "m/mlp2"]
    assert report.total_params == (5 * 5 * 3 + 1) * 32 + (32 + 1) * 16 + (16 + 1) * 8


@pytest.mark.parametrize("make, words", [
    (lambda: ConvStack(64, ()), ["ConvStack.kernel_sizes is empty"]),
    (lambda: ConvStack(100, (3,), groups=3), ["ConvStack.filters 100", "groups 3"]),
    (lambda: ConvStack(64, (3,), pool="none", lrn="after_pool"), ["ConvStack.lrn", "pool"]),
    (lambda: ConvStack(64, (3,), lrn="after_conv"), ["ConvStack.lrn", "did you mean"]),
    (lambda: ConvStack(0), ["ConvStack.filters", ">= 1"]),
    (lambda: MLPConv((192, 160)), ["MLPConv.filters"]),
    (lambda: GlobalAverageClassifier(0), ["GlobalAverageClassifier.classes"]),
])
def test_invalid_blocks(make, words):
    with pytest.raises(BlueprintError) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_alexnet_input_too_small_names_the_layer():
    with pytest.raises(BlueprintError) as e:
        builder.analyze(builder.load("alexnet", input_shape=(8, 8, 3)))
    assert e.value.path == "layer1/conv1"
    assert "does not fit" in str(e.value)
    # 32x32 passes conv1 (6x6) and pool1 (2x2) but not pool2's 3x3 window
    with pytest.raises(BlueprintError) as e:
        builder.analyze(builder.load("alexnet", input_shape=(32, 32, 3)))
    assert e.value.path == "layer2/pool"


def test_vgg_input_too_small_names_the_pool():
    with pytest.raises(BlueprintError) as e:
        builder.analyze(builder.load("vgg16", input_shape=(16, 16, 3)))
    assert e.value.path == "block5/pool"


def test_grouped_stack_on_indivisible_input():
    stack = ConvStack(64, (3,), groups=2, name="layer2")
    with pytest.raises(BlueprintError) as e:
        builder.analyze(stack, input_shape=(13, 13, 3))
    assert e.value.path == "layer2/conv1"
    assert "groups 2" in str(e.value)


def test_class_maps_must_match_classes():
    from builder.dsl import Conv2D, Network

    bp = Network((8, 8, 3), Conv2D(12, 1, name="maps"), GlobalAverageClassifier(10))
    with pytest.raises(BlueprintError) as e:
        builder.analyze(bp)
    assert e.value.path == "head"
    assert "classes is 10" in str(e.value) and "12 channels" in str(e.value)


# --- weights ------------------------------------------------------------------------------------------


def _copy_in_order(src, dst):
    """Fallback while builder.weights is not there: VGG's weighted layers pair one to one."""
    src_layers = [layer for layer in src.layers if layer.weights]
    dst_layers = [layer for layer in dst.layers if layer.weights]
    assert len(src_layers) == len(dst_layers)
    for a, b in zip(src_layers, dst_layers):
        b.set_weights(a.get_weights())


def test_vgg16_takes_keras_applications_weights():
    import keras

    keras.backend.clear_session()
    shape = (64, 64, 3)  # small input, no top: cheap, and every weight of the body is used
    theirs = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
    ours = builder.build(builder.load("vgg16", input_shape=shape, include_top=False))
    assert ours.count_params() == theirs.count_params() == 14_714_688
    if importlib.util.find_spec("builder.weights") is not None:
        builder.transfer_weights(theirs, ours)
    else:
        _copy_in_order(theirs, ours)
    x = np.random.default_rng(0).random((1,) + shape).astype("float32") * 255
    expected = np.asarray(theirs(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert got.shape == expected.shape == (1, 2, 2, 512)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
