"""Same seed, same run."""

from __future__ import annotations

import keras


def seed_everything(seed: int) -> None:
    """Python, numpy and backend seeds, and deterministic TensorFlow ops (on a CPU the
    same seed then gives the same run)."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only on its own backend

        tf.config.experimental.enable_op_determinism()
