"""Every registered blueprint, the day it lands: it builds, the analysis equals Keras's
own parameter count and an independent MAC count, a forward pass is finite, and its
JSON round-trips exactly."""

import json

import numpy as np
import pytest

import builder
from builder import registry

from keras_count import keras_macs

NAMES = registry.names()
#: Building these takes seconds each (tens to hundreds of millions of weights): slow, as the
#: quick run (-m "not slow") goes; CI builds them all.
LARGE = 10_000_000


def _built(name):
    size = builder.analyze(builder.load(name)).total_params
    return pytest.param(name, marks=pytest.mark.slow) if size > LARGE else name


BUILT = [_built(name) for name in NAMES]


def test_registry_is_not_empty():
    assert "lenet5" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip(name):
    bp = builder.load(name)
    text = bp.to_json()
    again = builder.from_json(text)
    assert again == bp
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(bp.to_dict(), sort_keys=True)


@pytest.mark.parametrize("name", BUILT)
def test_builds_and_analysis_matches_keras(name):
    import keras

    keras.backend.clear_session()
    bp = builder.load(name)
    report = builder.analyze(bp)
    model = builder.build(bp)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert report.total_params == model.count_params()
    assert report.trainable_params == trainable
    assert report.macs == keras_macs(model)
    outputs = model.outputs
    assert tuple(outputs[0].shape[1:]) == report.output_shape
    x = np.random.default_rng(0).random((1,) + report.input_shape).astype("float32")
    y = model(x, training=False)
    y = y if isinstance(y, (list, tuple)) else [y]
    assert all(np.isfinite(np.asarray(t)).all() for t in y)


@pytest.mark.parametrize("name", NAMES)
def test_block_rows_add_up_to_totals(name):
    report = builder.analyze(builder.load(name))
    for depth in (1, 2, 3):
        rows = report.blocks(depth)
        assert sum(r.params for r in rows) == report.total_params
        assert sum(r.macs for r in rows) == report.macs
