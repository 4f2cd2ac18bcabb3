"""The model code is backend-neutral: blueprints build, agree with the analysis and train
on the JAX backend too (a subprocess, since the backend is chosen at import)."""

import json
import os
import subprocess
import sys

import pytest

import builder

# Building a functional model on JAX traces every layer's shapes, which is slow for whole
# ImageNet networks; one small network strings together every kind of block instead.
CANDIDATES = {"lenet5": None, "digits_rnn": None, "nin": None}

ZOO = """
from builder import *
from builder.blocks import *
blueprint = Network((32, 32, 3), Sequence((
    ConvBN(16, 3, strides=2, name="stem"),
    Bottleneck(8, groups=4, base_width=16, version="v1", name="resnext"),
    Bottleneck(8, strides=2, version="v2", name="preact"),
    MBConv(32, expand_ratio=4, se_ratio=0.25, drop_rate=0.1, name="mbconv"),
    FusedMBConv(32, se_ratio=0.0, name="fused"),
    Inception(8, 8, 16, 4, 8, 8, name="inception"),
    LocalResponseNorm(name="lrn"),
    DenseBlock(2, growth_rate=8, name="dense"),
    Transition(name="transition"),
    SeparableConv2D(24, 3, name="separable"),
    ImageToSequence(name="to_sequence"),
    Recurrent("gru", 16, bidirectional=True, name="rnn"),
)), ClassifierHead(10, pool="none"), name="zoo")
"""


SCRIPT = r"""
import json, sys
import numpy as np
import keras
import builder
result = {"backend": keras.backend.backend()}
for name, shape in json.loads(sys.argv[1]).items():
    bp = builder.load(name, **({"input_shape": tuple(shape)} if shape else {}))
    model = builder.build(bp)
    x = np.random.default_rng(0).random((2,) + tuple(bp.input_shape)).astype("float32")
    y = model(x)
    y = y[0] if isinstance(y, (list, tuple)) else y
    result[name] = [model.count_params(), builder.analyze(bp).total_params,
                    bool(np.isfinite(np.asarray(y)).all())]
bp = builder.load("lenet5")
model = builder.build(bp)
model.compile("adam", "sparse_categorical_crossentropy")
history = model.fit(np.random.rand(8, 32, 32, 1).astype("float32"), np.arange(8) % 10,
                    epochs=2, verbose=0)
result["fit_loss"] = history.history["loss"]
print(json.dumps(result))
"""


@pytest.mark.slow
def test_blueprints_build_and_train_on_jax(tmp_path):
    pytest.importorskip("jax")
    names = {n: s for n, s in CANDIDATES.items() if n in builder.registry.names()}
    (tmp_path / "zoo.py").write_text(ZOO)
    names[str(tmp_path / "zoo.py")] = None
    env = dict(os.environ, KERAS_BACKEND="jax")
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(names)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.pop("backend") == "jax"
    losses = result.pop("fit_loss")
    assert len(losses) == 2 and all(map(lambda v: v == v, losses))
    for name, (keras_count, analysis_count, finite) in result.items():
        assert keras_count == analysis_count, name
        assert finite, name


@pytest.mark.slow
def test_data_parallel_training_on_jax_with_two_devices(tmp_path):
    """keras.distribution.DataParallel over two host devices: uneven last batches are cut
    to split evenly, and a batch size the devices cannot share is a user error."""
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    base = [sys.executable, "-m", "builder", "train", "lenet5_full", "--epochs", "1",
            "--strategy", "mirrored", "--precision", "float32"]
    out = subprocess.run(base + ["--out", str(tmp_path / "run")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mirrored over 2 devices" in out.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["distribution"]["strategy"] == "mirrored"
    assert len(config["distribution"]["devices"]) == 2
    bad = subprocess.run(base + ["--batch-size", "31", "--out", str(tmp_path / "bad")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "does not split over the 2 devices" in bad.stderr
    assert not (tmp_path / "bad").exists()
