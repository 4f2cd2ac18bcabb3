"""Keras callbacks of a training run: the learning-rate schedule and the epoch
checkpoints that make a run resumable.

The checkpoint of epoch k is ``checkpoints/epoch-k.keras`` (the whole model with its
optimizer state) plus ``checkpoints/state.json``, which names it and holds the history
and the state of the callbacks that count epochs (plateau, early stopping). The state
file is replaced atomically after the model file is complete, so a run killed at any
moment resumes from a consistent last completed epoch, and history.csv, written from
the same state, lists every completed epoch exactly once.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras

STATE = "state.json"


def cosine_schedule(base: float, steps_per_epoch: int, warmup_epochs: int, epochs: int):
    """Linear warm-up from 0 to ``base`` over ``warmup_epochs``, then half a cosine down
    to 0 at the last step. A Keras schedule, so it runs inside the training step
    (no per-batch Python) and follows ``optimizer.iterations`` across resumes."""
    warmup = warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else base,
        decay_steps=max(1, (epochs - warmup_epochs) * steps_per_epoch), alpha=0.0,
        warmup_target=base if warmup else None, warmup_steps=warmup)


def current_rate(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def finite(logs: dict) -> bool:
    return all(math.isfinite(float(v)) for k, v in (logs or {}).items()
               if isinstance(v, (int, float)) or hasattr(v, "__float__"))


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model and the run state after every completed epoch whose figures
    are finite; calls ``on_saved(state)`` afterwards (history.csv, curves)."""

    def __init__(self, folder: Path, state: dict, stateful: dict, on_saved=None):
        super().__init__()
        self.folder = Path(folder)
        self.state = state          # {"epochs_completed", "history", ...}, updated in place
        self.stateful = stateful    # name -> callback whose counters are saved
        self.on_saved = on_saved

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not finite(logs):
            return  # a NaN epoch is never a checkpoint: the last good one stays
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1}.keras"
        self.model.save(self.folder / name)
        row = {"epoch": epoch + 1, "learning_rate": current_rate(self.model),
               **{k: float(v) for k, v in logs.items()}}
        history = [r for r in self.state["history"] if r["epoch"] <= epoch] + [row]
        self.state.update(epochs_completed=epoch + 1, checkpoint=name, history=history,
                          callbacks={k: save_counters(c) for k, c in self.stateful.items()})
        write_json(self.folder / STATE, self.state)
        for old in self.folder.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)
        if self.on_saved is not None:
            self.on_saved(self.state)


COUNTERS = ("wait", "best", "cooldown_counter", "stopped_epoch")


def save_counters(callback) -> dict:
    out = {}
    for key in COUNTERS:
        value = getattr(callback, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value) if math.isfinite(float(value)) else str(value)
    return out


def restore_counters(callback, saved: dict) -> None:
    """Put saved counters back after ``on_train_begin`` has reset them."""
    for key, value in (saved or {}).items():
        setattr(callback, key, float(value) if isinstance(value, str) else value)


class Restored(keras.callbacks.Callback):
    """Wraps a Keras callback whose ``on_train_begin`` resets its counters, and
    restores the saved counters right after (for resumed runs)."""

    def __init__(self, inner, saved: dict | None):
        super().__init__()
        self.inner = inner
        self.saved = saved

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def on_train_begin(self, logs=None):
        self.inner.on_train_begin(logs)
        if self.saved:
            restore_counters(self.inner, self.saved)
            self.saved = None

    def on_epoch_begin(self, epoch, logs=None):
        self.inner.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.inner.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        self.inner.on_train_end(logs)


def write_json(path: Path, data) -> None:
    """Write JSON atomically (a temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Throughput(keras.callbacks.Callback):
    """Training time and images, validation excluded; kept in the run state so it
    adds up over resumes. Epoch hooks only: a per-batch hook would sync every step."""

    def __init__(self, state: dict, images_per_epoch: int):
        super().__init__()
        self.state = state
        self.images_per_epoch = images_per_epoch
        self.start = self.stop = None

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.stop = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self.start is not None and self.stop is None:
            self.stop = time.perf_counter()  # validation starts: training of the epoch ended

    def on_epoch_end(self, epoch, logs=None):
        # Runs before the checkpoint callback, which saves the state.
        stop = self.stop or time.perf_counter()
        self.state["train_seconds"] = self.state.get("train_seconds", 0.0) + stop - self.start
        self.state["train_images"] = self.state.get("train_images", 0) + self.images_per_epoch
        self.start = None

    @property
    def images_per_second(self) -> float:
        seconds = self.state.get("train_seconds", 0.0)
        return self.state.get("train_images", 0) / seconds if seconds else 0.0


class NanStop(keras.callbacks.Callback):
    """Stops the run after an epoch whose loss is NaN or infinite (checked per epoch,
    not per batch: a per-batch check syncs every step, which slows small models)."""

    def __init__(self):
        super().__init__()
        self.hit = None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.hit = {"epoch": epoch + 1, "loss": float(loss)}
            self.model.stop_training = True
