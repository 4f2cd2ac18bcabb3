"""Editing by path: ``bp.at(path)``, ``builder.edit(bp, {...})``, ``parse_sets``, and the
paths they take being exactly the paths ``summary`` prints."""

import json

import pytest

import builder
from builder import registry
from builder.blocks import ConvBN
from builder.dsl import (Choice, ClassifierHead, Conv2D, Dense, Flatten, Network, Repeat,
                         Residual, Sequence, SideOutput)
from builder.dsl.base import Block, Layer
from builder.dsl.paths import ADDED, places
from builder.errors import ArgumentError, BlueprintError


def graph_paths(bp):
    graph = builder.lower(bp)
    kinds = {}
    for node in graph.nodes:
        kinds.setdefault(node.path, set()).add(node.kind)
    for scope in graph.scopes:
        kinds.setdefault(scope.path, set()).add(scope.blueprint.kind)
    return kinds


@pytest.mark.parametrize("name", registry.names())
def test_paths_are_the_summary_paths(name):
    """Each path of the tree is a path of the lowered graph with the same kind, and each
    path of the graph is in the tree, inside an opaque Block's expansion, or a layer a
    combinator adds (a merge, the input)."""
    bp = builder.load(name)
    index = places(bp)
    lowered = graph_paths(bp)
    for path, stack in index.items():
        if path:
            assert path in lowered, path
            assert {p.blueprint.kind for p in stack} & lowered[path], path
    for path in lowered:
        if path in index:
            continue
        segments = path.split("/")
        prefixes = ["/".join(segments[:i]) for i in range(len(segments) - 1, -1, -1)]
        owner = next(p for p in prefixes if p in index)
        inner = index[owner][-1].blueprint
        opaque = isinstance(inner, Block) and not inner.children()
        assert opaque or (segments[-1] in ADDED and len(segments) == owner.count("/") + 2
                          - (owner == "")), path


def test_at_returns_the_sub_blueprint():
    bp = builder.load("resnet50")
    block = bp.at("stage2/block1")
    assert block.kind == "Bottleneck" and block.filters == 128
    assert bp.at("head").kind == "ClassifierHead"
    assert bp.at("") is bp
    assert bp.at("/stage2/block1/") == block


def test_edit_copies_and_changes_only_what_it_names():
    bp = builder.load("resnet50")
    before = bp.to_json()
    new = builder.edit(bp, {"stage2/block1.filters": 64, "head.dropout": 0.2})
    assert bp.to_json() == before  # never mutates
    assert new.at("stage2/block1").filters == 64
    assert new.at("head").dropout == 0.2
    assert new.at("stage2/block2") == bp.at("stage2/block2")
    # 128 -> 64 inner channels of one bottleneck: 25,636,712 -> 25,492,712 parameters
    assert builder.analyze(new).total_params == 25_492_712


def test_edit_top_level_fields_without_a_dot():
    bp = builder.load("resnet18")
    small = builder.edit(bp, {"input_shape": (64, 64, 3), "head": None})
    assert small.input_shape == (64, 64, 3) and small.head is None
    assert builder.analyze(small).output_shape == (2, 2, 512)


@pytest.mark.parametrize("key, words", [
    ("stage2/block1/conv2.filters", ["part that the Bottleneck at 'stage2/block1' makes",
                                      "'stage2/block1.filters'"]),
    ("stage2/blok1.filters", ["no blueprint at 'stage2/blok1'", "did you mean 'stage2/block1'",
                              "stage2/block4"]),
    ("stage2/block1.filter", ["has no field 'filter'", "did you mean 'filters'", "strides"]),
    ("stage2/block1", ["PATH.FIELD", "'stage2/block1.filters'"]),
    ("stage2/block1/add.filters", ["part that the Bottleneck"]),
    ("stage2/block1.filters.units", ["holds 128, not a blueprint"]),
])
def test_unknown_paths_and_fields_list_the_valid_ones(key, words):
    with pytest.raises(BlueprintError) as error:
        builder.edit(builder.load("resnet50"), {key: 64})
    assert error.value.path == key
    for word in words:
        assert word in str(error.value)


def test_a_bad_value_is_checked_by_its_field():
    with pytest.raises(BlueprintError, match=r"head.classes: ClassifierHead.classes must be an "
                                             r"int, got 'ten'"):
        builder.edit(builder.load("lenet5"), {"head.classes": "ten"})
    with pytest.raises(BlueprintError, match="did you mean 'relu'"):
        builder.edit(builder.load("resnet50"), {"stage2/block1.activation": "rleu"})


def test_an_impossible_shape_after_the_edits_is_reported():
    bp = Network((8, 8, 3), Sequence(Residual(Conv2D(8, 3, name="conv"), name="res"),
                                     name="body"), classes=2)
    with pytest.raises(BlueprintError, match="residual adds"):
        builder.edit(bp, {"body/res/conv.filters": 3 + 1})
    assert builder.edit(bp, {"input_shape": (8, 8, 8)}).input_shape == (8, 8, 8)


def test_edits_apply_in_order_and_paths_follow_earlier_edits():
    bp = builder.load("lenet5_full")
    new = builder.edit(bp, {"c3/conv.name": "wide", "c3/wide.filters": 32})
    assert new.at("c3/wide").filters == 32


def test_stage_blocks_lead_to_their_fields():
    bp = builder.load("efficientnet_b0")
    new = builder.edit(bp, {"blocks/stage3.repeats": 3, "blocks/stage3/block2.filters": 48})
    assert new.at("blocks/stage3").repeats == 3
    assert new.at("blocks/stage3/block1").filters == 48  # one blueprint for every copy
    assert "blocks/stage3/block3" in places(new)


def test_repeat_copies_are_one_blueprint():
    bp = builder.load("xception")
    new = builder.edit(bp, {"middle_flow/middle3.name": "mid"})
    assert [p for p in places(new) if p.startswith("middle_flow/")] == [
        f"middle_flow/mid{i}" for i in range(1, 9)]


def test_markers_and_choices():
    bp = builder.load("digits_search")
    # A field that holds a marker is set like any other (here to a plain value).
    assert builder.edit(bp, {"stem.filters": 16}).at("stem").filters == 16
    # A path through a Choice of blocks resolves at its default ...
    assert bp.at("stage1/plain1").kind == "ConvBN"
    # ... and an edit through it is refused, naming the field that holds the Choice.
    with pytest.raises(BlueprintError, match=r"default of the marker in 'stage1.block'"):
        builder.edit(bp, {"stage1/plain1.filters": 64})
    new = builder.edit(bp, {"stage1.block": Choice((ConvBN(8, name="c"), ConvBN(16, name="d")))})
    assert new.at("stage1/c1").filters == 8


def test_a_value_may_be_a_blueprint_in_json_form():
    bp = builder.load("lenet5")
    new = builder.edit(bp, {"head": {"type": "ClassifierHead", "classes": 3, "pool": "none"}})
    assert builder.analyze(new).output_shape == (3,)


def test_side_output_fields_resolve_outermost_first():
    head = ClassifierHead(4, pool="flatten", dropout=0.1, name="aux")
    bp = Network((8, 8, 1), Sequence(Conv2D(4, name="conv"), SideOutput(head, name="side"),
                                     Flatten(name="flat")), classes=4)
    assert bp.at("side").kind == "SideOutput"
    new = builder.edit(bp, {"side.loss_weight": 0.5, "side.dropout": 0.3})
    assert new.at("side").loss_weight == 0.5
    assert new.at("side").head.dropout == 0.3


def test_at_inside_a_block_or_a_layer_says_why():
    bp = builder.load("resnet50")
    with pytest.raises(BlueprintError, match="makes when it expands"):
        bp.at("stem/conv/conv")
    layer = Network((4,), Sequence(Dense(3, name="fc")), classes=2)
    with pytest.raises(BlueprintError, match="is a layer with no parts"):
        layer.at("fc/kernel")


def test_parse_sets():
    edits = builder.parse_sets(["stage2/block1.filters=64", "head.dropout=0.2",
                                "head.activation=relu", "stem/conv.kernel_size=(5, 5)",
                                "x.use_bias=false", "head=None", "y.padding='valid'"])
    assert edits == {"stage2/block1.filters": 64, "head.dropout": 0.2,
                     "head.activation": "relu", "stem/conv.kernel_size": (5, 5),
                     "x.use_bias": False, "head": None, "y.padding": "valid"}
    json.dumps(edits)  # recordable as given
    for bad in ("nodot", "a.b=", "=3", "a.b=(1,"):
        with pytest.raises(ArgumentError):
            builder.parse_sets([bad])


def test_edit_of_a_plain_blueprint_needs_no_network():
    unit = Sequence(Conv2D(8, name="conv"), Conv2D(8, name="conv2"), name="unit")
    new = builder.edit(unit, {"unit/conv.filters": 4}, input_shape=(8, 8, 3))
    assert new.at("unit/conv").filters == 4
    assert isinstance(new.at("unit/conv"), Layer)
    assert Repeat(unit, 2).at("repeat/unit2") == unit  # the root is named as summary names it
