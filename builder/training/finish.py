"""Finishing a run: the model saved, tested, and its metrics, curves and report written."""

from __future__ import annotations

from ..errors import UserError, writing
from .callbacks import note_bad_files, save_model
from .compile import main_metric, targets, unknown_length
from .report import plot_curves, write_history
from .rundir import CHECKPOINTS, CURVES, HISTORY, METRICS, MODEL, SKIPPED
from .session import Session
from .state import write_json


class TrainingStopped(UserError):
    """The loss became NaN or infinite; the run keeps its last good epoch (exit 2)."""


def finish(session: Session) -> dict:
    """Save model.keras (the last good epoch where the loss became NaN), evaluate it on
    the test split, write metrics.json and curves.png; returns the metrics."""
    run, state, plan = session.run, session.state, session.plan
    if session.nan is not None:
        if state.epochs_completed == 0:
            raise TrainingStopped(
                f"the loss became {session.nan['loss']} in epoch {session.nan['epoch']}, "
                f"before any epoch completed; nothing was kept (try a lower `learning_rate`)",
                arguments=("learning_rate",))
        session.model.load_weights(run.file(CHECKPOINTS) / state.checkpoint)
    chief = session.placement.cluster.chief  # in a job of several, the one that writes
    with writing(run.file(MODEL)):
        save_model(session.model, run.file(MODEL), write=chief)
    metrics = {"epochs_completed": state.epochs_completed,
               "epochs_planned": plan.options.epochs, "stopped": session.stopped,
               "train_seconds": round(state.train_seconds, 3),
               "images_per_second": round(state.images_per_second, 1)}
    if plan.data.test is not None:
        with unknown_length():
            results = session.model.evaluate(targets(plan.data.test, len(plan.graph.outputs)),
                                             verbose=0, return_dict=True)
        metrics["test_loss"] = float(results["loss"])
        metrics["test_accuracy"] = float(main_metric(results, "accuracy"))
    metrics["unreadable_files"] = note_bad_files(plan.data, run.file(SKIPPED) if chief else None,
                                                 check=False, cluster=session.placement.cluster,
                                                 when="finish")
    last = state.history[-1] if state.history else {}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        value = main_metric(last, key)
        if value is not None:
            metrics[f"final_{key}"] = float(value)
    if not chief:
        return metrics
    # history.csv again: a run killed between its last checkpoint and history.csv has
    # resumed without training an epoch. metrics.json last: it marks a finished run.
    write_history(run.file(HISTORY), state.history)
    plot_curves(run.file(CURVES), state.history,
                f"{plan.blueprint.name} on {plan.data.source}")
    write_json(run.file(METRICS), metrics)
    return metrics


def stopped_error(session: Session) -> TrainingStopped:
    """The error of a run that finished on its last good epoch after the loss became NaN."""
    nan = session.nan
    return TrainingStopped(
        f"the loss became {nan['loss']} in epoch {nan['epoch']}; training stopped and "
        f"{session.run.final} keeps epoch {session.state.epochs_completed} (try a lower "
        f"`learning_rate`)", arguments=("learning_rate",))


def final_paragraph(session: Session, metrics: dict) -> str:
    data, placement = session.plan.data, session.placement
    test = ""
    if "test_accuracy" in metrics:
        test = (f" Test accuracy {metrics['test_accuracy']:.2%}, test loss "
                f"{metrics['test_loss']:.4f} on {data.num_test} held-out images.")
    stop = {"early_stopping": " (stopped early: validation loss stopped improving)"}.get(
        metrics["stopped"], "")
    mirror = (f", mirrored over {placement.replicas} devices" if placement.name == "mirrored"
              else f", data-parallel over {placement.replicas} devices of "
                   f"{placement.cluster.processes} processes" if placement.cluster.multi
              else "")
    done, where = metrics["epochs_completed"], session.run.final
    bad = metrics.get("unreadable_files", 0)
    skipped = (f", {bad} unreadable file{'s' if bad != 1 else ''} skipped (listed in "
               f"{SKIPPED})" if bad else "")
    return (f"{session.plan.blueprint.name} trained {done} epoch{'s' if done != 1 else ''}"
            f"{stop} on {data.source} ({data.num_train} training, {data.num_validation} "
            f"validation images; {data.cache.text()}{skipped}) in "
            f"{metrics['train_seconds']:.1f} s "
            f"({metrics['images_per_second']:.0f} images/s, {session.precision['policy']}"
            f"{mirror}).{test} Run directory: {where} (model.keras, history.csv, curves.png, "
            f"metrics.json; TensorBoard: tensorboard --logdir {where}/logs).")
