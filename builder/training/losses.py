"""Cross-entropy for integer labels with label smoothing (Keras's sparse loss has none),
and for soft labels (MixUp and CutMix mix one-hot labels), with the accuracy that
reads both.

Registered, so a saved model.keras that was compiled with them loads back.
"""

from __future__ import annotations

import keras
from keras import ops


def _soft(y_true, y_pred) -> bool:
    """Whether ``y_true`` holds a vector per example (soft labels), not a class index;
    static shapes tell, so training batches (mixed) and validation batches (integers)
    each trace their own way."""
    return (len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] is not None
            and y_true.shape[-1] == y_pred.shape[-1] and y_pred.shape[-1] != 1)


@keras.saving.register_keras_serializable(package="builder")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Integer labels, or soft labels (one per class); ``label_smoothing`` spread
    uniformly over the classes."""

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = False,
                 name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        if _soft(y_true, y_pred):
            target = ops.cast(y_true, y_pred.dtype)
        else:
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            target = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="builder")
def label_accuracy(y_true, y_pred):
    """Top-1 accuracy against integer labels, or against the largest soft label."""
    if _soft(y_true, y_pred):
        y_true = ops.argmax(y_true, axis=-1)
    return keras.metrics.sparse_categorical_accuracy(y_true, y_pred)


def classification_loss(label_smoothing: float, from_logits: bool, soft: bool = False):
    """The loss; ``soft``: training labels may be soft (MixUp, CutMix)."""
    if label_smoothing or soft:
        return SmoothedSparseCrossentropy(label_smoothing, from_logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


def accuracy_metric(soft: bool = False):
    """``"accuracy"``, or for soft labels the accuracy that reads both kinds of label
    (under the same name, so logs keep ``accuracy`` and ``val_accuracy``)."""
    if soft:
        return keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")
    return "accuracy"
