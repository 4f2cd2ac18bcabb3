"""keras.applications models that Keras 3 no longer ships (RegNet, ResNet-RS) come from
tf.keras, the ``tf_keras`` package (the test extra installs it): build one, randomize
its weights, and compare its outputs with ours after ``builder.transfer_weights``."""

import numpy as np
import pytest


def applications():
    """tf.keras' ``applications`` module (the test is skipped without tf_keras)."""
    tf_keras = pytest.importorskip(
        "tf_keras", reason="keras.applications' RegNet and ResNet-RS live in tf.keras: "
                           "pip install -e '.[test]' installs tf-keras")
    return tf_keras.applications


def images(rng, size, count=2):
    """Noise with a brightness of its own per image and channel (a global pool would
    average plain noise out), pixels in [0, 255]."""
    x = rng.uniform(0, 255, (count, size, size, 3)) * rng.uniform(0.1, 1, (count, 1, 1, 3))
    return x.astype("float32")


def randomize(model, rng, size):
    """Every weight away from its initial value, batch-norm statistics included, so that
    a weight copied to the wrong layer changes the outputs.

    Random moving statistics alone would drown the signal of a deep network (its outputs
    would hardly depend on the image): the statistics are first set to those of a batch
    of images, by one pass in training mode at momentum 0, and then perturbed.
    """
    norms = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    for layer in model.layers:
        weights = layer.get_weights()
        if any(layer is n for n in norms):
            gamma, beta, mean, variance = weights
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape),
                               rng.normal(0, 0.2, beta.shape), mean, variance])
        elif weights:
            layer.set_weights([w + rng.normal(0, 0.01, w.shape) for w in weights])
    momentum = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images(rng, size, 8), training=True)
    for layer, m in zip(norms, momentum):
        layer.momentum = m
        gamma, beta, mean, variance = layer.get_weights()
        layer.set_weights([gamma, beta, mean + rng.normal(0, 0.1, mean.shape) * variance ** 0.5,
                           variance * rng.uniform(0.7, 1.4, variance.shape)])


def assert_same_outputs(theirs, bp, size, seed=0):
    """Randomize ``theirs``, build ``bp`` with logits, copy the weights and compare the
    outputs on two images of pixels in [0, 255]; returns the (source, ours) layer pairs."""
    import builder

    rng = np.random.default_rng(seed)
    randomize(theirs, rng, size)
    ours = builder.build(bp.replace(head=bp.head.replace(activation=None)))  # logits
    pairs = builder.transfer_weights(theirs, ours)
    x = images(rng, size)
    expected = np.asarray(theirs(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert np.abs(expected).max() > 1e-2  # logits, not all zero
    assert np.abs(expected[0] - expected[1]).max() > 1e-3  # they depend on the image
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    return pairs
