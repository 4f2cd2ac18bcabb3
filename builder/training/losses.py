"""Sparse categorical cross-entropy with label smoothing (Keras's sparse loss has none).

Registered, so a saved model.keras that was compiled with it loads back.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="builder")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Integer labels, ``label_smoothing`` spread uniformly over the classes."""

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = False,
                 name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        one_hot = ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}


def classification_loss(label_smoothing: float, from_logits: bool):
    if label_smoothing:
        return SmoothedSparseCrossentropy(label_smoothing, from_logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
