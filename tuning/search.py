"""The search: a keras-tuner HyperModel over a blueprint, budget checks, the tuners.

A candidate is checked by static analysis before anything is built: one that breaks
``max_params``/``max_macs``, or whose shapes are impossible, is *rejected*. With
``max_latency_ms``, a candidate that passes is then built and its inference step at batch
size ``LATENCY_BATCH`` timed on this machine (``builder.profiling.latency``), once per
candidate (cached by its canonical JSON), and rejected when slower, still before any
training. A rejected
trial ends with keras-tuner's status ``STOPPED`` (not ``FAILED``), so it never counts
towards keras-tuner's limit of consecutive failed trials, is never retried, is recorded
with its reason, and does not use up ``max_trials``. After ``max_rejected`` rejections in
a row the oracle stops the search: a budget that no candidate meets is reported then,
not hours later.

Importing this module imports keras-tuner: for a distributed sweep, set the
``KERASTUNER_*`` variables first (``tuning.distributed.configure``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time

import keras_tuner as kt
from keras_tuner.src.engine import trial as trial_module

from builder.analysis import report as make_report
from builder.compiler import build
from builder.errors import ArgumentError, BlueprintError, UserError, did_you_mean, one_of
from builder.graph import lower
from builder.profiling import latency
from builder.training.compile import fit
from builder.training.seed import seed_everything

from .fitting import check_single_output, compile_model
from .lease import Heartbeat, LeasedOracle, is_worker
from .space import TrainingSpace, apply_training, declare, resolve

STOPPED = trial_module.TrialStatus.STOPPED
TUNERS = ("random", "grid", "bayesian", "hyperband")
RECORD = "builder.json"  # our record of a trial, next to keras-tuner's trial.json
# Latency is the time to answer one example (the deployment figure), whatever batch size
# the sweep trains with.
LATENCY_BATCH = 1


class Rejected(Exception):
    """A candidate that breaks the budget or cannot be built; ``reason`` says why."""

    def __init__(self, reason: str, params=None, macs=None, latency_ms=None):
        super().__init__(reason)
        self.reason = reason
        self.params = params
        self.macs = macs
        self.latency_ms = latency_ms


class BudgetError(UserError):
    """No candidate of the space meets the budget."""


def check(bp, max_params=None, max_macs=None, max_latency_ms=None, latency_ms=None):
    """The analysis report of a concrete candidate; raises ``Rejected`` when its shapes
    are impossible or it is over a budget. ``latency_ms(bp)`` measures the inference
    latency, asked for only with ``max_latency_ms`` and after the static budgets."""
    try:
        graph = lower(bp)
        check_single_output(graph)

        report = make_report(graph)
    except BlueprintError as e:
        raise Rejected(f"invalid: {e}") from None
    if max_params is not None and report.total_params > max_params:
        raise Rejected(f"{report.total_params:,} params > --max-params {max_params:,}",
                       report.total_params, report.macs)
    if max_macs is not None and report.macs > max_macs:
        raise Rejected(f"{report.macs:,} MACs > --max-macs {max_macs:,}",
                       report.total_params, report.macs)
    if max_latency_ms is not None:
        measured = latency_ms(bp)
        if measured > max_latency_ms:
            raise Rejected(f"{measured:.3g} ms inference latency (batch {LATENCY_BATCH}) > "
                           f"--max-latency-ms {max_latency_ms:g}", report.total_params,
                           report.macs, measured)
    return report


def canonical(bp) -> str:
    """A candidate's canonical JSON, the key of what is measured about it."""
    return json.dumps(bp.to_dict(), sort_keys=True)


class Candidate:
    """One concrete point of the space: the blueprint, its training values, its report."""

    def __init__(self, blueprint, training, report, latency_ms=None):
        self.blueprint = blueprint
        self.training = training
        self.report = report
        self.latency_ms = latency_ms  # measured with a latency budget


class BlueprintHyperModel(kt.HyperModel):
    """Resolves a blueprint's markers (and a TrainingSpace's) through ``hp``, checks the
    candidate by analysis, then builds and compiles it.

    ``load_data(batch_size)`` returns ``DataSplits`` (called only by ``fit``).
    """

    def __init__(self, space, training: TrainingSpace | None = None, *, epochs: int = 1,
                 max_params=None, max_macs=None, load_data=None, max_latency_ms=None,
                 seed: int = 0):
        super().__init__(name=getattr(space, "name", None) or "blueprint")
        self.space = space
        self.training = training or TrainingSpace()
        self.epochs = epochs
        self.max_params = max_params
        self.max_macs = max_macs
        self.max_latency_ms = max_latency_ms
        self.latencies = {}  # canonical JSON -> milliseconds, measured once per candidate
        self.load_data = load_data
        self.seed = seed

    def declare_hyperparameters(self, hp):
        declare(hp, self.space, self.training)

    def candidate(self, hp) -> Candidate:
        try:
            bp, training = resolve(hp, self.space, self.training)
            bp = apply_training(bp, training)
        except BlueprintError as e:
            raise Rejected(f"invalid: {e}") from None
        report = check(bp, self.max_params, self.max_macs, self.max_latency_ms, self.latency_ms)
        return Candidate(bp, training, report, self.latencies.get(canonical(bp)))

    def latency_ms(self, bp) -> float:
        """The inference latency of candidate ``bp`` in milliseconds, measured once."""
        key = canonical(bp)
        if key not in self.latencies:
            import keras

            keras.backend.clear_session()
            self.latencies[key] = latency(bp, batch_size=LATENCY_BATCH) * 1e3
        return self.latencies[key]

    def build(self, hp):
        import keras

        candidate = self.candidate(hp)
        keras.backend.clear_session()
        seed_everything(self.seed)  # a trial's initial weights follow the sweep's seed
        model = build(candidate.blueprint)
        compile_model(model, candidate.training, candidate.blueprint)
        return model

    def fit(self, hp, model, *args, epochs=None, **kwargs):
        training = resolve(hp, self.training)
        data = self.load_data(training.batch_size)
        return fit(model, data.train, validation=data.validation,
                   epochs=epochs or training.epochs or self.epochs,
                   initial_epoch=kwargs.pop("initial_epoch", 0),
                   callbacks=kwargs.pop("callbacks", ()), verbose=kwargs.pop("verbose", 0))


class SearchTuner(kt.Tuner):
    """keras-tuner's Tuner with our space declaration, rejection and trial records."""

    def __init__(self, oracle, hypermodel, **kwargs):
        self._rejections = {}
        self._latencies = {}
        self._started = {}
        self.progress = None  # called with each trial's record as it ends
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)

    def _populate_initial_space(self):
        # The whole space, conditional options included, is declared in one walk; the
        # default would build a Keras model for every conditional branch.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def _try_run_and_update_trial(self, trial, *args, **kwargs):
        # A rejected candidate is settled here, before keras-tuner's handling of failed
        # trials (which would print its traceback and count it as a failure).
        self._started[trial.trial_id] = time.time()
        try:
            candidate = self.hypermodel.candidate(trial.hyperparameters)
        except Rejected as e:
            self._rejections[trial.trial_id] = e.reason
            self._latencies[trial.trial_id] = e.latency_ms
            return
        self._latencies[trial.trial_id] = candidate.latency_ms
        if not is_worker():
            super()._try_run_and_update_trial(trial, *args, **kwargs)
            return
        with Heartbeat(self.oracle, trial.trial_id):  # the chief takes back silent trials
            super()._try_run_and_update_trial(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        reason = self._rejections.pop(trial.trial_id, None)
        if reason is not None:
            trial.status = STOPPED
            trial.message = f"rejected: {reason}"
        started = self._started.pop(trial.trial_id, time.time())
        record = {"trial_id": trial.trial_id, "status": _status(trial.status, reason),
                  "reason": reason or _last_line(trial.message), "seconds": time.time() - started,
                  "tuner_id": self.tuner_id}
        latency_ms = self._latencies.pop(trial.trial_id, None)
        if latency_ms is not None:
            record["latency_ms"] = latency_ms
        path = os.path.join(self.get_trial_dir(trial.trial_id), RECORD)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(record, f)
        super().on_trial_end(trial)
        if self.progress is not None:
            self.progress(record)


class HyperbandSearchTuner(SearchTuner, kt.Hyperband):
    """Hyperband's epochs per round and weights carried between rounds, with our rules."""


def _status(status, reason) -> str:
    if reason is not None:
        return "rejected"
    return {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed"}.get(
        status, str(status).lower())


def _last_line(message) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def is_rejected(trial) -> bool:
    """Rejected trials are the only ones that end as STOPPED."""
    return trial.status == STOPPED


# --- oracles ---------------------------------------------------------------------------------


class BudgetedOracle:
    """Mixed into a keras-tuner oracle: rejected trials do not use up ``max_trials``, and
    ``max_rejected`` rejections in a row stop the search."""

    max_rejected = 20
    requested_trials = None

    def consecutive_rejections(self) -> int:
        count = 0
        for trial_id in reversed(self.end_order):
            if not is_rejected(self.trials[trial_id]):
                break
            count += 1
        return count

    def create_trial(self, tuner_id):
        if tuner_id not in self.ongoing_trials and not self._retry_queue:
            if self.consecutive_rejections() >= self.max_rejected:
                self.tuner_ids.discard(tuner_id)
                return trial_module.Trial(self.get_space(), status=STOPPED)
            if self.requested_trials:
                rejected = sum(1 for t in self.trials.values() if is_rejected(t))
                self.max_trials = self.requested_trials + rejected
        return super().create_trial(tuner_id)


class RandomOracle(LeasedOracle, BudgetedOracle, kt.oracles.RandomSearchOracle):
    pass


class GridOracle(LeasedOracle, BudgetedOracle, kt.oracles.GridSearchOracle):
    pass


class BayesianOracle(LeasedOracle, BudgetedOracle, kt.oracles.BayesianOptimizationOracle):
    def _vectorize_trials(self):
        # keras-tuner's Gaussian process knows completed, failed and ongoing trials only;
        # it is fitted without the rejected ones.
        every = self.trials
        self.trials = {k: t for k, t in every.items() if not is_rejected(t)}
        try:
            return super()._vectorize_trials()
        finally:
            self.trials = every


class HyperbandOracle(LeasedOracle, BudgetedOracle, kt.oracles.HyperbandOracle):
    pass


def direction(objective: str) -> str:
    lower = objective.lower()
    return "min" if "loss" in lower or "error" in lower else "max"


def make_tuner(hypermodel, *, tuner="random", objective="val_accuracy", max_trials=10,
               epochs=1, directory=".", project_name="sweep", seed=0, max_rejected=20,
               overwrite=False):
    """A SearchTuner with the named oracle ('random', 'grid', 'bayesian', 'hyperband')."""
    goal = kt.Objective(objective, direction(objective))
    common = dict(objective=goal, seed=seed, max_consecutive_failed_trials=3)
    if tuner == "random":
        oracle = RandomOracle(max_trials=max_trials, **common)
    elif tuner == "grid":
        oracle = GridOracle(max_trials=max_trials, **common)
    elif tuner == "bayesian":
        oracle = BayesianOracle(max_trials=max_trials, **common)
    elif tuner == "hyperband":
        if epochs < 2:
            raise ArgumentError("tuner='hyperband' needs `epochs` of at least 2 (its maximum "
                                "epochs per trial)", arguments=("tuner", "epochs"))
        oracle = HyperbandOracle(max_epochs=epochs, factor=3, **common)
    else:
        raise ArgumentError(f"`tuner` must be {one_of(TUNERS)}, not {tuner!r}"
                            f"{did_you_mean(tuner, TUNERS)}", arguments=("tuner",))
    oracle.requested_trials = max_trials if tuner != "hyperband" else None
    oracle.max_rejected = max_rejected
    cls = HyperbandSearchTuner if tuner == "hyperband" else SearchTuner
    with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner's "Reloading Tuner from"
        return cls(oracle, hypermodel, directory=directory, project_name=project_name,
                   overwrite=overwrite)


def check_search_finished(tuner) -> None:
    """Raise ``BudgetError`` when the search ended on rejections with nothing trained."""
    oracle = tuner.oracle
    trials = list(oracle.trials.values())
    completed = [t for t in trials if t.status == "COMPLETED"]
    streak = oracle.consecutive_rejections()
    if not completed and trials and all(is_rejected(t) for t in trials):
        reasons = sorted({(t.message or "").removeprefix("rejected: ") for t in trials})
        raise BudgetError(
            f"no candidate meets the budget: {len(trials)} candidates in a row were "
            f"rejected{' (the search stopped there)' if streak >= oracle.max_rejected else ''}"
            f"; e.g. {reasons[0]}. Raise --max-params/--max-macs/--max-latency-ms or shrink "
            f"the space")
