"""A whole sweep, as ``python -m builder tune`` runs it: search, then the results in --out.

``run_sweep`` is the library entry point (the command line only parses arguments). It
resumes a sweep found in ``out`` (keras-tuner's ``overwrite=False``): finished trials
are kept, an interrupted one is run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time

from rich.console import Console

from builder.data import load_data
from builder.dsl.combinators import Network
from builder.dsl.markers import concrete, has_markers
from builder.errors import ArgumentError, BlueprintError, UserError, did_you_mean
from builder.training.rundir import MODEL

from . import report as reports
from .distributed import TRIAL_TIMEOUT
from .fitting import reported_metrics, trial_options
from .space import TrainingSpace

SETTINGS = "sweep.json"
PROJECT = "sweep"  # keras-tuner's project folder inside --out


@dataclasses.dataclass
class Settings:
    spec: str
    tuner: str = "random"
    max_trials: int = 10
    objective: str = "val_accuracy"
    epochs: int = 2
    max_params: int | None = None
    max_macs: int | None = None
    data: str = "digits"
    out: str = "tune_out"
    retrain_best: bool = False
    seed: int = 0
    max_rejected: int = 20
    role: str | None = None  # None, "chief" or "worker"
    max_latency_ms: float | None = None  # inference at batch 1, measured per candidate
    sets: tuple | None = None  # the --set edits of the space, as given
    trial_timeout: float = TRIAL_TIMEOUT  # the chief takes back a silent worker's trial

    # What must match for --out to be resumed.
    def identity(self) -> dict:
        same = {k: getattr(self, k) for k in ("spec", "tuner", "objective", "max_params",
                                               "max_macs", "data", "seed", "max_latency_ms")}
        return {**same, "sets": list(self.sets) if self.sets else None}  # as JSON keeps it


def check_objective(objective: str) -> None:
    valid = reported_metrics()
    if objective not in valid:
        raise ArgumentError(f"objective={objective!r} is not a metric the model reports"
                            f"{did_you_mean(objective, valid)}; valid: {', '.join(valid)}",
                            arguments=("objective",))


def input_of(space) -> tuple[tuple, int]:
    """Input shape and classes of a search space (at its markers' defaults)."""
    bp = concrete(space)
    if not isinstance(bp, Network) or bp.classes is None:
        raise BlueprintError("tune needs a Network with a classifier head (classes)")

    if has_markers(space.input_shape):
        raise BlueprintError("the input shape of a search space cannot be a marker")
    return tuple(bp.input_shape), bp.classes


def _check_resume(settings: Settings) -> None:
    """Refuse a sweep in ``out`` made with other options; writes nothing."""
    path = os.path.join(settings.out, SETTINGS)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        mine = settings.identity()
        changed = [k for k in mine if old.get(k) != mine[k]]
        if changed:
            k = changed[0]
            raise ArgumentError(
                f"out={settings.out!r} holds a sweep with {k} {old.get(k)!r}, not "
                f"{mine[k]!r}; resume it with the same options or use another `out`",
                arguments=("out",))


def _record(settings: Settings) -> None:
    """Make ``out`` and, for a new sweep of the chief or a lone process, its sweep.json:
    once every check has passed and the data has loaded, so a failed start leaves none."""
    os.makedirs(settings.out, exist_ok=True)
    path = os.path.join(settings.out, SETTINGS)
    if settings.role != "worker" and not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(settings.identity(), f, indent=2)


def _discard(settings: Settings) -> None:
    """Remove the state of a sweep that trained no candidate (sweep.json, keras-tuner's
    folder): nothing there is worth resuming, and a corrected command (another budget) on
    the same ``out`` must not be refused. trials.csv stays: why each was rejected."""
    shutil.rmtree(os.path.join(settings.out, PROJECT), ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(settings.out, SETTINGS))


def run_sweep(settings: Settings, space, training: TrainingSpace | None = None,
              console=None) -> dict:
    """Search ``space``; write trials.csv, frontier.png, best.json and best.py in
    ``settings.out`` (the chief or a lone process); returns a summary dict.

    Raises ``ArgumentError``/``BlueprintError``/``DataError`` for bad input and
    ``BudgetError`` when no candidate met the budget.
    """
    console = console or Console()
    training = training or TrainingSpace()
    check_objective(settings.objective)
    if settings.max_trials < 1:
        raise ArgumentError(f"`max_trials` must be at least 1, got {settings.max_trials}",
                            arguments=("max_trials",))
    input_shape, classes = input_of(space)
    if settings.role != "worker":
        _check_resume(settings)
    load = _data_loader(settings, input_shape, classes)
    _record(settings)
    tuner = _tuner(settings, space, training, load, console)
    wall = _search(tuner)
    if settings.role == "worker":
        console.print(f"worker {tuner.tuner_id}: the chief ended the search", highlight=False)
        return {"role": "worker", "wall_seconds": wall}
    return _conclude(tuner, settings, space, training, wall, console)


def _data_loader(settings: Settings, input_shape, classes):
    """``load(batch_size)``: the sweep's data, loaded once per batch size. Bad data is
    reported here, before the search starts (except on the chief, which trains nothing)."""
    cache = {}

    def load(batch_size):
        if batch_size not in cache:
            cache[batch_size] = load_data(settings.data, input_shape=input_shape,
                                          classes=classes, batch_size=batch_size,
                                          seed=settings.seed)
        return cache[batch_size]

    if settings.role != "chief":
        load(32)
    return load


def _tuner(settings: Settings, space, training, load, console):
    # keras-tuner reads its chief/worker role when imported: after distributed.configure
    from .search import BlueprintHyperModel, make_tuner

    hypermodel = BlueprintHyperModel(space, training, epochs=settings.epochs,
                                     max_params=settings.max_params,
                                     max_macs=settings.max_macs, load_data=load,
                                     max_latency_ms=settings.max_latency_ms,
                                     seed=settings.seed)
    tuner = make_tuner(hypermodel, tuner=settings.tuner, objective=settings.objective,
                       max_trials=settings.max_trials, epochs=settings.epochs,
                       directory=settings.out, project_name=PROJECT, seed=settings.seed,
                       max_rejected=settings.max_rejected)
    tuner.progress = lambda record: console.print(_progress_line(record), highlight=False)
    if settings.role == "chief":
        tuner.oracle.keep_leases(settings.trial_timeout)
    return tuner


def _search(tuner) -> float:
    """Run the search; its wall time in seconds."""
    start = time.time()
    try:
        tuner.search(verbose=0)
    except RuntimeError as e:
        if "consecutive failures" in str(e):
            raise UserError(f"the search stopped after 3 failed trials in a row: "
                            f"{str(e).strip().splitlines()[-1]}") from None
        raise
    return time.time() - start


def _conclude(tuner, settings: Settings, space, training, wall: float, console) -> dict:
    """The chief's (or lone process's) record of a finished search: trials.csv, the
    table, frontier.png, best.json/best.py, the optional retraining and summary.json."""
    from .search import direction  # keras-tuner: see _tuner

    tuner.oracle.fail_unfinished()  # the chief's trials that no worker took up again

    goal = direction(settings.objective)
    rows = reports.records(tuner.oracle, space, training, os.path.join(settings.out, PROJECT),
                           settings.max_params, settings.max_macs)
    top = reports.best(rows, goal)
    reports.write_csv(rows, os.path.join(settings.out, "trials.csv"), settings.objective)
    reports.print_table(rows, settings.objective, top, console)
    _check_finished(tuner, settings)
    summary = {"trials": len(rows),
               "completed": sum(r.status == "completed" for r in rows),
               "rejected": sum(r.status == "rejected" for r in rows),
               "failed": sum(r.status == "failed" for r in rows),
               "wall_seconds": wall, "objective": settings.objective}
    streak = tuner.oracle.consecutive_rejections()
    if streak >= settings.max_rejected:
        console.print(f"[yellow]warning:[/yellow] the search stopped after {streak} candidates "
                      "in a row broke the budget", highlight=False)
    reports.plot_frontier(rows, os.path.join(settings.out, "frontier.png"),
                          settings.objective, goal)
    if top is not None:
        reports.write_best(top, settings.out, settings.objective)
        summary.update(best_trial=top.trial_id, best_objective=top.objective,
                       best_params=top.params, best_macs=top.macs)
        console.print(f"best: trial {top.trial_id}, {settings.objective} {top.objective:.4f}, "
                      f"{top.params:,} params, {top.macs:,} MACs -> "
                      f"{os.path.join(settings.out, 'best.py')}", highlight=False)
        if settings.retrain_best:
            summary["retrain"] = retrain(top, settings, console)
    with open(os.path.join(settings.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    return summary


def _check_finished(tuner, settings: Settings) -> None:
    """``BudgetError`` where the search trained no candidate, its state discarded first."""
    from .search import BudgetError, check_search_finished  # keras-tuner: see _tuner

    try:
        check_search_finished(tuner)
    except BudgetError:
        _discard(settings)
        raise


def _progress_line(record) -> str:
    text = f"trial {record['trial_id']}: {record['status']}"
    if record.get("reason"):
        text += f" ({record['reason']})"
    return text + f" in {record['seconds']:.1f}s"


def retrain(row, settings: Settings, console) -> dict:
    """Train the best candidate from scratch for the full epochs with ``builder train``
    (its trial's recipe); its run directory is ``best_run`` in the sweep's folder."""
    from builder.training import train  # Keras loads here

    options = trial_options(row.training, data=settings.data, seed=settings.seed,
                            epochs=row.training.epochs or settings.epochs)
    out = os.path.join(settings.out, "best_run")
    shutil.rmtree(out, ignore_errors=True)  # an earlier retraining of a resumed sweep
    metrics = train(row.blueprint, options, out=out, classes=row.blueprint.classes,
                    say=lambda *a: None, verbose=0)
    result = {"trial": row.trial_id, "epochs": options.epochs,
              "test_accuracy": metrics["test_accuracy"], "test_loss": metrics["test_loss"],
              "sweep_objective": row.objective, "objective": settings.objective, "run": out}
    with open(os.path.join(settings.out, "retrain.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    shutil.copyfile(os.path.join(out, MODEL), os.path.join(settings.out, "best.keras"))
    console.print(f"retrained trial {row.trial_id} for {options.epochs} epochs: test accuracy "
                  f"{result['test_accuracy']:.4f} (the sweep saw {settings.objective} "
                  f"{row.objective:.4f}); its run: {out}", highlight=False)
    return result
