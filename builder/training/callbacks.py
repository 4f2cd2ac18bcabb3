"""Keras callbacks of a training run: the epoch checkpoints that make a run resumable,
throughput, the NaN stop, and the restoring of counters of stateful Keras callbacks.

The checkpoint of epoch k is ``checkpoints/epoch-k.keras`` (the whole model with its
optimizer state) plus ``checkpoints/state.json`` (``TrainState``), which names it and holds
the history and the state of the callbacks that count epochs (plateau, early stopping).
history.csv, written from the same state, lists every completed epoch exactly once.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import keras

from ..errors import DataError, DiskFull, writing
from .cluster import Cluster, gather
from .state import STATE, TrainState


def current_rate(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def save_model(model, path: Path, write: bool = True) -> None:
    """``model.save(path)``; without ``write`` into a temporary folder, removed at once:
    in a job of several processes saving is a collective step (every process converts the
    same variables) that the chief alone cannot take, so the others save and discard."""
    if write:
        model.save(path)
        return
    with tempfile.TemporaryDirectory(prefix="builder-") as scratch:
        model.save(Path(scratch) / Path(path).name)


def finite(logs: dict) -> bool:
    return all(math.isfinite(float(v)) for k, v in (logs or {}).items()
               if isinstance(v, (int, float)) or hasattr(v, "__float__"))


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model and the run state after every completed epoch whose figures
    are finite; calls ``on_saved(state)`` afterwards (history.csv). Without ``save``
    (a process of a job that is not its chief) it keeps the state and writes nothing."""

    def __init__(self, folder: Path, state: TrainState, stateful: dict, on_saved=None,
                 save: bool = True):
        super().__init__()
        self.save = save
        self.folder = Path(folder)
        self.state = state          # updated in place
        self.stateful = stateful    # name -> callback whose counters are saved
        self.on_saved = on_saved

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not finite(logs):
            return  # a NaN epoch is never a checkpoint: the last good one stays
        name = f"epoch-{epoch + 1}.keras"
        if not self.save:
            save_model(self.model, self.folder / name, write=False)
            self._update(epoch, name, logs)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            with writing(self.folder / name):
                self.model.save(self.folder / name)
        except DiskFull:
            (self.folder / name).unlink(missing_ok=True)  # half a checkpoint is none
            raise
        state = self._update(epoch, name, logs)
        with writing(self.folder / STATE):
            state.save(self.folder)
        for old in self.folder.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)
        if self.on_saved is not None:
            self.on_saved(state)

    def _update(self, epoch: int, name: str, logs: dict) -> TrainState:
        row = {"epoch": epoch + 1, "learning_rate": current_rate(self.model),
               **{k: float(v) for k, v in logs.items()}}
        state = self.state
        state.history = [r for r in state.history if r["epoch"] <= epoch] + [row]
        state.epochs_completed, state.checkpoint = epoch + 1, name
        state.callbacks = {k: save_counters(c) for k, c in self.stateful.items()}
        return state


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



class Throughput(keras.callbacks.Callback):
    """Training time and images, validation excluded; kept in the run state so it
    adds up over resumes. Epoch hooks only: a per-batch hook would sync every step."""

    def __init__(self, state: TrainState, images_per_epoch: int):
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
        self.state.train_seconds += stop - self.start
        self.state.train_images += self.images_per_epoch
        self.start = None


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


def note_bad_files(data, path: Path | None, check: bool = True, cluster: Cluster = Cluster(),
                   when: str = "") -> int:
    """Write the data files found unreadable so far to ``path`` (where there are any, and
    a path: None for the processes of a job other than its chief, whose files the chief
    gathers, at the point of the job named ``when``); with ``check``, raise ``DataError``
    where a part has more than its ``max_bad_files``. Returns how many there are."""
    found = gather(cluster, f"unreadable/{when}", "\n".join(data.bad_files()))
    bad = sorted({p for paths in found for p in paths.splitlines()})
    if bad and path is not None:
        with writing(path):
            Path(path).write_text("".join(f"{p}\n" for p in bad), encoding="utf-8")
    if check:
        data.check_bad_files()
    return len(bad)


class BadFiles(keras.callbacks.Callback):
    """After every epoch (its checkpoint saved first): the unreadable files found so far
    listed, and the run stopped where they are too many."""

    def __init__(self, data, path: Path | None, cluster: Cluster = Cluster()):
        super().__init__()
        self.data = data
        self.path = None if path is None else Path(path)
        self.cluster = cluster

    def on_epoch_end(self, epoch, logs=None):
        try:
            note_bad_files(self.data, self.path, cluster=self.cluster, when=f"epoch-{epoch}")
        except DataError as e:
            raise DataError(f"{e}; all are listed in {self.path}",
                            arguments=e.arguments) from None
