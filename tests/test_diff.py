"""``builder diff`` and ``--set`` on the command line: what differs between two
blueprints, and edits given as PATH=VALUE."""

import json

import pytest

import builder
from builder.cli import main
from builder.compare import compare, merged


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_an_edit_shows_as_its_own_change():
    a = builder.load("resnet50")
    b = builder.edit(a, {"stage2/block1.filters": 64, "head.dropout": 0.2})
    result = compare(a, b)
    assert [(c.key, c.a, c.b) for c in result.changes] == [
        ("stage2/block1.filters", 128, 64), ("head.dropout", 0.0, 0.2)]
    rows = {r.path: r for r in result.rows}
    assert rows["stage2"].params_change == 25_492_712 - 25_636_712
    assert rows["stage1"].params_change == 0 and rows["stage1"].macs_change == 0
    assert sum(r.params_change for r in result.rows) == -144_000
    assert compare(a, a).changes == []


def test_the_changes_replay_as_edits():
    a, b = builder.load("lenet5_full"), builder.load("lenet5_full", dropout=0.5)
    b = builder.edit(b, {"c3/conv.filters": 20, "f6/act.function": "relu"})
    edits = {c.key: c.b for c in compare(a, b).changes}
    assert edits == {"c3/conv.filters": 20, "f6/act.function": "relu", "head.dropout": 0.5}
    assert builder.edit(a, edits) == b


def test_blueprints_on_one_side_only():
    result = compare(builder.load("resnet18"), builder.load("resnet34"), depth=2)
    added = [c for c in result.changes if c.a is None]
    assert [c.path for c in added] == ["stage1/block3", "stage2/block3", "stage2/block4",
                                       "stage3/block3", "stage3/block4", "stage3/block5",
                                       "stage3/block6", "stage4/block3"]
    assert all(c.field is None and c.b == "BasicBlock" for c in added)
    rows = [r.path for r in result.rows]
    assert rows.index("stage1/block3") == rows.index("stage1/block2") + 1  # kept in place
    assert next(r for r in result.rows if r.path == "stage1/block3").a is None
    kinds = compare(builder.load("lenet5"), builder.load("lenet5_full")).changes
    assert ("s2/pool", "Subsampling", "AvgPool2D") in [(c.key, c.a, c.b) for c in kinds]


def test_merged_keeps_both_orders():
    assert merged(["a", "b", "d"], ["a", "c", "d", "e"]) == ["a", "b", "c", "d", "e"]


def test_diff_json_shape(capsys):
    doc = run_json(capsys, "diff", "resnet18", "--set-b", "stage4/block2.filters=256",
                   "--input-shape", "64,64,3", "--json")
    assert set(doc) == {"a", "b", "depth", "changes", "blocks", "params_change", "macs_change"}
    assert set(doc["a"]) == {"name", "input_shape", "output_shape", "total_params", "macs"}
    assert doc["a"]["input_shape"] == [64, 64, 3] == doc["b"]["input_shape"]
    assert doc["changes"] == [{"key": "stage4/block2.filters", "path": "stage4/block2",
                               "field": "filters", "a": 512, "b": 256}]
    stage4 = next(r for r in doc["blocks"] if r["path"] == "stage4")
    assert set(stage4) == {"path", "a", "b", "params_change", "macs_change"}
    assert set(stage4["a"]) == {"kind", "output_shape", "params", "macs"}
    assert stage4["params_change"] < 0
    assert sum(r["params_change"] for r in doc["blocks"]) == doc["params_change"]
    assert doc["params_change"] == doc["b"]["total_params"] - doc["a"]["total_params"]


def test_diff_table(capsys):
    assert main(["diff", "lenet5", "lenet5_full"]) == 0
    out = capsys.readouterr().out
    assert "c1/act.function: \"lecun_tanh\" -> \"tanh\"" in out
    assert "Subsampling -> AvgPool2D" in out
    assert "60,850" in out and "61,706" in out and "+856" in out


def test_set_on_summary_and_both_sides(capsys):
    doc = run_json(capsys, "summary", "resnet50", "--set", "stage2/block1.filters=64",
                   "--set", "head.dropout=0.2", "--json")
    assert doc["total_params"] == 25_492_712
    # --set applies to both sides, --set-a/--set-b to one
    doc = run_json(capsys, "diff", "lenet5", "--set", "head.classes=5", "--set-b",
                   "head.dropout=0.1", "--json")
    assert doc["a"]["output_shape"] == [5] == doc["b"]["output_shape"]
    assert [c["key"] for c in doc["changes"]] == ["head.dropout"]


@pytest.mark.parametrize("argv, words", [
    (["summary", "resnet50", "--set", "stage2/block1.filter=64"],
     ["--set 'stage2/block1.filter=64'", "did you mean 'filters'"]),
    (["summary", "resnet50", "--set", "stage2/block1/conv2.filters=64"],
     ["--set 'stage2/block1/conv2.filters=64'", "makes when it expands"]),
    (["summary", "lenet5", "--set", "head.dropout"], ["is not PATH.FIELD=VALUE"]),
    (["summary", "lenet5", "--set", "head.dropout=x y"], ["'x y' is not a value"]),
    (["summary", "lenet5", "--set", "head.dropout=2"], ["ClassifierHead.dropout must be < 1"]),
    (["diff", "lenet5", "--set-b", "c5/conv.filters=0"], ["--set-b 'c5/conv.filters=0'"]),
    (["plot", "lenet5", "-o", "x.dot", "--set", "nope.x=1"], ["no blueprint at 'nope'"]),
])
def test_bad_sets_are_one_line(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    for word in words:
        assert word in err


def test_plot_takes_set(tmp_path, capsys):
    out = tmp_path / "lenet.dot"
    assert main(["plot", "lenet5", "-o", str(out), "--set", "c5/conv.filters=60"]) == 0
    assert "60" in out.read_text()
