"""``train``: a blueprint, data and options in; a finished run directory out.

Everything a user can get wrong (the blueprint, the data, the options, ``--out``) is
checked before the run directory is created and before the first epoch. The run is
written beside its final place and renamed into it at the end (see ``rundir``).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path

from ..errors import ArgumentError, DataError, UserError
from . import precision as precision_mod
from .options import TrainOptions
from .rundir import CHECKPOINTS, RunDir, default_out, has_checkpoint, is_run


#: Training steps per call into the backend (TensorFlow, no mirroring).
STEPS_PER_EXECUTION = 8


class TrainingStopped(UserError):
    """The loss became NaN or infinite; the run keeps its last good epoch (exit 2)."""


def train(spec=None, options: TrainOptions | None = None, *, out=None, resume: bool = False,
          input_shape=None, classes=None, epochs: int | None = None, say=print,
          verbose: int | str = "auto") -> dict:
    """Train a blueprint and write a run directory; returns metrics.json's content
    plus ``run`` (the run directory).

    ``spec`` is anything ``builder.load`` takes (or a blueprint). With ``resume`` the
    run at ``out`` continues from its last completed epoch with its own options
    (``epochs`` may extend it) and ``spec``/``options`` are not used.
    Raises ``UserError`` subclasses for bad input, before anything is written.
    """
    if resume:
        run = RunDir.existing(out)
        try:
            return _resume(run, epochs, say, verbose)
        except BaseException:
            run.close(keep=True)  # it had a usable checkpoint when we started
            raise
    options = (options or TrainOptions()).checked()
    if epochs is not None:
        options.epochs = epochs
        options.checked()
    plan = _prepare(spec, options, input_shape, classes, say)
    run = RunDir.new(out if out is not None else default_out(plan["bp"].name))
    try:
        return _execute(run, plan, options, state=None, say=say, verbose=verbose)
    except BaseException:
        run.close(keep=has_checkpoint(run.path))
        raise


# ------------------------------------------------------------------- preparation

def _prepare(spec, options: TrainOptions, input_shape, classes, say, adapt_head=True) -> dict:
    """Blueprint, data and model facts, all checked; nothing written."""
    from .. import analyze, load, with_options
    from ..dsl.base import Blueprint

    bp = spec if isinstance(spec, Blueprint) else load(spec, input_shape=input_shape,
                                                       classes=classes)
    if input_shape is not None and isinstance(spec, Blueprint):
        bp = with_options(bp, input_shape=input_shape)
    report = analyze(bp)
    head_classes = int(report.output_shape[-1])
    notes = []
    if adapt_head and classes is None:
        found = data_classes(options.data, tuple(report.input_shape), options.data_dir)
        if found is not None and found != head_classes:
            try:
                bp = with_options(bp, classes=found)
            except UserError as e:
                raise DataError(f"{options.data} has {found} classes and the blueprint "
                                f"outputs {head_classes}; its head cannot be changed ({e})"
                                ) from None
            notes.append(f"the head now has {found} classes, as the data has "
                         f"(the blueprint had {head_classes}; --classes chooses)")
            say(f"note: {notes[-1]}")
            report = analyze(bp)
            head_classes = found
    if options.init_from is not None:
        source = Path(options.init_from)
        if is_run(source):
            source = source / "model.keras"
        if not source.is_file():
            raise ArgumentError(f"--init-from {options.init_from}: no such run directory "
                                f"or weights file")
        options.init_from = str(source)
    seed_everything(options.seed)  # tf.data's shuffling depends on the global seed too
    splits = _load_data(options, tuple(report.input_shape), head_classes)
    return {"bp": bp, "report": report, "splits": splits, "notes": notes,
            "classes": head_classes}


def data_classes(source: str, input_shape, data_dir=None) -> int | None:
    """How many classes ``source`` has, where that is cheap to know."""
    from ..data import parse_source

    return parse_source(source).count_classes(input_shape)


def _load_data(options: TrainOptions, input_shape, classes):
    import keras

    from ..data import load_data

    pipeline = "tf" if keras.backend.backend() == "tensorflow" else "numpy"
    return load_data(options.data, input_shape=input_shape, classes=classes,
                     batch_size=options.batch_size, seed=options.seed,
                     validation_split=options.validation_split, test_split=options.test_split,
                     augment=options.augment, data_dir=options.data_dir,
                     download=options.download, pipeline=pipeline)


def _resume(run: RunDir, epochs, say, verbose) -> dict:
    from .. import from_json

    config = json.loads((run.path / "config.json").read_text(encoding="utf-8"))
    state = json.loads((run.path / CHECKPOINTS / "state.json").read_text(encoding="utf-8"))
    options = TrainOptions.from_dict(config["options"])
    if epochs is not None:
        options.epochs = epochs
    options.checked()
    bp = from_json((run.path / "blueprint.json").read_text(encoding="utf-8"))
    plan = _prepare(bp, options, None, None, say, adapt_head=False)
    plan["notes"] = config.get("notes", [])
    plan["config"] = config
    done = state["epochs_completed"]
    say(f"resuming {run.final} after epoch {done} of {options.epochs}")
    return _execute(run, plan, options, state=state, say=say, verbose=verbose)


# -------------------------------------------------------------------- the model

def compile_model(model, options: TrainOptions, graph, learning_rate,
                  steps_per_execution: int = 1):
    """Compile with a fresh optimizer: a loss per output weighted by the graph's
    loss weights, accuracy on the main output. ``learning_rate`` is a number or a
    Keras schedule. jit_compile stays Keras's "auto" (XLA made ResNet-50 9x slower on
    a CPU)."""
    import keras

    from .losses import classification_loss

    wd = options.weight_decay or None
    if options.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=options.momentum, weight_decay=wd)
    elif options.optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate, weight_decay=wd)
    elif options.optimizer == "adamw":
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=options.weight_decay)
    else:
        opt = keras.optimizers.RMSprop(learning_rate, momentum=options.momentum, weight_decay=wd)
    loss = classification_loss(options.label_smoothing, not _outputs_probabilities(graph))
    if len(graph.outputs) == 1:
        model.compile(optimizer=opt, loss=loss, metrics=["accuracy"],
                      steps_per_execution=steps_per_execution)
    else:
        model.compile(optimizer=opt, loss=[loss] * len(graph.outputs),
                      loss_weights=list(graph.loss_weights),
                      metrics=[["accuracy"]] + [[] for _ in graph.outputs[1:]],
                      steps_per_execution=steps_per_execution)
    return model


def _outputs_probabilities(graph) -> bool:
    from ..dsl.layers import Activation

    layer = graph.node(graph.outputs[0]).layer
    return isinstance(layer, Activation) and layer.function == "softmax"


def freeze_layers(model, spec: str | None) -> list[str]:
    """Set ``trainable=False`` on the layers ``--freeze`` names; returns their names.

    ``spec`` is a count (the first N layers that hold weights) or a blueprint path
    prefix (``body/c1``: layers named ``body.c1`` or ``body.c1.*``).
    """
    if spec is None:
        return []
    weighted = [layer for layer in model.layers if layer.weights]
    if spec.isdigit():
        count = int(spec)
        if not 1 <= count <= len(weighted):
            raise ArgumentError(f"--freeze {spec}: the model has {len(weighted)} layers "
                                f"with weights")
        chosen = weighted[:count]
    else:
        prefix = spec.strip("/").replace("/", ".")
        chosen = [layer for layer in model.layers
                  if layer.name == prefix or layer.name.startswith(prefix + ".")]
        if not chosen:
            tops = sorted({layer.name.split(".")[0] for layer in weighted})
            raise ArgumentError(f"--freeze {spec}: no layer's path starts with it; "
                                f"top-level paths: {', '.join(tops)}")
    for layer in chosen:
        layer.trainable = False
    return [layer.name for layer in chosen]


def _targets(dataset, outputs: int):
    """Repeat the labels for every output of a multi-output model."""
    if outputs == 1 or dataset is None:
        return dataset
    if hasattr(dataset, "map"):
        return dataset.map(lambda x, y: (x, tuple([y] * outputs)))
    from .pydata import Repeated

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


# ---------------------------------------------------------------------- the run

def _execute(run: RunDir, plan: dict, options: TrainOptions, state, say, verbose) -> dict:
    import keras

    from .. import lower
    from . import strategy as strategy_mod
    from .callbacks import (EpochCheckpoint, NanStop, Restored, Throughput, cosine_schedule,
                            write_json)
    from ..summary import summary_text
    from .report import plot_curves, write_history

    bp, report, splits = plan["bp"], plan["report"], plan["splits"]
    graph = lower(bp)
    outputs = len(graph.outputs)
    seed_everything(options.seed)
    placement = strategy_mod.place(options.strategy)
    left_out = strategy_mod.shard_evenly(placement, splits, options.batch_size)
    if left_out:
        say(f"note: {left_out} example(s) left out so that every batch splits evenly over "
            f"{placement.replicas} devices")

    train_data = _targets(splits.train, outputs)
    val_data = _targets(splits.validation, outputs)
    test_data = _targets(splits.test, outputs)
    steps_per_epoch = math.ceil(splits.num_train / options.batch_size)
    # Several steps per call cut Python overhead on small models; MirroredStrategy
    # fails with more than one, and other backends gain little.
    per_call = 1 if (placement.name == "mirrored" or keras.backend.backend() != "tensorflow") \
        else max(1, min(STEPS_PER_EXECUTION, steps_per_epoch))

    def rate():
        if options.schedule == "cosine":
            return cosine_schedule(options.lr, steps_per_epoch, options.warmup,
                                   options.epochs)
        return options.lr

    resumed = state is not None
    if resumed:
        decision = plan["config"]["precision"]
        precision_mod.set_policy(decision["policy"])
    else:
        decision = precision_mod.decide(
            options.precision, _step_maker(bp, graph, options, splits, outputs),
            options.batch_size, say=say)
        precision_mod.set_policy(decision["policy"])
        seed_everything(options.seed)  # the same initial weights whatever was measured

    frozen_until = options.unfreeze_after if options.freeze is not None else None
    start = state["epochs_completed"] if resumed else 0

    def frozen_at(epochs_done: int) -> bool:
        # Whether the epoch after ``epochs_done`` completed epochs trains frozen.
        return options.freeze is not None and (frozen_until is None or epochs_done < frozen_until)

    with placement.scope():
        model = _build(bp)
        if options.init_from and not resumed:
            from ..weights import load_weights

            load_weights(model, options.init_from)
        # Checkpoint k was saved in the phase that trained epoch k.
        frozen = freeze_layers(model, options.freeze) if frozen_at(max(0, start - 1)) else []
        compile_model(model, options, graph, rate(), per_call)
        if resumed:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(run.path / CHECKPOINTS / state["checkpoint"])

    if start >= options.epochs:
        raise ArgumentError(f"--resume: the run already has {start} of {options.epochs} "
                            f"epochs; pass a larger --epochs to train longer")

    # Everything is checked: from here on the run directory exists.
    run.create()

    config = plan.get("config") or {
        "spec": bp.name, "blueprint": bp.name, "options": options.to_dict(),
        "input_shape": list(report.input_shape), "classes": plan["classes"],
        "class_names": list(splits.class_names),
        "data": {"source": splits.source, "num_train": splits.num_train,
                 "num_validation": splits.num_validation, "num_test": splits.num_test,
                 "class_counts": [int(c) for c in splits.class_counts],
                 "pipeline": splits.pipeline, "left_out_for_sharding": left_out},
        "precision": decision, "distribution": placement.describe(),
        "frozen_layers": frozen, "notes": plan["notes"],
        "versions": versions(), "backend": keras.backend.backend(),
        "command": sys.argv, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "outputs": list(graph.outputs), "loss_weights": list(graph.loss_weights),
        "parameters": report.total_params,
    }
    config["options"] = options.to_dict()
    if resumed:
        config.setdefault("resumed", []).append(
            {"after_epoch": start, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "versions": versions()})
    (run.path / "blueprint.json").write_text(bp.to_json() + "\n", encoding="utf-8")
    write_json(run.path / "config.json", config)
    (run.path / "summary.txt").write_text(summary_text(report), encoding="utf-8")

    state = state or {"epochs_completed": 0, "history": [], "train_seconds": 0.0,
                      "train_images": 0}
    monitor = "val_loss" if splits.validation is not None else "loss"
    stateful = {}
    callbacks = []
    if options.schedule == "step":
        stateful["plateau"] = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.1, patience=2, min_lr=1e-7, verbose=1)
    if options.early_stopping:
        stateful["early_stopping"] = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=options.early_stopping)
    saved = state.get("callbacks", {}) if resumed else {}
    callbacks += [Restored(cb, saved.get(name)) for name, cb in stateful.items()]
    timer = Throughput(state, splits.num_train)
    nan = NanStop()
    callbacks += [timer, nan,
                  keras.callbacks.TensorBoard(log_dir=str(run.path / "logs"),
                                              write_graph=False, profile_batch=0)]

    def saved_epoch(st):
        write_history(run.path / "history.csv", st["history"])

    callbacks.append(EpochCheckpoint(run.path / CHECKPOINTS, state, stateful, saved_epoch))

    phases = [(start, options.epochs)]
    if frozen_until is not None and start < frozen_until:
        phases = [(start, frozen_until), (frozen_until, options.epochs)]
    verbose = verbose if verbose != "auto" else (1 if sys.stdout.isatty() else 2)
    stopped = None
    kept = False
    try:
        for number, (first, last) in enumerate(phases):
            if number > 0 or (frozen and not frozen_at(first)):
                # Unfreeze for the second phase: trainability changes need a recompile.
                carried = _current_rate(model)
                steps = int(model.optimizer.iterations.numpy())
                for layer in model.layers:
                    layer.trainable = True
                with placement.scope():
                    compile_model(model, options, graph,
                                  rate() if options.schedule == "cosine" else carried, per_call)
                    model.optimizer.build(model.trainable_variables)
                    model.optimizer.iterations.assign(steps)  # the schedule goes on
                say(f"epoch {first + 1}: all layers trainable from now on")
            model.fit(train_data, validation_data=val_data, epochs=last, initial_epoch=first,
                      callbacks=callbacks, class_weight=_class_weight(options, splits, outputs),
                      verbose=verbose, shuffle=False)  # the data shuffles itself, seeded
            if nan.hit or model.stop_training:
                stopped = "nan" if nan.hit else "early_stopping"
                break
    except KeyboardInterrupt:
        kept = state["epochs_completed"] > 0
        final = run.close(keep=kept)
        raise KeyboardInterrupt(f"run kept in {final}" if final else "") from None
    except BaseException:
        run.close(keep=state["epochs_completed"] > 0)
        raise

    try:
        if nan.hit:
            if state["epochs_completed"] == 0:
                run.close(keep=False)
                raise TrainingStopped(f"the loss became {nan.hit['loss']} in epoch "
                                      f"{nan.hit['epoch']}, before any epoch completed; "
                                      f"nothing was kept (try a lower --learning-rate)")
            model.load_weights(run.path / CHECKPOINTS / state["checkpoint"])
        metrics = _finish(run, model, bp, options, state, test_data, splits, stopped, timer)
        plot_curves(run.path / "curves.png", state["history"], f"{bp.name} on {splits.source}")
    except BaseException:
        run.close(keep=state["epochs_completed"] > 0)
        raise
    final = run.close(keep=True)
    metrics["run"] = str(final)
    if nan.hit:
        raise TrainingStopped(
            f"the loss became {nan.hit['loss']} in epoch {nan.hit['epoch']}; training "
            f"stopped and {final} keeps epoch "
            f"{state['epochs_completed']} (try a lower --learning-rate)")
    say(final_paragraph(bp.name, metrics, splits, decision, placement, final))
    return metrics


def _finish(run, model, bp, options, state, test_data, splits, stopped, timer) -> dict:
    from .callbacks import write_json

    model.save(run.path / "model.keras")
    metrics = {"epochs_completed": state["epochs_completed"], "epochs_planned": options.epochs,
               "stopped": stopped, "train_seconds": round(state["train_seconds"], 3),
               "images_per_second": round(timer.images_per_second, 1)}
    if test_data is not None:
        results = model.evaluate(test_data, verbose=0, return_dict=True)
        metrics["test_loss"] = float(results["loss"])
        metrics["test_accuracy"] = float(main_metric(results, "accuracy"))
    last = state["history"][-1] if state["history"] else {}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        value = main_metric(last, key)
        if value is not None:
            metrics[f"final_{key}"] = float(value)
    write_json(run.path / "metrics.json", metrics)
    return metrics


def final_paragraph(name, metrics, splits, decision, placement, where) -> str:
    test = ""
    if "test_accuracy" in metrics:
        test = (f" Test accuracy {metrics['test_accuracy']:.2%}, test loss "
                f"{metrics['test_loss']:.4f} on {splits.num_test} held-out images.")
    stop = {"early_stopping": " (stopped early: validation loss stopped improving)"}.get(
        metrics["stopped"], "")
    mirror = (f", mirrored over {placement.replicas} devices" if placement.name == "mirrored"
              else "")
    done = metrics["epochs_completed"]
    return (f"{name} trained {done} epoch{'s' if done != 1 else ''}{stop} on {splits.source} "
            f"({splits.num_train} training, {splits.num_validation} validation images) in "
            f"{metrics['train_seconds']:.1f} s ({metrics['images_per_second']:.0f} images/s, "
            f"{decision['policy']}{mirror}).{test} Run directory: {where} (model.keras, "
            f"history.csv, curves.png, metrics.json; TensorBoard: tensorboard --logdir "
            f"{where}/logs).")


# ------------------------------------------------------------------ small pieces

def _build(bp):
    from .. import build

    return build(bp)


def _current_rate(model) -> float:
    from .callbacks import current_rate

    return current_rate(model)


def _class_weight(options, splits, outputs):
    if options.class_weights != "balanced":
        return None
    if outputs > 1:
        raise ArgumentError("--class-weights works with single-output models only")
    return splits.class_weights()


def _step_maker(bp, graph, options, splits, outputs):
    """For precision ``auto``: a function policy -> one training step of this model."""
    def make(policy):
        import numpy as np

        x, y = splits.sample(options.batch_size)
        if len(x) < options.batch_size:  # a tiny test split: repeat it to a full batch
            reps = math.ceil(options.batch_size / len(x))
            x, y = np.concatenate([x] * reps)[:options.batch_size], \
                np.concatenate([y] * reps)[:options.batch_size]
        model = _build(bp)
        compile_model(model, options, graph, options.lr)
        target = y if outputs == 1 else [y] * outputs
        return lambda: model.train_on_batch(x, target)
    return make


def seed_everything(seed: int) -> None:
    """Same seed, same run on a CPU: Python, numpy and backend seeds, and
    deterministic TensorFlow ops."""
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def versions() -> dict:
    import keras
    import numpy

    import builder

    found = {"python": platform.python_version(), "keras": keras.__version__,
             "numpy": numpy.__version__, "builder": builder.__version__}
    try:
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return found
