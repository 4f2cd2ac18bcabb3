"""Bad input on the command line, as careless users, hostile files and bad luck give it:
exit status 2, exactly one line on stderr starting ``error:`` (no traceback), nothing on
stdout, and nothing left on disk.

One table for every command: a row is (id, arguments, words the message must hold).
Arguments may name the files of ``FILES``, which every row finds in its working folder.
Rows run ``builder.cli.main`` in this process (fast); those in ``SUBPROCESS`` run
``python -m builder`` as a user does: where what reaches the terminal comes from a library's
logging (pytest captures logging in-process), and a few of each kind so that the real
start-up path is covered too.
"""

import functools
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from builder.cli import main
from conftest import run_cli

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


# A network on 8x8 grey images (the digits' own size), and run directories around it.
SMALL = json.dumps({"type": "Network", "name": "small", "input_shape": [8, 8, 1],
                    "body": {"type": "Sequence", "layers": [
                        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "name": "conv"}]},
                    "head": {"type": "ClassifierHead", "classes": 10}})
RUN_CONFIG = json.dumps({"options": {"data": "digits"}, "input_shape": [8, 8, 1],
                         "classes": 10, "class_names": [str(i) for i in range(10)]})
SPACE = ("from builder import Choice, ClassifierHead, Conv2D, Network, Sequence\n"
         "blueprint = Network((8, 8, 1), Sequence((Conv2D(Choice([4, 8]), 3, name='conv'),)),"
         " ClassifierHead(10), name='space')\n")


@functools.cache
def _model_file(kind: str) -> bytes:
    """A .keras file: SMALL as builder builds it ("small"), or a model with a Lambda layer,
    which Keras's safe mode refuses to load ("lambda")."""
    import keras

    import builder

    if kind == "small":
        model = builder.build(builder.from_json(SMALL))
    else:
        inputs = keras.Input((8, 8, 1))
        scaled = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
        model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(scaled)))
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "model.keras")
        return (Path(folder) / "model.keras").read_bytes()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _run_files(model) -> dict:
    """The files of a run directory whose model.keras is ``model``."""
    return {"config.json": RUN_CONFIG, "blueprint.json": SMALL, "model.keras": model}


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


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
    # training, runs, inference, export, tuning
    "small.json": SMALL,
    "space.py": SPACE,
    "one_class.npz": lambda: _npz(x=np.zeros((20, 8, 8), np.uint8), y=np.full(20, 3)),
    "weights.h5": b"not an HDF5 file",
    "digit.png": _png,
    "exists.keras": b"an earlier export",
    "empty_data_dir": None,
    **{f"broken_run/{k}": v for k, v in _run_files(b"PK but not a zip archive").items()},
    **{f"lambda_run/{k}": v for k, v in _run_files(lambda: _model_file("lambda")).items()},
    **{f"good_run/{k}": v for k, v in _run_files(lambda: _model_file("small")).items()},
    **{f"bad_config_run/{k}": v for k, v in _run_files(b"-").items()},
    "bad_config_run/config.json": "{",
    "unfinished_run/config.json": RUN_CONFIG,
    "unfinished_run/blueprint.json": SMALL,
    ".R.partial/config.json": RUN_CONFIG,  # killed before its first epoch
    ".R.partial/blueprint.json": SMALL,
}

QUICK = ["--precision", "float32", "--strategy", "none", "--epochs", "1"]

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
    # train
    ("train-npz-one-class", ["train", "small.json", "--data", "npz:one_class.npz", *QUICK],
     ["every training label is 3", "at least two classes"]),
    ("train-learning-rate-inf", ["train", "small.json", "--learning-rate", "inf"],
     ["--learning-rate must be a finite number, got inf"]),
    ("train-learning-rate-nan", ["train", "small.json", "--learning-rate", "nan"],
     ["--learning-rate must be a finite number"]),
    ("train-init-from-broken", ["train", "small.json", "--init-from", "broken_run", *QUICK],
     ["broken_run/model.keras", "not a .keras model file"]),
    ("train-init-from-lambda", ["train", "small.json", "--init-from",
                                "lambda_run/model.keras", *QUICK], ["Lambda", "cannot load"]),
    ("train-init-from-h5", ["train", "small.json", "--init-from", "weights.h5", *QUICK],
     ["weights.h5", "cannot read the weights"]),
    ("train-resume-without-epoch", ["train", "--resume", "--out", "R"],
     [".R.partial has no completed epoch", "train again without --resume"]),
    ("train-resume-with-spec", ["train", "small.json", "--resume", "--out", "R"],
     ["only --epochs may change"]),
    ("train-tfds-unprepared", ["train", "small.json", "--data", "tfds:mnist", "--data-dir",
                               "empty_data_dir"], ["not prepared in empty_data_dir"]),
    ("train-cache-near-miss", ["train", "small.json", "--cache", "memroy", *QUICK],
     ["--cache memroy", "did you mean 'memory'"]),
    ("train-cache-file", ["train", "small.json", "--cache", "small.json", *QUICK],
     ["--cache small.json is a file"]),
    ("train-max-bad-files", ["train", "small.json", "--max-bad-files", "1"],
     ["--max-bad-files"]),
    # evaluate
    ("evaluate-broken-model", ["evaluate", "broken_run"], ["not a .keras model file"]),
    ("evaluate-lambda-model", ["evaluate", "lambda_run"], ["Lambda"]),
    ("evaluate-unfinished", ["evaluate", "unfinished_run"], ["no model.keras", "--resume"]),
    ("evaluate-bad-config", ["evaluate", "bad_config_run"], ["config.json", "cannot read"]),
    ("evaluate-not-a-run", ["evaluate", "plot_folder.png"], ["not a run directory"]),
    ("evaluate-missing", ["evaluate", "nowhere"], ["nowhere is not a run directory"]),
    # predict
    ("predict-broken-model", ["predict", "broken_run", "digit.png"], ["not a .keras model"]),
    ("predict-lambda-model", ["predict", "lambda_run", "digit.png"], ["Lambda"]),
    ("predict-not-an-image", ["predict", "good_run", "syntax.py"],
     ["syntax.py", "not a readable image"]),
    ("predict-missing-image", ["predict", "good_run", "missing.png"], ["missing.png: no such file"]),
    ("predict-no-files", ["predict", "good_run"], ["FILE"]),
    # export
    ("export-broken-model", ["export", "broken_run", "--format", "keras", "--out", "m.keras"],
     ["not a .keras model file"]),
    ("export-lambda-model", ["export", "lambda_run", "--format", "onnx", "--out", "m.onnx"],
     ["Lambda"]),
    ("export-not-a-run", ["export", "plot_folder.png", "--format", "keras", "--out", "m.keras"],
     ["not a run directory"]),
    ("export-extension", ["export", "good_run", "--format", "onnx", "--out", "m.keras"],
     ["ending in .onnx"]),
    ("export-exists", ["export", "good_run", "--format", "keras", "--out", "exists.keras"],
     ["exists", "--force"]),
    ("export-no-folder", ["export", "good_run", "--format", "tflite", "--out", "no/m.tflite"],
     ["cannot write"]),
    ("export-format", ["export", "good_run", "--format", "pickle", "--out", "m"], ["--format"]),
    ("export-set-shape", ["export", "good_run", "--format", "keras", "--out", "m.keras", "--set",
                          "conv.filters=8"], ["--set 'conv.filters=8'", "does not fit", "weights"]),
    ("export-set-path", ["export", "good_run", "--format", "keras", "--out", "m.keras", "--set",
                         "nope.filters=8"], ["--set 'nope.filters=8'", "no blueprint at 'nope'"]),
    ("export-set-value", ["export", "good_run", "--format", "keras", "--out", "m.keras", "--set",
                          "conv.filters"], ["--set 'conv.filters'", "PATH.FIELD=VALUE"]),
    # tune
    ("tune-missing-data", ["tune", "space.py", "--data", "folder:missing", "--out", "S"],
     ["folder:", "does not exist"]),
    ("tune-objective", ["tune", "space.py", "--objective", "val_acc"], ["did you mean"]),
    ("tune-max-trials", ["tune", "space.py", "--max-trials", "0"], ["--max-trials"]),
    ("tune-hp", ["tune", "space.py", "--hp", "learning_rate=fast"], ["learning_rate"]),
    ("tune-worker", ["tune", "space.py", "--worker", "localhost"], ["HOST:PORT"]),
    ("tune-spec", ["tune", "raises.py"], ["ZeroDivisionError"]),
    # diff
    ("diff-missing", ["diff", "lenet5", "missing.json"], ["missing.json", "cannot read"]),
    ("diff-broken", ["diff", "broken.json", "lenet5"], ["broken.json", "not valid JSON"]),
    ("diff-set", ["diff", "lenet5", "lenet5", "--set-a", "nowhere.filters=3"], ["--set-a"]),
    ("diff-depth", ["diff", "lenet5", "--depth", "0"], ["--depth"]),
    # profile
    ("profile-unknown", ["profile", "lenet6"], ["did you mean 'lenet5'"]),
    ("profile-nan", ["profile", "nan.json"], ["finite"]),
    ("profile-batch-size", ["profile", "lenet5", "--batch-size", "0"], ["--batch-size"]),
    ("profile-precision", ["profile", "lenet5", "--precision", "float8"], ["--precision"]),
    ("profile-shape", ["profile", "lenet5", "--input-shape", "8,8,1"], ["does not fit"]),
]

# Rows run as a separate process (see the module's docstring).
SUBPROCESS = {"json-broken", "py-exits", "list-option", "train-tfds-unprepared",
              "evaluate-lambda-model"}


def _make_files(folder):
    for name, content in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = content() if callable(content) else content
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.is_dir() or p.read_bytes())
                  for p in folder.rglob("*"))


def _run(row, args, folder, monkeypatch, capfd):
    """(exit status, stdout, stderr) of the command line on ``args`` in ``folder``."""
    if row in SUBPROCESS:
        out = run_cli(*args, cwd=folder, timeout=300)
        return out.returncode, out.stdout, out.stderr
    monkeypatch.chdir(folder)
    capfd.readouterr()  # what making the files printed (Keras's first import) is not the row's
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse's own errors
        code = e.code
    printed = capfd.readouterr()
    return code, printed.out, printed.err


@pytest.mark.parametrize("row, args, words", [pytest.param(i, a, w, id=i) for i, a, w in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, monkeypatch, capfd, row,
                                                        args, words):
    _make_files(tmp_path)
    before = _snapshot(tmp_path)
    code, out, err = _run(row, args, tmp_path, monkeypatch, capfd)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0]
    assert out == ""
    assert _snapshot(tmp_path) == before


def test_the_table_covers_every_command():
    from builder.cli import parser

    commands = set(parser()._subparsers._group_actions[0].choices)
    assert commands == {args[0] for _, args, _ in CASES}
    assert SUBPROCESS <= {row for row, _, _ in CASES}


# --- tfds --download without a network ---------------------------------------------------------

def _offline(monkeypatch):
    import socket

    def unreachable(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unreachable)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_download_offline_fails_at_once_and_leaves_nothing(tmp_path, monkeypatch, capfd):
    import time

    pytest.importorskip("tensorflow_datasets")
    _make_files(tmp_path)
    before = _snapshot(tmp_path)
    _offline(monkeypatch)
    start = time.time()
    code, out, err = _run("offline", ["train", "small.json", "--data", "tfds:mnist", "--download",
                                      "--data-dir", "empty_data_dir"], tmp_path, monkeypatch,
                          capfd)
    assert time.time() - start < 60  # tfds alone retried every file for 212 s
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: tfds:mnist:train: cannot download: storage.googleapis.com:443 is unreachable "
        "(Name or service not known); downloading needs network access (prepare the dataset "
        "on a machine that has it, then pass --data-dir to a copy)"]
    assert _snapshot(tmp_path) == before


def test_a_failed_download_removes_what_it_left(tmp_path, monkeypatch, capfd):
    from builder.data import tfds_source

    root = tmp_path / "data"
    (root / "downloads").mkdir(parents=True)
    (root / "downloads" / "other.zip").write_bytes(b"a download of another dataset")
    before = _snapshot(root)

    class Builder:  # what tfds leaves when the network drops in the middle
        data_dir_root = str(root)

        def is_prepared(self):
            return False

        def download_and_prepare(self):
            for path in ("downloads/mnist/train.gz.tmp.8f3a", "downloads/extracted",
                         "mnist/3.0.1.incomplete.Q2X8/mnist-train.tfrecord"):
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(b"half") if "." in Path(path).name else \
                    (root / path).mkdir()
            raise ConnectionError("Connection reset by peer")

    monkeypatch.setattr(tfds_source, "_builder", lambda src, data_dir: Builder())
    monkeypatch.setattr(tfds_source, "_check_network", lambda src: None)
    (tmp_path / "small.json").write_text(SMALL)
    code, out, err = _run("failed-download", ["train", "small.json", "--data", "tfds:mnist",
                                              "--download", "--data-dir", str(root)],
                          tmp_path, monkeypatch, capfd)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "could not download and prepare" in err and "reset by peer" in err
    assert _snapshot(root) == before
