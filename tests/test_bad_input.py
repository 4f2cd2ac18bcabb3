"""Bad input on the command line, as careless users, hostile files and bad luck give it:
exit status 2, exactly one line on stderr starting ``error:`` (no traceback), nothing on
stdout, and nothing left on disk.

One table for every command: a row is (id, arguments, words the message must hold).
Arguments may name the files of ``FILES``, which every row finds in its working folder.
"""

import json

import pytest

# Files each row finds in its (otherwise empty) working folder: text, bytes, or None for
# a folder.
REPEAT_10_12 = ('{"type": "Network", "input_shape": [8], "body": {"type": "Repeat", '
                '"block": {"type": "Dense", "units": 2}, "times": 1000000000000}}')


def _network(body, shape=(8, 8, 3)):
    return json.dumps({"type": "Network", "input_shape": list(shape), "body": body})


def _nested_sequences(levels):
    doc = {"type": "Dense", "units": 2}
    for _ in range(levels):
        doc = {"type": "Sequence", "layers": [doc]}
    return _network(doc, (4,))


FILES = {
    "broken.json": "{",
    "empty.json": "",
    "latin1.json": b'{"type": "Network", "name": "r\xe9seau"}',
    "list.json": "[]",
    "null.json": "null",
    "number.json": "3",
    "marker.json": '{"type": "Choice", "values": [1, 2]}',
    "unknown_type.json": '{"type": "Conv3D", "filters": 3}',
    "unknown_field.json": '{"type": "Dense", "units": 3, "unit": 4}',
    "code.json": '{"type": "os.system", "command": "touch pwned"}',
    "repeat.json": REPEAT_10_12,
    "dense_block.json": _network({"type": "DenseBlock", "layers": 10**12}),
    "repeat_of_repeat.json": _network({"type": "Repeat", "times": 10000, "block": {
        "type": "Repeat", "times": 10000, "block": {"type": "Dense", "units": 2}}}, (4,)),
    "nested.json": _nested_sequences(230),
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "nan.json": _network({"type": "Dropout", "rate": float("nan")}),
    "inf.json": _network({"type": "BatchNorm", "epsilon": float("inf")}),
    "huge_int.json": '{"type": "Dense", "units": ' + "9" * 5000 + "}",
    "null_channel.json": _network({"type": "BatchNorm"}, (8, 8, None)),
    "empty_reshape.json": _network({"type": "Sequence", "layers": [
        {"type": "Reshape", "target_shape": []}, {"type": "Dense", "units": 2}]}, (1,)),
    "rescaling.json": _network({"type": "Rescaling", "scale": [1.0, 2.0]}),
    "folder.json": None,
    "syntax.py": "blueprint = (\n",
    "raises.py": "import builder\nblueprint = 1 / 0\n",
    "exits.py": "import sys\nsys.exit(3)\n",
    "missing_import.py": "import no_such_module_here\n",
    "not_a_blueprint.py": "blueprint = 42\n",
    "factory.py": ("def blueprint(input_shape=None, classes=None, include_top=True, dropout=None):\n"
                   "    raise ValueError('no input\\nshape')\n"),
    "bad_field.py": "from builder import Conv2D\nblueprint = Conv2D(-1)\n",
    "plot_folder.png": None,
}

CASES = [
    # JSON files
    ("json-broken", ["summary", "broken.json"], ["broken.json", "not valid JSON"]),
    ("json-empty", ["summary", "empty.json"], ["empty.json", "not valid JSON"]),
    ("json-not-utf8", ["summary", "latin1.json"], ["latin1.json", "not UTF-8"]),
    ("json-list", ["summary", "list.json"], ["list.json", "a list, not a blueprint"]),
    ("json-null", ["summary", "null.json"], ["null.json", "null, not a blueprint"]),
    ("json-number", ["summary", "number.json"], ["not a blueprint"]),
    ("json-marker", ["summary", "marker.json"], ["marker.json", "Choice marker"]),
    ("json-unknown-type", ["summary", "unknown_type.json"], ["did you mean 'Conv2D'"]),
    ("json-unknown-field", ["summary", "unknown_field.json"], ["no field 'unit'"]),
    ("json-code", ["summary", "code.json"], ["unknown blueprint type 'os.system'"]),
    ("json-repeat-10**12", ["summary", "repeat.json"], ["$.body", "Repeat.times must be <= 10000"]),
    ("json-dense-block-10**12", ["summary", "dense_block.json"], ["DenseBlock.layers"]),
    ("json-repeat-of-repeat", ["summary", "repeat_of_repeat.json"], ["more than 100,000 blueprints"]),
    ("json-nested-230", ["summary", "nested.json"], ["nested too deeply"]),
    ("json-deep-lists", ["summary", "deep.json"], ["nested too deeply"]),
    ("json-nan", ["summary", "nan.json"], ["Dropout.rate must be a finite number"]),
    ("json-inf", ["summary", "inf.json"], ["BatchNorm.epsilon must be a finite number"]),
    ("json-5000-digits", ["summary", "huge_int.json"], ["huge_int.json", "too many digits"]),
    ("json-null-channel", ["summary", "null_channel.json"], ["known number of input channels"]),
    ("json-empty-reshape", ["summary", "empty_reshape.json"], ["Reshape.target_shape is empty"]),
    ("json-rescaling", ["summary", "rescaling.json"], ["2 values for 3 channels"]),
    ("json-folder", ["summary", "folder.json"], ["folder.json", "cannot read"]),
    ("json-missing", ["summary", "missing.json"], ["missing.json", "cannot read"]),
    ("json-plot", ["plot", "nan.json", "-o", "net.png"], ["finite"]),
    ("json-plot-repeat", ["plot", "repeat.json", "-o", "net.dot"], ["Repeat.times"]),
    # Python files
    ("py-syntax", ["summary", "syntax.py"], ["syntax.py", "syntax error at line 1"]),
    ("py-raises", ["summary", "raises.py"], ["raises.py", "ZeroDivisionError at line 2"]),
    ("py-exits", ["summary", "exits.py"], ["exits.py", "sys.exit(3)"]),
    ("py-import", ["summary", "missing_import.py"], ["no_such_module_here"]),
    ("py-not-a-blueprint", ["summary", "not_a_blueprint.py"], ["int, not a blueprint"]),
    ("py-factory", ["summary", "factory.py"], ["factory.py", "ValueError at line 2", "no input shape"]),
    ("py-attribute", ["summary", "not_a_blueprint.py:other"], ["has no attribute 'other'"]),
    ("py-bad-field", ["summary", "bad_field.py"], ["Conv2D.filters"]),
    ("py-missing", ["summary", "missing.py"], ["no such file"]),
    ("py-plot", ["plot", "exits.py", "-o", "net.png"], ["sys.exit(3)"]),
    # names and options
    ("name-unknown", ["summary", "lenet6"], ["did you mean 'lenet5'"]),
    ("name-folder", ["summary", "plot_folder.png"], ["not a registered name"]),
    ("shape-letters", ["summary", "lenet5", "--input-shape", "a,b"], ["--input-shape"]),
    ("shape-empty", ["summary", "lenet5", "--input-shape", ""], ["--input-shape"]),
    ("shape-zero", ["summary", "lenet5", "--input-shape", "0,32,1"], ["--input-shape"]),
    ("shape-huge", ["summary", "lenet5", "--input-shape", "9" * 30 + ",32,1"], ["at most"]),
    ("shape-rank", ["summary", "lenet5", "--input-shape", "32"], ["(height, width, channels)"]),
    ("shape-too-small", ["summary", "lenet5", "--input-shape", "8,8,1"], ["does not fit"]),
    ("shape-scaled", ["summary", "efficientnet_b0", "--input-shape", "5"], ["resolution"]),
    ("classes-zero", ["summary", "lenet5", "--classes", "0"], ["--classes"]),
    ("classes-huge", ["summary", "lenet5", "--classes", "9" * 30], ["at most"]),
    ("depth-zero", ["summary", "lenet5", "--depth", "0"], ["--depth"]),
    ("summary-no-spec", ["summary"], ["SPEC"]),
    ("list-option", ["list", "--bogus"], ["--bogus"]),
    ("list-argument", ["list", "lenet5"], ["lenet5"]),
    ("plot-extension", ["plot", "lenet5", "-o", "net.txt"], ["--output"]),
    ("plot-no-folder", ["plot", "lenet5", "-o", "nowhere/net.png"], ["cannot write"]),
    ("plot-folder", ["plot", "lenet5", "-o", "plot_folder.png"], ["is a folder"]),
    ("plot-no-output", ["plot", "lenet5"], ["--output"]),
]


def _make_files(folder):
    for name, content in FILES.items():
        path = folder / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.is_dir() or p.read_bytes())
                  for p in folder.rglob("*"))


@pytest.mark.parametrize("args, words", [pytest.param(a, w, id=i) for i, a, w in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(cli, tmp_path, args, words):
    _make_files(tmp_path)
    before = _snapshot(tmp_path)
    out = cli(*args, cwd=tmp_path, timeout=120)
    lines = out.stderr.splitlines()
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for word in words:
        assert word in lines[0]
    assert out.stdout == ""
    assert _snapshot(tmp_path) == before
