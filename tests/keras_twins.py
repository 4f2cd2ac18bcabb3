"""Checks of our networks against their keras.applications twins: randomized weights
that make a misplaced layer show, and outputs compared after a weight transfer."""

import numpy as np

import builder


def randomize_normalization_and_biases(model, rng):
    """Batch-norm statistics, gammas and betas, and biases away from their initial
    values (kernels keep their random initial values), so that a layer whose weights
    land in the wrong place changes the output."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape)
                               if w.path.endswith(("gamma", "moving_variance"))
                               else rng.normal(0.0, 0.1, w.shape) for w in layer.weights])
        elif getattr(layer, "bias", None) is not None:
            weights = layer.get_weights()
            weights[-1] = rng.normal(0.0, 0.1, weights[-1].shape)
            layer.set_weights(weights)


def transferred_difference(src, dst, shape, seed=0) -> float:
    """The largest |difference| between the outputs of ``src`` and of ``dst`` after
    ``builder.transfer_weights(src, dst)``, on two random images of ``shape``."""
    builder.transfer_weights(src, dst)
    x = np.random.default_rng(seed).random((2,) + tuple(shape)).astype("float32")
    expected = np.asarray(src(x, training=False))
    got = np.asarray(dst(x, training=False))
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())
