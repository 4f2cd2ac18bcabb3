"""builder's FusedBatchNorm: Keras's BatchNormalization computed by one fused TensorFlow
kernel, built under ``builder.ops.fused_batch_norm`` and by ``train --precision auto`` on
a CPU; the same results, weights and saved form as the layer it replaces."""

import json

import numpy as np
import pytest

import builder
from builder import ops
from builder.keras_layers import FusedBatchNorm

CONV_BN = json.dumps({"type": "Network", "name": "conv_bn", "input_shape": [8, 8, 1],
                      "body": {"type": "Sequence", "layers": [
                          {"type": "Conv2D", "filters": 4, "kernel_size": 3, "name": "conv"},
                          {"type": "BatchNorm", "name": "bn", "momentum": 0.9},
                          {"type": "Activation", "function": "relu", "name": "act"}]},
                      "head": {"type": "ClassifierHead", "classes": 10}})


def _pair(policy, shape=(8, 6, 6, 32)):
    """A Keras BatchNormalization and a FusedBatchNorm with the same (non-initial)
    weights, under ``policy``."""
    import keras

    keras.config.set_dtype_policy(policy)
    try:
        plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1.001e-5)
        fused = FusedBatchNorm(momentum=0.9, epsilon=1.001e-5)
    finally:
        keras.config.set_dtype_policy("float32")
    plain.build(shape)
    fused.build(shape)
    rng = np.random.default_rng(0)
    weights = [w + rng.uniform(0.1, 0.5, w.shape) for w in plain.get_weights()]
    plain.set_weights(weights)
    fused.set_weights(weights)
    return plain, fused


@pytest.mark.parametrize("policy, tolerance", [("float32", 1e-5), ("mixed_bfloat16", 1e-2)])
def test_the_same_outputs_gradients_and_moving_statistics(policy, tolerance):
    import tensorflow as tf

    plain, fused = _pair(policy)
    before = fused.get_weights()[2]
    x = tf.random.stateless_normal((8, 6, 6, 32), seed=(1, 2)) * 3.0 + 1.0
    results = {}
    for name, layer in (("plain", plain), ("fused", fused)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") ** 2)
        dx, dgamma, dbeta = tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])
        assert y.dtype == layer.compute_dtype
        results[name] = [y, dx, dgamma / 100.0, dbeta / 100.0, *layer.get_weights()[2:],
                         layer(x, training=False)]
    for a, b in zip(results["plain"], results["fused"]):
        a, b = np.asarray(tf.cast(a, "float32")), np.asarray(tf.cast(b, "float32"))
        np.testing.assert_allclose(b, a, atol=tolerance * max(1.0, np.abs(a).max()))
    assert not np.allclose(fused.get_weights()[2], before)  # the moving mean was updated


def test_the_context_builds_it_and_a_saved_model_loads_it(tmp_path):
    import keras

    bp = builder.from_json(CONV_BN)
    with ops.fused_batch_norm():
        fused = builder.build(bp)
    plain = builder.build(bp)
    assert [type(l).__name__ for l in fused.layers if "bn" in l.name] == ["FusedBatchNorm"]
    assert [type(l).__name__ for l in plain.layers if "bn" in l.name] == ["BatchNormalization"]
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    builder.transfer_weights(plain, fused)  # the same weights, by kind and shape
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), atol=1e-6)
    fused.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert any(isinstance(l, FusedBatchNorm) for l in loaded.layers)
    np.testing.assert_allclose(loaded(x, training=False), fused(x, training=False), atol=1e-6)


def test_auto_measures_and_records_the_fused_batch_norm(monkeypatch):
    from builder.training import precision

    monkeypatch.setattr(precision, "gpu_visible", lambda: False)
    seen = []

    def make_step(policy):
        seen.append(ops._FUSED_BATCH_NORM.get())
        return lambda: None

    decision = precision.decide("auto", make_step, 8, say=lambda *a: None)
    assert seen == [True, True] and decision["batch_norm"] == "fused"
    assert ops._FUSED_BATCH_NORM.get() is False
    assert precision.decide("float32", make_step, 8).get("batch_norm") is None


@pytest.mark.slow
def test_train_auto_builds_fused_and_the_run_exports(tmp_path, cli):
    pytest.importorskip("tf2onnx")
    spec = tmp_path / "conv_bn.json"
    spec.write_text(CONV_BN)
    run = tmp_path / "run"
    out = cli("train", str(spec), "--precision", "auto", "--strategy", "none", "--epochs", "1",
              "--out", str(run))
    assert out.returncode == 0, out.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["precision"]["batch_norm"] == "fused"
    import zipfile

    with zipfile.ZipFile(run / "model.keras") as archive:
        assert "FusedBatchNorm" in archive.read("config.json").decode()
    out = cli("export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert out.returncode == 0, out.stderr


def test_what_the_kernel_does_not_take_is_computed_by_keras(monkeypatch):
    import tensorflow as tf

    calls = []
    original = tf.raw_ops.FusedBatchNormV3
    monkeypatch.setattr(tf.raw_ops, "FusedBatchNormV3",
                        lambda **kw: calls.append(1) or original(**kw))
    plain, fused = _pair("float32", (8, 32))
    features = tf.random.stateless_normal((8, 32), seed=(3, 4))  # rank 2: not images
    np.testing.assert_allclose(fused(features, training=True), plain(features, training=True),
                               atol=1e-5)
    assert calls == []
    _, fused = _pair("float32")
    fused(tf.random.stateless_normal((8, 6, 6, 32), seed=(3, 4)), training=True)
    assert calls == [1]
