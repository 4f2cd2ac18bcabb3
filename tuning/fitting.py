"""The compile step of a trial: the same as ``builder train``'s.

A trial's ``TrainingSpace`` values become ``TrainOptions`` and go through
``builder.training.loop.compile_model``: the same optimizers (SGD with momentum, Adam,
AdamW, RMSprop), weight decay, loss (from the model's outputs) and accuracy metric.
"""

from __future__ import annotations

from builder.errors import BlueprintError

# The metrics compile_model makes a model report, by name; "val_" + each during fit.
METRICS = ("loss", "accuracy")


def compile_model(model, training, blueprint) -> None:
    """Compile ``model`` (built from ``blueprint``) for a concrete ``TrainingSpace``."""
    import builder
    from builder.training.loop import compile_model as compile_for_training
    from builder.training.options import TrainOptions

    options = TrainOptions(optimizer=training.optimizer, learning_rate=training.learning_rate,
                           weight_decay=training.weight_decay, batch_size=training.batch_size)
    compile_for_training(model, options, builder.lower(blueprint), options.lr)


def reported_metrics() -> list[str]:
    """Every name ``fit`` reports for a model compiled by ``compile_model``."""
    return list(METRICS) + [f"val_{m}" for m in METRICS]


def check_single_output(graph) -> None:
    if len(graph.outputs) != 1:
        raise BlueprintError(f"tune trains networks with one output; this one has "
                             f"{len(graph.outputs)} (side outputs)")
