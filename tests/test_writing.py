"""Writing blueprints as a new user would: children one by one, ``Network(classes=)``,
a classifier head on features."""

import json

import pytest

import builder
from builder.dsl import (Choice, ClassifierHead, Conv2D, Dense, Flatten, GlobalPool, Network,
                         Parallel, Sequence)
from builder.errors import BlueprintError


def dumps(bp):
    return json.dumps(bp.to_dict(), sort_keys=True)


def test_sequence_takes_children_one_by_one_or_as_a_tuple():
    a, b, c = Conv2D(8, name="a"), Conv2D(8, name="b"), Flatten(name="c")
    one_by_one = Sequence(a, b, c, name="s")
    assert one_by_one == Sequence((a, b, c), name="s") == Sequence([a, b, c], name="s")
    assert one_by_one == Sequence(layers=(a, b, c), name="s")
    assert Sequence(a).layers == (a,)
    assert dumps(builder.from_json(one_by_one.to_json())) == dumps(Sequence((a, b, c), name="s"))
    # a marker standing for a child counts as a child
    assert Sequence(Choice((a, b)), c).layers[1] is c


def test_parallel_takes_branches_one_by_one_then_its_merge():
    a, b = Conv2D(8, 1, name="a"), Conv2D(8, 3, name="b")
    assert Parallel(a, b, "add") == Parallel((a, b), "add") == Parallel(a, b, merge="add")
    assert Parallel(a, b).merge == "concat"


@pytest.mark.parametrize("make, words", [
    (lambda: Sequence(Conv2D(8), 3), ["Sequence: each child must be a blueprint, got 3"]),
    (lambda: Sequence(Conv2D(8), layers=(Conv2D(8),)), ["given both one by one and as layers="]),
    (lambda: Parallel(Conv2D(8), Conv2D(8), "add", "x"), ["takes 1 argument(s) after the children"]),
    (lambda: Conv2D(), ["Conv2D: missing 1 required positional argument: 'filters'"]),
])
def test_wrong_children_say_what_is_wrong(make, words):
    with pytest.raises(BlueprintError) as error:
        make()
    for word in words:
        assert word in str(error.value)


def test_network_classes_makes_the_head():
    body = Sequence(Conv2D(8, name="conv"))
    net = Network((8, 8, 1), body, classes=10)
    assert net.head == ClassifierHead(10)
    assert net.classes == 10
    # No new field: the JSON form is the one a head written out has.
    assert dumps(net) == dumps(Network((8, 8, 1), body, ClassifierHead(10)))
    assert "classes" not in net.to_dict()
    assert builder.from_json(net.to_json()) == net
    assert Network((8, 8, 1), body, ClassifierHead(10), classes=10) == net  # they agree


@pytest.mark.parametrize("head", [ClassifierHead(5), None])
def test_network_classes_and_a_head_that_disagree(head):
    with pytest.raises(BlueprintError, match=r"classes=10 and head=.* disagree"):
        Network((8, 8, 1), Conv2D(8), head=head, classes=10)


def test_network_stays_frozen():
    net = Network((8, 8, 1), Conv2D(8), classes=3)
    with pytest.raises(Exception):
        net.head = None
    with pytest.raises(BlueprintError, match="has no field 'classes'"):
        net.replace(classes=4)


def test_a_head_on_features_needs_no_pooling():
    net = Network((8, 8, 1), Sequence(Flatten(), Dense(32, activation="relu")), classes=10)
    report = builder.analyze(net)
    assert report.output_shape == (10,)
    assert [r.path for r in report.blocks(2)] == ["input", "flatten1", "dense2", "head/logits",
                                                   "head/predictions"]
    assert report.total_params == 64 * 32 + 32 + 32 * 10 + 10
    # On an image the head still pools.
    pooled = builder.analyze(Network((8, 8, 1), Conv2D(8), classes=10))
    assert "head/pool" in [r.path for r in pooled.blocks(2)]


def test_global_pool_on_features_says_why():
    with pytest.raises(BlueprintError, match="features already, which need no pooling"):
        builder.analyze(Sequence(Flatten(), GlobalPool()), (4, 4, 1))
