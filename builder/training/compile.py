"""The training step's parts, each usable alone (``train``, tuning trials, ``evaluate``):
the optimizer table, the learning-rate schedule, compiling, freezing, and ``fit``, the one
way a model is fitted.

jit_compile stays Keras's "auto" (XLA made ResNet-50 training 9x slower on a CPU).
"""

from __future__ import annotations

import contextlib
import warnings

import keras

from ..data.transforms import MIXING
from ..dsl.layers import Activation
from ..errors import ArgumentError
from ..ops import keras_name, name_separator
from .losses import accuracy_metric, classification_loss
from .options import TrainOptions
from .pydata import Repeated


def _sgd(options, rate, decay):
    return keras.optimizers.SGD(rate, momentum=options.momentum, weight_decay=decay)


def _adam(options, rate, decay):
    return keras.optimizers.Adam(rate, weight_decay=decay)


def _adamw(options, rate, decay):
    return keras.optimizers.AdamW(rate, weight_decay=options.weight_decay)  # decoupled


def _rmsprop(options, rate, decay):
    return keras.optimizers.RMSprop(rate, momentum=options.momentum, weight_decay=decay)


#: Optimizer name -> maker(options, learning rate or schedule, weight decay or None).
OPTIMIZERS = {"sgd": _sgd, "adam": _adam, "adamw": _adamw, "rmsprop": _rmsprop}


def cosine_schedule(base: float, steps_per_epoch: int, warmup_epochs: int, epochs: int):
    """Linear warm-up from 0 to ``base`` over ``warmup_epochs``, then half a cosine down
    to 0 at the last step. A Keras schedule, so it runs inside the training step
    (no per-batch Python) and follows ``optimizer.iterations`` across resumes."""
    warmup = warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else base,
        decay_steps=max(1, (epochs - warmup_epochs) * steps_per_epoch), alpha=0.0,
        warmup_target=base if warmup else None, warmup_steps=warmup)


def learning_rate(options: TrainOptions, steps_per_epoch: int):
    """The rate the optimizer starts from: a number, or the cosine schedule."""
    if options.schedule == "cosine":
        return cosine_schedule(options.lr, steps_per_epoch, options.warmup, options.epochs)
    return options.lr


def compile_model(model, options: TrainOptions, graph, rate, steps_per_execution: int = 1):
    """Compile with a fresh optimizer: a loss per output weighted by the graph's loss
    weights, accuracy on the main output. ``rate`` is a number or a Keras schedule."""
    optimizer = OPTIMIZERS[options.optimizer](options, rate, options.weight_decay or None)
    soft = soft_labels(options)
    loss = classification_loss(options.label_smoothing, not outputs_probabilities(graph), soft)
    if len(graph.outputs) == 1:
        model.compile(optimizer=optimizer, loss=loss, metrics=[accuracy_metric(soft)],
                      steps_per_execution=steps_per_execution)
    else:
        model.compile(optimizer=optimizer, loss=[loss] * len(graph.outputs),
                      loss_weights=list(graph.loss_weights),
                      metrics=[[accuracy_metric(soft)]] + [[] for _ in graph.outputs[1:]],
                      steps_per_execution=steps_per_execution)
    return model


def soft_labels(options: TrainOptions) -> bool:
    """Whether training labels are soft: MixUp or CutMix mixes them."""
    return any(name in MIXING for name in options.augment or ())


def outputs_probabilities(graph) -> bool:
    """Whether the main output is a softmax (else: logits)."""
    layer = graph.node(graph.outputs[0]).layer
    return isinstance(layer, Activation) and layer.function == "softmax"


def freeze_layers(model, options: TrainOptions) -> list[str]:
    """Set ``trainable=False`` on the layers ``options.freeze`` names; returns their names.

    ``freeze`` is a count (the first N layers that hold weights) or a blueprint path
    prefix (``body/c1``: layers named ``body.c1`` or ``body.c1.*``).
    """
    if options.freeze is None:
        return []
    weighted = [layer for layer in model.layers if layer.weights]
    count = options.freeze_count
    if count is not None:
        if not 1 <= count <= len(weighted):
            raise ArgumentError(f"freeze={options.freeze!r}: the model has {len(weighted)} "
                                f"layers with weights", arguments=("freeze",))
        chosen = weighted[:count]
    else:
        sep = name_separator()
        prefix = keras_name(options.freeze.strip("/"))
        chosen = [layer for layer in model.layers
                  if layer.name == prefix or layer.name.startswith(prefix + sep)]
        if not chosen:
            tops = sorted({layer.name.split(sep)[0] for layer in weighted})
            raise ArgumentError(f"freeze={options.freeze!r}: no layer's path starts with it; "
                                f"top-level paths: {', '.join(tops)}", arguments=("freeze",))
    for layer in chosen:
        layer.trainable = False
    return [layer.name for layer in chosen]


def fit(model, train, *, validation=None, outputs: int = 1, epochs: int, initial_epoch: int = 0,
        callbacks=(), class_weight=None, verbose=0):
    """``model.fit`` as every training in builder runs it: the labels repeated for each
    output of a multi-output model, no Keras shuffling (the data layer shuffles, seeded)."""
    with unknown_length():
        return model.fit(targets(train, outputs), validation_data=targets(validation, outputs),
                         epochs=epochs, initial_epoch=initial_epoch, callbacks=list(callbacks),
                         class_weight=class_weight, verbose=verbose, shuffle=False)


@contextlib.contextmanager
def unknown_length():
    """Keras quiet about a split that ends: a streamed split whose unreadable files are
    skipped has no known length, Keras learns it at the end of the first pass and warns
    there, though running out is how a pass without `steps_per_epoch` ends."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def targets(dataset, outputs: int):
    """The batches of ``dataset`` with the labels repeated once per model output."""
    if outputs == 1 or dataset is None:
        return dataset
    if hasattr(dataset, "map"):
        return dataset.map(lambda x, y: (x, tuple([y] * outputs)))

    return Repeated(dataset, outputs)


def main_metric(logs: dict, name: str) -> float | None:
    """``accuracy``/``val_accuracy``/``loss`` whether the model has one output or more."""
    if name in logs:
        return logs[name]
    prefix = "val_" if name.startswith("val_") else ""
    base = name[len(prefix):]
    for key in logs:
        if key.startswith(prefix) and key.endswith("_" + base) and (
                prefix or not key.startswith("val_")):
            return logs[key]
    return None
