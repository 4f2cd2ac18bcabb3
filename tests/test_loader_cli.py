"""builder.load (names, Python files, JSON files), markers at their defaults, and the
command line as a user runs it."""

import json

import pytest

import builder
from builder import BlueprintError

NET = """
from builder import Network, Sequence, Conv2D, GlobalPool, ClassifierHead, Choice

blueprint = Network((16, 16, 1), Sequence((Conv2D(Choice([8, 16]), 3, name="conv"),
                                           GlobalPool(name="pool"))),
                    ClassifierHead(4, pool="none"), name="small")

def wide(input_shape=(16, 16, 1), classes=4, include_top=True, dropout=0.0):
    return blueprint.replace(input_shape=input_shape, name="wide")
"""


@pytest.fixture
def netfile(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return str(path)


def test_load_registered_name_with_options():
    bp = builder.load("lenet5", classes=3)
    assert builder.analyze(bp).output_shape == (3,)
    with pytest.raises(BlueprintError, match="takes no option 'clases'.*did you mean 'classes'"):
        builder.load("lenet5", clases=3)


def test_load_python_file_default_attribute_and_factory(netfile):
    bp = builder.load(netfile)
    assert bp.name == "small"
    # markers analyze and build at their defaults
    assert builder.analyze(bp).total_params == (9 + 1) * 8 + 8 * 4 + 4
    assert builder.load(f"{netfile}:wide", input_shape=(32, 32, 1)).input_shape == (32, 32, 1)
    assert builder.load(netfile, classes=7).head.classes == 7


def test_load_errors_name_the_file(tmp_path, netfile):
    with pytest.raises(BlueprintError) as e:
        builder.load(f"{netfile}:missing")
    assert netfile in str(e.value) and "has no attribute 'missing'" in str(e.value)
    assert "blueprint" in str(e.value)
    with pytest.raises(BlueprintError, match="no such file"):
        builder.load(str(tmp_path / "absent.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("x = (\n")
    with pytest.raises(BlueprintError, match="syntax error at line"):
        builder.load(str(bad))
    wrong = tmp_path / "wrong.py"
    wrong.write_text("from builder import Conv2D\nblueprint = Conv2D(-1)\n")
    with pytest.raises(BlueprintError) as e:
        builder.load(str(wrong))
    assert str(wrong) in str(e.value) and "Conv2D.filters" in str(e.value)


def test_load_json_file(tmp_path):
    path = tmp_path / "lenet.json"
    path.write_text(builder.load("lenet5").to_json())
    assert builder.load(str(path)) == builder.load("lenet5")
    assert builder.load(str(path), classes=5).head.classes == 5
    with pytest.raises(BlueprintError, match="cannot read"):
        builder.load(str(tmp_path / "none.json"))


def test_markers_build_at_defaults(netfile):
    model = builder.build(builder.load(netfile))
    assert model.get_layer("conv").filters == 8


def test_layer_names_come_from_paths():
    model = builder.build(builder.load("lenet5"))
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["input", "c1.conv", "c1.act", "s2.pool.pool"]
    assert names[-1] == "head.predictions"
    assert model.get_layer("head.predictions").dtype_policy.name == "float32"
    # deterministic: a second build names every layer the same
    assert [layer.name for layer in builder.build(builder.load("lenet5")).layers] == names


def test_cli_summary_json_fields(cli):
    out = cli("summary", "lenet5", "--json", "--depth", "2")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"name", "input_shape", "output_shape", "total_params", "trainable_params",
                        "non_trainable_params", "macs", "blocks"}
    assert doc["total_params"] == 60850
    assert set(doc["blocks"][0]) == {"path", "kind", "output_shape", "params", "macs"}
    assert {b["path"]: b["params"] for b in doc["blocks"]}["c3/conv"] == 1516


def test_cli_summary_table_and_list(cli):
    out = cli("summary", "lenet5", "--classes", "10")
    assert out.returncode == 0 and "60,850" in out.stdout and "c3" in out.stdout
    out = cli("list")
    assert out.returncode == 0 and "lenet5" in out.stdout


@pytest.mark.parametrize("args, words", [
    (("summary", "lenet6"), ["did you mean 'lenet5'"]),
    (("summary", "lenet5", "--input-shape", "8,8,1"), ["c3/conv", "does not fit"]),
    (("summary", "lenet5", "--input-shape", "a,b"), ["--input-shape"]),
    (("summary", "missing.json"), ["missing.json"]),
    (("summary", "lenet5", "--depth", "0"), ["--depth"]),
])
def test_cli_user_errors_are_one_line_and_status_2(args, words, cli):
    out = cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for w in words:
        assert w in lines[0]


def test_cli_debug_shows_traceback(cli):
    out = cli("summary", "lenet6", "--debug")
    assert out.returncode == 2 and "Traceback" in out.stderr
