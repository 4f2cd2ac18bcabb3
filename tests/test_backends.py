"""The model code is backend-neutral: blueprints build, agree with the analysis and train
on the JAX backend too (a subprocess, since the backend is chosen at import)."""

import json
import os
import subprocess
import sys

import pytest

import builder

# One of each kind of block, at small inputs to keep the run short.
CANDIDATES = {
    "lenet5": None, "digits_rnn": None, "resnet18": (32, 32, 3), "resnet50_v2": (64, 64, 3),
    "resnext50_32x4d": (64, 64, 3), "mobilenet_v2": (64, 64, 3), "efficientnet_b0": (64, 64, 3),
    "densenet121": (64, 64, 3), "googlenet": (96, 96, 3), "inception_v3": (96, 96, 3),
    "xception": (96, 96, 3), "alexnet": None, "vgg11_lrn": (64, 64, 3), "nin": None,
}

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


def test_blueprints_build_and_train_on_jax():
    pytest.importorskip("jax")
    names = {n: s for n, s in CANDIDATES.items() if n in builder.registry.names()}
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
