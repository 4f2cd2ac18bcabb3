"""Exports of a run: written atomically, loaded back by the format's own runtime, and
compared output for output with the Keras model."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import builder
from builder import export as ex


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as 'builder train' writes it (model.keras, blueprint.json ...)."""
    path = tmp_path_factory.mktemp("runs") / "lenet"
    path.mkdir()
    bp = builder.load("lenet5_full")
    model = builder.build(bp)
    model.save(path / "model.keras")
    (path / "blueprint.json").write_text(bp.to_json())
    (path / "config.json").write_text(json.dumps({"epochs": 1, "class_names": [str(i) for i in range(10)]}))
    (path / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    return str(path)


def test_saved_model_takes_raw_images_of_any_batch_and_size(run_dir, tmp_path):
    import tensorflow as tf

    out = str(tmp_path / "sm")
    results = ex.export(run_dir, "saved_model", out)
    assert all(diff <= 1e-4 for _, diff in results)
    loaded = tf.saved_model.load(out)
    model = ex.load_run(run_dir).model
    x = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 1), dtype=np.uint8)
    probs = list(loaded.signatures["serving_default"](images=tf.constant(x)).values())[0].numpy()
    np.testing.assert_allclose(probs, model(x.astype("float32") / 255), atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    big = np.zeros((2, 64, 48, 1), np.uint8)  # any size: resized inside
    assert list(loaded.signatures["serving_default"](images=tf.constant(big)).values())[0].shape == (2, 10)
    meta = json.loads((tmp_path / "sm" / "builder.json").read_text())
    assert meta["blueprint"]["name"] == "lenet5_full" and len(meta["blueprint_sha256"]) == 64
    assert meta["metrics"] == {"test_accuracy": 0.5}


def test_keras_export_round_trip(run_dir, tmp_path):
    out = str(tmp_path / "model.keras")
    results = ex.export(run_dir, "keras", out)
    assert results[0][1] <= 1e-4 and os.path.isfile(out)


@pytest.mark.parametrize("fmt, name", [("onnx", "model.onnx"), ("tflite", "model.tflite")])
def test_onnx_and_tflite_verified(run_dir, tmp_path, fmt, name):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("tf2onnx")
    out = str(tmp_path / name)
    results = ex.export(run_dir, fmt, out)
    assert results and all(diff <= ex.TOLERANCE[fmt] for _, diff in results)
    assert os.path.isfile(out)
    assert sorted(os.listdir(tmp_path)) == sorted([name] + ([name + ".json"] if fmt == "tflite" else []))


def test_failed_export_leaves_nothing(run_dir, tmp_path, monkeypatch):
    def broken(run, path, reference):
        raise ex.ExportError("simulated mismatch")

    monkeypatch.setitem(ex.WRITERS, "saved_model", (ex.WRITERS["saved_model"][0], broken))
    with pytest.raises(ex.ExportError):
        ex.export(run_dir, "saved_model", str(tmp_path / "sm"))
    assert os.listdir(tmp_path) == []


def _ended_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_an_export_removes_the_remains_of_killed_exports_of_its_target(run_dir, tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp_path / f".m.keras.partial-{_ended_pid()}-abcd1234"
        running = tmp_path / f".m.keras.partial-{live.pid}-efgh5678"
        unknown = tmp_path / ".m.keras.partial-ijkl9012"   # no pid in the name: left alone
        other = tmp_path / f".other.keras.partial-{_ended_pid()}-mnop3456"  # not this target
        old = tmp_path / f"m.keras.old-{_ended_pid()}"       # killed between two renames
        for folder in (dead, running, unknown, other):
            (folder / "export").mkdir(parents=True)
        old.write_text("a previous export")
        ex.export(run_dir, "keras", str(tmp_path / "m.keras"))
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.keras", running.name, unknown.name, other.name])


@pytest.mark.slow
def test_the_next_export_cleans_up_after_a_killed_one(run_dir, tmp_path, cli):
    from conftest import start_cli

    target = tmp_path / "sm"
    killed = start_cli("export", run_dir, "--format", "saved_model", "--out", target)
    deadline = time.time() + 300
    while not list(tmp_path.glob(".sm.partial-*/export/*")):
        assert killed.poll() is None and time.time() < deadline, "the export ended first"
        time.sleep(0.02)
    killed.kill()
    killed.wait()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".sm.partial-{killed.pid}-")
    result = cli("export", run_dir, "--format", "saved_model", "--out", target)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]


@pytest.mark.slow
def test_cli_export_prints_the_comparison(run_dir, tmp_path, cli):
    out = cli("export", run_dir, "--format", "keras", "--out", str(tmp_path / "m.keras"))
    assert out.returncode == 0, out.stderr
    assert "max |difference|" in out.stdout


@pytest.mark.parametrize("args, words", [
    (("--format", "keras", "--out", "{tmp}/m.onnx"), ["ending in .keras"]),
    (("--format", "saved_model", "--out", "{tmp}/missing/sm"), ["cannot write"]),
    (("--format", "pickle", "--out", "{tmp}/x"), ["--format"]),
])
def test_cli_export_bad_arguments(run_dir, tmp_path, args, words, cli):
    out = cli("export", run_dir, *[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 2 and out.stderr.startswith("error:")
    for w in words:
        assert w in out.stderr


def test_cli_export_not_a_run(tmp_path, cli):
    out = cli("export", str(tmp_path), "--format", "keras", "--out", str(tmp_path / "m.keras"))
    assert out.returncode == 2 and "not a run directory" in out.stderr


@pytest.mark.slow
def test_existing_target_needs_force(run_dir, tmp_path, cli):
    out = tmp_path / "m.keras"
    out.write_text("old")
    result = cli("export", run_dir, "--format", "keras", "--out", str(out))
    assert result.returncode == 2 and "--force" in result.stderr
    assert out.read_text() == "old"
    result = cli("export", run_dir, "--format", "keras", "--out", str(out), "--force")
    assert result.returncode == 0 and out.read_bytes()[:2] == b"PK"


def _mixed_run(folder, policy):
    """A run directory whose model was built (and would train) under ``policy``."""
    import keras

    folder.mkdir()
    bp = builder.load("lenet5_full")
    keras.config.set_dtype_policy(policy)
    try:
        model = builder.build(bp)
    finally:
        keras.config.set_dtype_policy("float32")
    # Trained-looking weights: not the initial ones, so a rebuild that lost them shows.
    rng = np.random.default_rng(1)
    model.set_weights([w + 0.05 * rng.standard_normal(w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    model.save(folder / "model.keras")
    (folder / "blueprint.json").write_text(bp.to_json())
    (folder / "config.json").write_text(json.dumps({"precision": {"policy": policy}}))
    (folder / "metrics.json").write_text("{}")
    return str(folder), model


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.slow
def test_a_mixed_precision_run_exports_float32_in_every_format(tmp_path, policy):
    run, trained = _mixed_run(tmp_path / "run", policy)
    loaded = ex.load_run(run)
    assert loaded.trained_policy == policy
    assert {layer.dtype_policy.name for layer in loaded.model.layers} == {"float32"}
    for ours, theirs in zip(loaded.model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # the trained weights, float32 already
    targets = {"saved_model": "sm", "keras": "m.keras", "onnx": "m.onnx", "tflite": "m.tflite"}
    for fmt, name in targets.items():
        results = ex.export(run, fmt, str(tmp_path / name))
        checked = [diff for label, diff in results if "information" not in label]
        assert checked and all(diff <= ex.TOLERANCE[fmt] for diff in checked), (fmt, results)
        drift = [diff for label, diff in results if "information" in label]
        assert len(drift) == 1 and 0 < drift[0] < 0.05, (fmt, results)  # reduced precision
    meta = json.loads((tmp_path / "sm" / ex.METADATA).read_text())
    assert meta["precision"] == {"export": "float32", "training": policy}


@pytest.mark.slow
def test_train_in_bfloat16_then_export_a_saved_model_from_the_command_line(tmp_path, cli):
    run = tmp_path / "run"
    out = cli("train", "lenet5", "--epochs", "1", "--precision", "mixed_bfloat16",
              "--out", str(run))
    assert out.returncode == 0, out.stderr
    out = cli("export", str(run), "--format", "saved_model", "--out", str(tmp_path / "sm"))
    assert out.returncode == 0, out.stderr
    assert "mixed_bfloat16 model as trained" in out.stdout
