"""NASNet-A against keras.applications NASNetMobile and NASNetLarge: exact parameter
counts (measured once from keras.applications 3.15.1 with weights=None at 224x224x3 and
331x331x3 and pinned here), the paper's multiply-adds, the wiring of the two-input cells
(h, h_prev), and weights that transfer with identical outputs; the Cells combinator and
the cell's checks on their own."""

import numpy as np
import pytest

import builder
from builder import (BlueprintError, Cells, Choice, Conv2D, Cropping2D, Network, Sequence,
                     has_markers)
from builder.blocks import Combination, NASNetCell

from keras_twins import randomize_normalization_and_biases, transferred_difference

# name: (keras input shape, params with top, without top, non-trainable)
KERAS = {
    "nasnet_mobile": ((224, 224, 3), 5_326_716, 4_269_716, 36_738),
    "nasnet_large": ((331, 331, 3), 88_949_818, 84_916_818, 196_668),
}


@pytest.fixture(scope="module")
def mobile():
    return builder.analyze(builder.load("nasnet_mobile"))


@pytest.fixture(scope="module")
def large():
    return builder.analyze(builder.load("nasnet_large"))


@pytest.mark.parametrize("name", KERAS)
def test_parameter_counts_match_keras_applications(name):
    shape, with_top, without_top, non_trainable = KERAS[name]
    top = builder.analyze(builder.load(name))
    assert top.input_shape == shape
    assert top.total_params == with_top
    assert top.non_trainable_params == non_trainable
    bare = builder.analyze(builder.load(name, include_top=False))
    assert bare.total_params == without_top
    assert bare.output_shape[-1] == {"nasnet_mobile": 1056, "nasnet_large": 4032}[name]


def test_multiply_adds_match_the_paper(mobile, large):
    # Zoph et al. 2018, Table 2: NASNet-A (4 @ 1056) 564M, NASNet-A (6 @ 4032) 23.8B.
    assert round(mobile.macs / 1e6) == 564
    assert round(large.macs / 1e8) == 238


def test_cells_are_named_and_ordered_as_keras_names_them(mobile, large):
    cells = [r for r in mobile.blocks(2) if r.path.startswith("cells/")]
    assert [r.path[len("cells/"):] for r in cells] == (
        ["stem_1", "stem_2"] + [f"normal_{i}" for i in range(4)] + ["reduce_4"]
        + [f"normal_{i}" for i in range(5, 9)] + ["reduce_8"]
        + [f"normal_{i}" for i in range(9, 13)])
    shapes = {r.path: r.output_shape for r in cells}
    assert shapes["cells/stem_1"] == (56, 56, 44)
    assert shapes["cells/normal_0"] == (28, 28, 264)
    assert shapes["cells/reduce_4"] == (14, 14, 352)
    assert shapes["cells/normal_12"] == (7, 7, 1056)
    names = [r.path for r in large.blocks(2) if r.path.startswith("cells/")]
    assert len(names) == 2 + 3 * 6 + 2 and names[8] == "cells/reduce_6"
    assert names[-1] == "cells/normal_18"


def test_summary_names_the_kind_of_each_cell(mobile, capsys, monkeypatch):
    from builder.summary import print_report

    monkeypatch.setenv("COLUMNS", "200")
    print_report(mobile, depth=2)
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:]]
            for line in out.splitlines() if "cells/" in line}
    assert rows["cells/reduce_4"][:4] == ["NASNetCell", "14x14x352", "reduction", "88"]
    assert rows["cells/normal_9"][:4] == ["NASNetCell", "7x7x1056", "normal", "176"]


def inputs(graph, path):
    return graph.node(path).inputs


def test_h_prev_wiring(mobile, large):
    g = mobile.graph
    # The first cell reads its input as both h and h_prev: no adjust block.
    assert not any(n.path.startswith("cells/stem_1/adjust") for n in g.nodes)
    assert inputs(g, "cells/stem_1/right1/act1") == ("stem_bn",)
    # h_prev on a grid twice as large: the factorized reduction, two shifted paths.
    assert inputs(g, "cells/normal_0/adjust/act") == ("cells/stem_1/concat",)
    assert g.node("cells/normal_0/adjust/paths/path2/crop").kind == "Cropping2D"
    # Same grid, other channels: a 1x1 projection.
    assert inputs(g, "cells/normal_1/adjust/conv") == ("cells/normal_1/adjust/act",)
    # Mobile: the cell after a reduction reads the reduction cell's input as h_prev ...
    assert inputs(g, "cells/normal_5/adjust/act") == ("cells/normal_3/concat",)
    # ... Large (skip_reduction) reads past it, the reduction cell's own h_prev.
    assert inputs(large.graph, "cells/normal_7/adjust/act") == ("cells/normal_4/concat",)
    assert inputs(large.graph, "cells/normal_8/adjust/act") == ("cells/reduce_6/concat",)


def test_reduction_cell_pads_h_once_for_its_strided_pools(mobile):
    g = mobile.graph
    pad = "cells/reduce_4/h_pad"
    assert g.node(pad).kind == "ZeroPadding2D"
    readers = [n.path for n in g.nodes if pad in n.inputs]
    assert readers == ["cells/reduce_4/left2", "cells/reduce_4/left3", "cells/reduce_4/right5"]
    # 14x14 (even) is padded as 'same' would: one row and column after.
    assert g.node(pad).layer.padding == ((0, 1), (0, 1))


@pytest.mark.slow
def test_weights_transfer_from_keras_applications():
    import keras

    keras.backend.clear_session()
    shape = KERAS["nasnet_mobile"][0]
    src = keras.applications.NASNetMobile(weights=None, include_top=False, input_shape=shape)
    randomize_normalization_and_biases(src, np.random.default_rng(1))
    dst = builder.build(builder.load("nasnet_mobile", include_top=False))
    assert dst.count_params() == src.count_params()
    assert transferred_difference(src, dst, shape) < 1e-4
    # The check can fail: right1 and right2 of a normal cell have the same shapes and
    # depth, so only the order of the transfer tells them apart.
    a, b = dst.get_layer("cells.normal_2.right1.separable1"), dst.get_layer(
        "cells.normal_2.right2.separable1")
    first, second = a.get_weights(), b.get_weights()
    a.set_weights(second)
    b.set_weights(first)
    x = np.random.default_rng(0).random((1,) + shape).astype("float32")
    assert np.abs(np.asarray(src(x, training=False)) - np.asarray(dst(x, training=False))).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("name, factory", [("nasnet_mobile", "NASNetMobile"),
                                           ("nasnet_large", "NASNetLarge")])
def test_keras_applications_side_by_side(name, factory):
    import keras

    shape, with_top, without_top, _ = KERAS[name]
    for include_top, pinned in ((True, with_top), (False, without_top)):
        keras.backend.clear_session()
        theirs = getattr(keras.applications, factory)(weights=None, include_top=include_top,
                                                      input_shape=shape)
        theirs_params = theirs.count_params()
        del theirs  # NASNetLarge: one model of 89M parameters at a time
        keras.backend.clear_session()
        ours = builder.build(builder.load(name, include_top=include_top))
        assert ours.count_params() == theirs_params == pinned


# --- the cells on their own --------------------------------------------------------------


def small_cell(**changes):
    fields = dict(filters=8, combinations=(
        Combination("separable_3x3", "h", "identity", "h_prev"),
        Combination("avg_3x3", "x1", "max_3x3", "h_prev"),
    ), concat=("x1", "x2"))
    return NASNetCell(**{**fields, **changes})


def test_a_searched_cell_of_your_own():
    net = Network((16, 16, 8), Cells((small_cell(name="a"), small_cell(name="b"),
                                      small_cell(name="c", keep_prev=True), small_cell()),
                                     name="cells"))
    r = builder.analyze(net)
    assert r.output_shape == (16, 16, 16)
    assert [row.path for row in r.blocks(2)][1:] == ["cells/a", "cells/b", "cells/c",
                                                      "cells/cell4"]
    g = r.graph
    # c hands on its own h_prev (a's output) instead of its input (b's)
    assert inputs(g, "cells/c/adjust/act") == ("cells/a/concat",)
    assert inputs(g, "cells/cell4/adjust/act") == ("cells/a/concat",)
    for depth in (1, 2, 3):
        assert sum(row.params for row in r.blocks(depth)) == r.total_params


def test_a_cell_operation_may_be_searched():
    searched = Combination(Choice(["separable_3x3", "max_3x3"]), "h", "identity", "h_prev")
    cell = small_cell(combinations=(searched,), concat=("x1",))
    net = Network((16, 16, 8), Cells((cell, cell.replace(name="second"))))
    assert has_markers(net)
    # at the default (separable_3x3): two cells of a 1x1 (8 * 8) and BN (4 * 8), then two
    # separable 3x3 (9 * 8 + 8 * 8 each) with their BNs
    assert builder.analyze(net).total_params == 2 * (64 + 32 + 2 * (72 + 64 + 32))
    with pytest.raises(BlueprintError, match="Combination.left"):
        Combination(Choice(["separable_3x3", "conv_3x3"]), "h", "identity", "h_prev")


@pytest.mark.parametrize("changes, words", [
    (dict(concat=("x1", "x3")), ["concat[1]", "'x3'", "h, h_prev, x1, x2"]),
    (dict(combinations=(Combination("identity", "x2", "avg_3x3", "h"),)),
     ["combinations[0].left_input", "'x2'"]),
    (dict(reduction=True), ["identity of h_prev", "reduction cell"]),
    (dict(concat=()), ["at least one"]),
])
def test_cell_mistakes_name_the_field(changes, words):
    with pytest.raises(BlueprintError) as info:
        small_cell(**changes)
    for word in words:
        assert word in str(info.value)


def test_cells_hold_only_cells_and_a_cell_needs_a_row():
    with pytest.raises(BlueprintError, match="Cells.cells"):
        Cells((Conv2D(8, 3),))
    with pytest.raises(BlueprintError, match="put it in a Cells row") as info:
        builder.analyze(Network((16, 16, 8), Sequence((small_cell(name="alone"),))))
    assert info.value.path == "alone"


def test_cropping_shape_and_mistake():
    r = builder.analyze(Cropping2D(((1, 0), (2, 1))), input_shape=(8, 8, 3))
    assert r.output_shape == (7, 5, 3)
    with pytest.raises(BlueprintError, match="cuts 8 of the input's 8 rows"):
        builder.analyze(Cropping2D(4), input_shape=(8, 8, 3))
