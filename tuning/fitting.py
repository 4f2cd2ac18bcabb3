"""The compile-and-fit step of a trial, in one place.

Sweeps need only a small part of training: an optimizer by name with a learning rate
and weight decay, sparse categorical cross-entropy, accuracy. ``compile_model`` is the
one function to point at ``builder.training`` once that module exists.
"""

from __future__ import annotations

from builder.errors import BlueprintError

# The metrics compile_model makes a model report, by name; "val_" + each during fit.
METRICS = ("loss", "accuracy")


def compile_model(model, training) -> None:
    """Compile ``model`` for a concrete ``TrainingSpace``."""
    import keras

    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda **kw: keras.optimizers.SGD(momentum=0.9, **kw),
        "rmsprop": keras.optimizers.RMSprop,
        "nadam": keras.optimizers.Nadam,
    }
    options = {"learning_rate": training.learning_rate}
    if training.weight_decay:
        options["weight_decay"] = training.weight_decay
    model.compile(optimizer=optimizers[training.optimizer](**options),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def reported_metrics() -> list[str]:
    """Every name ``fit`` reports for a model compiled by ``compile_model``."""
    return list(METRICS) + [f"val_{m}" for m in METRICS]


def check_single_output(graph) -> None:
    if len(graph.outputs) != 1:
        raise BlueprintError(f"tune trains networks with one output; this one has "
                             f"{len(graph.outputs)} (side outputs)")
