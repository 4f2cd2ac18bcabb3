"""A training session: the model built (or restored) where it will train, in the chosen
precision, compiled, and trained through its phases (frozen, then all layers).

``start`` makes the session and writes the run's record (blueprint.json, config.json,
summary.txt); ``train_phases`` fits, checkpointing every epoch; ``finish`` (finish.py)
completes the run.
"""

from __future__ import annotations

import dataclasses
import json
import math

import keras
import numpy as np

from ..compiler import build
from ..errors import writing
from ..summary import summary_text
from ..weights import load_weights
from . import precision as precision_mod
from . import strategy as strategy_mod
from .callbacks import (BadFiles, EpochCheckpoint, NanStop, Restored, Throughput,
                        current_rate)
from .cluster import Cluster, barrier, share
from .compile import compile_model, fit, freeze_layers, learning_rate
from .plan import RunPlan
from .record import config_record
from .report import write_history
from .rundir import BLUEPRINT, CHECKPOINTS, CONFIG, HISTORY, LOGS, SKIPPED, SUMMARY, RunDir
from .seed import seed_everything
from .state import TrainState, write_json

#: Training steps per call into the backend (TensorFlow, no mirroring).
STEPS_PER_EXECUTION = 8


@dataclasses.dataclass
class Session:
    plan: RunPlan
    run: RunDir
    model: object
    placement: strategy_mod.Placement
    precision: dict              # the decision, as config.json records it
    state: TrainState
    frozen: list[str]            # layers frozen at the start
    steps_per_epoch: int
    per_call: int                # steps per call into the backend
    left_out: int = 0            # examples cut so that batches split over devices
    stopped: str | None = None   # "nan" or "early_stopping"
    nan: dict | None = None      # {"epoch", "loss"} where the loss stopped being finite



def start(plan: RunPlan, run: RunDir, say=print, cluster: Cluster = Cluster()) -> Session:
    """Decide the precision, place, build or restore and compile; then create the run
    directory and write its record (the chief of a job of several processes only).
    Every check happens before the directory exists."""
    options = plan.options
    seed_everything(options.seed)
    # Before placing: the chief measures alone, on its own devices, and tells the others.
    decision = _precision(plan, cluster, say)
    placement = strategy_mod.place(options.strategy, cluster, say)
    left_out = strategy_mod.split_batches(placement, plan.data, options.batch_size)
    if left_out:
        say(f"note: {left_out} example(s) left out so that every batch splits evenly over "
            f"{placement.replicas} devices" + (f" of {cluster.processes} processes"
                                               if cluster.multi else ""))
    steps = (len(plan.data.train) if placement.replicas > 1 and hasattr(plan.data.train, "share")
             else math.ceil(plan.data.num_train / options.batch_size))
    # Several steps per call cut Python overhead on small models; MirroredStrategy
    # fails with more than one, and other backends gain little.
    per_call = 1 if (placement.name == "mirrored" or keras.backend.backend() != "tensorflow") \
        else max(1, min(STEPS_PER_EXECUTION, steps))
    state = plan.resumed.state if plan.resumed else TrainState()
    with placement.scope(), precision_mod.building(decision):
        model, frozen = _model(plan, run, state, steps, per_call)
    session = Session(plan, run, model, placement, decision, state, frozen, steps, per_call,
                      left_out)
    barrier(cluster, "built")  # a resumed run is read by all before the chief moves it
    if cluster.chief:
        _record(session)
    else:
        run.create()  # the chief's partial directory, not made here
    return session


def _record(session: Session) -> None:
    """Create the run directory and write blueprint.json, config.json and summary.txt."""
    run, plan = session.run, session.plan
    run.create()
    with writing(run.file(BLUEPRINT)):
        run.file(BLUEPRINT).write_text(plan.blueprint.to_json() + "\n", encoding="utf-8")
    with writing(run.file(CONFIG)):
        write_json(run.file(CONFIG), config_record(plan, session))
    with writing(run.file(SUMMARY)):
        run.file(SUMMARY).write_text(summary_text(plan.report), encoding="utf-8")


def _precision(plan: RunPlan, cluster: Cluster, say) -> dict:
    """The precision decision (a resumed run keeps its own; in a job of several
    processes the chief's), with its policy set."""
    if plan.resumed is not None:
        decision = plan.resumed.config["precision"]
    else:
        decision = json.loads(share(cluster, "precision", lambda: json.dumps(
            precision_mod.decide(plan.options.precision, _step_maker(plan),
                                 plan.options.batch_size, say=say))))
    precision_mod.set_policy(decision["policy"])
    seed_everything(plan.options.seed)  # the same initial weights whatever was measured
    return decision


def _frozen_at(options, epochs_done: int) -> bool:
    """Whether the epoch after ``epochs_done`` completed epochs trains frozen."""
    return options.freeze is not None and (options.unfreeze_after is None
                                           or epochs_done < options.unfreeze_after)


def _model(plan: RunPlan, run: RunDir, state: TrainState, steps: int, per_call: int):
    """The model, compiled; restored from the last checkpoint of a resumed run."""
    options = plan.options
    model = build(plan.blueprint)
    if plan.init_from is not None and plan.resumed is None:
        load_weights(model, plan.init_from)
    # Checkpoint k was saved in the phase that trained epoch k.
    done = state.epochs_completed
    frozen = freeze_layers(model, options) if _frozen_at(options, max(0, done - 1)) else []
    compile_model(model, options, plan.graph, learning_rate(options, steps), per_call)
    if plan.resumed is not None:
        model.optimizer.build(model.trainable_variables)
        model.load_weights(run.file(CHECKPOINTS) / state.checkpoint)
    return model, frozen


def _step_maker(plan: RunPlan):
    """For precision ``auto``: a function policy -> one training step of this model."""
    def make(policy):
        size = plan.options.batch_size
        x, y = plan.data.sample(size)
        if len(x) < size:  # a tiny test split: repeat it to a full batch
            reps = math.ceil(size / len(x))
            x, y = np.concatenate([x] * reps)[:size], np.concatenate([y] * reps)[:size]
        model = build(plan.blueprint)
        compile_model(model, plan.options, plan.graph, plan.options.lr)
        target = y if len(plan.graph.outputs) == 1 else [y] * len(plan.graph.outputs)
        return lambda: model.train_on_batch(x, target)
    return make


# --------------------------------------------------------------------------- fitting

def train_phases(session: Session, verbose=0, say=print) -> None:
    """Fit from the last completed epoch to the last planned one, a phase at a time;
    sets ``session.stopped`` (and ``session.nan``) when training stops early."""
    options, data = session.plan.options, session.plan.data
    callbacks, nan = _callbacks(session)
    class_weight = None
    if options.class_weights == "balanced":
        class_weight = data.class_weights()
    for number, (first, last) in enumerate(_phases(options, session.state.epochs_completed)):
        if number > 0 or (session.frozen and not _frozen_at(options, first)):
            _unfreeze(session)
            say(f"epoch {first + 1}: all layers trainable from now on")
        fit(session.model, data.train, validation=data.validation,
            outputs=len(session.plan.graph.outputs), epochs=last, initial_epoch=first,
            callbacks=callbacks, class_weight=class_weight, verbose=verbose)
        if nan.hit or session.model.stop_training:
            session.stopped, session.nan = ("nan" if nan.hit else "early_stopping"), nan.hit
            return


def _phases(options, start: int) -> list[tuple[int, int]]:
    """(first, last) epochs of each phase still to train: frozen, then all layers."""
    until = options.unfreeze_after if options.freeze is not None else None
    if until is not None and start < until:
        return [(start, until), (until, options.epochs)]
    return [(start, options.epochs)] if start < options.epochs else []


def _unfreeze(session: Session) -> None:
    """All layers trainable again: a change of trainability needs a recompile; the
    optimizer's step count (and with it the schedule) goes on."""
    model, options = session.model, session.plan.options
    carried = current_rate(model)
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    for layer in model.layers:
        layer.trainable = True
    rate = learning_rate(options, session.steps_per_epoch) if options.schedule == "cosine" \
        else carried
    with session.placement.scope():
        compile_model(model, options, session.plan.graph, rate, session.per_call)
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(steps)


def _callbacks(session: Session):
    """The run's callbacks (schedule on plateau, early stopping, throughput, NaN stop,
    TensorBoard, the epoch checkpoint) and the NaN stop itself."""
    options, data, run = session.plan.options, session.plan.data, session.run
    monitor = "val_loss" if data.validation is not None else "loss"
    stateful = {}
    if options.schedule == "step":
        stateful["plateau"] = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.1, patience=2, min_lr=1e-7, verbose=1)
    if options.early_stopping:
        stateful["early_stopping"] = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=options.early_stopping)
    saved = session.state.callbacks if session.plan.resumed else {}
    nan = NanStop()
    chief = session.placement.cluster.chief  # the others keep the state, write nothing
    callbacks = [Restored(cb, saved.get(name)) for name, cb in stateful.items()]
    callbacks += [Throughput(session.state, data.num_train), nan]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.file(LOGS)),
                                                     write_graph=False, profile_batch=0))
    callbacks.append(EpochCheckpoint(
        run.file(CHECKPOINTS), session.state, stateful,
        lambda state: write_history(run.file(HISTORY), state.history), save=chief))
    callbacks.append(BadFiles(data, run.file(SKIPPED) if chief else None,
                              session.placement.cluster))
    return callbacks, nan
