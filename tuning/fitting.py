"""A trial's training: the same compile step and the same fit as ``builder train``.

A trial's ``TrainingSpace`` values become ``TrainOptions`` and go through
``builder.training.compile``: the same optimizers (SGD with momentum, Adam, AdamW,
RMSprop), weight decay, loss (from the model's outputs) and accuracy metric, and the same
``fit``. Trials train at a constant learning rate, in float32, without augmentation.
"""

from __future__ import annotations

from builder.errors import BlueprintError
from builder.graph import lower
from builder.training.options import TrainOptions

# The metrics compile_model makes a model report, by name; "val_" + each during fit.
METRICS = ("loss", "accuracy")


def trial_options(training, *, data: str = "digits", seed: int = 0, epochs: int | None = None):
    """The ``TrainOptions`` of a concrete ``TrainingSpace``: a trial's recipe."""
    return TrainOptions(data=data, seed=seed, epochs=epochs or training.epochs or 1,
                        optimizer=training.optimizer, learning_rate=training.learning_rate,
                        weight_decay=training.weight_decay, batch_size=training.batch_size,
                        schedule="constant", augment=(), precision="float32")


def compile_model(model, training, blueprint) -> None:
    """Compile ``model`` (built from ``blueprint``) for a concrete ``TrainingSpace``."""
    # Keras: this module is read when the command line starts (sweep imports it)
    from builder.training.compile import compile_model as compile_for_training

    options = trial_options(training)
    compile_for_training(model, options, lower(blueprint), options.lr)


def reported_metrics() -> list[str]:
    """Every name ``fit`` reports for a model compiled by ``compile_model``."""
    return list(METRICS) + [f"val_{m}" for m in METRICS]


def check_single_output(graph) -> None:
    if len(graph.outputs) != 1:
        raise BlueprintError(f"tune trains networks with one output; this one has "
                             f"{len(graph.outputs)} (side outputs)")
