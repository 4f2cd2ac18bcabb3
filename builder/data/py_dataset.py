"""The numpy pipeline: a ``keras.utils.PyDataset`` over arrays in memory, or over image
files read with PIL a batch at a time (nothing cached: files are read every epoch).

It uses numpy only (no TensorFlow of its own), so it serves the JAX and PyTorch
backends where TensorFlow is not installed. Imported only for pipeline="numpy", since
it imports keras.
"""

from __future__ import annotations


import keras
import numpy as np

from .adapt import Plan
from .augment import augment_numpy
from .files import read_image
from .protocol import Arrays, Files, Shard, Stream


def dataset(part: Arrays | Stream | Files, plan: Plan, *, batch_size: int, training: bool,
            seed: int, augment: tuple[str, ...], cache: str = "", transform=None) -> "ArrayDataset":
    """The batched numpy pipeline of one part. Files are read as batches need them; a
    stream is read into memory first, adapted (this pipeline works on arrays). Only the
    simple transforms run here (``load_data`` refuses others), so ``transform`` adds
    nothing to ``augment``."""
    kw = dict(batch_size=batch_size, shuffle=training, seed=seed,
              augment=augment if training else ())
    if isinstance(part, Files):
        return FileDataset(part, plan, **kw)
    if isinstance(part, Stream):
        from .tf_pipeline import to_arrays  # TensorFlow, needed for streams only

        x, y = to_arrays(part.dataset, plan)
        part, plan = Arrays(x, y), Plan(plan.target, plan.target, 1.0)
    return ArrayDataset(part.x, part.y, plan, **kw)


class ArrayDataset(keras.utils.PyDataset):
    """Batches of (float32 images, int32 labels) from stored examples.

    With ``shuffle`` the order is a seeded permutation, new every epoch; augmentation
    draws from a generator seeded by (seed, epoch, batch index), so a batch is the same
    whichever worker makes it.

    In a job of several processes (``share``) each reads its shard of every epoch's
    order: the first ``len - len % count`` examples of the order (the same number for
    every process, so that all take the same steps), every count-th from its index, in
    batches of the local batch size. Local batch k of every process together is batch k
    of a one-process run with the global batch, whatever the number of processes.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, plan: Plan, *, batch_size: int,
                 shuffle: bool = False, seed: int = 0, augment: tuple[str, ...] = (),
                 **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.y = np.asarray(y, dtype=np.int32)
        self.plan = plan
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.augment = tuple(augment)
        self.epoch = 0
        # Each batch is cut to a multiple of this (the devices a JAX data-parallel step
        # shards it over); at most multiple_of - 1 examples of a split are left out.
        self.multiple_of = 1
        self.shard = Shard()
        self._order = self._ordering()

    def share(self, shard: Shard, batch_size: int, multiple_of: int) -> None:
        """Read ``shard`` of every epoch's order in batches of ``batch_size`` (this
        process's part of the global batch), each cut to a multiple of ``multiple_of``
        (this process's devices)."""
        self.shard, self.batch_size, self.multiple_of = shard, int(batch_size), int(multiple_of)
        self._order = self._ordering()

    def examples_left_out(self) -> int:
        """Examples of an epoch that no process reads (to make equal shards and batches
        that split over the devices)."""
        local = len(self._order)
        return len(self.x) - (local - local % self.batch_size % self.multiple_of) \
            * self.shard.count

    def _ordering(self) -> np.ndarray:
        if not self.shuffle:
            order = np.arange(len(self.x))
        else:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))
        return self.shard.of(order[:len(order) - len(order) % self.shard.count])

    def __len__(self) -> int:
        full, rest = divmod(len(self._order), self.batch_size)
        return full + (rest - rest % self.multiple_of > 0)

    def __getitem__(self, index: int):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range ({len(self)} batches)")
        picked = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        picked = picked[:len(picked) - len(picked) % self.multiple_of]
        images, labels = self.examples(picked)
        if self.shard.count > 1 and 0 < len(labels) < len(picked):
            # Every process of a job gives a batch of one size at each step: examples of
            # this batch take the places of files that could not be read.
            fill = np.resize(np.arange(len(labels)), len(picked))
            images, labels = images[fill], labels[fill]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            images = augment_numpy(images, rng, self.augment)
        return images, labels

    def examples(self, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The examples at ``picked``, adapted, and their labels."""
        return self.plan.apply_numpy(self.x[picked]), self.y[picked]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._ordering()


class FileDataset(ArrayDataset):
    """Batches read from image files with PIL; a file that cannot be read is left out
    of its batch and logged in ``part.skipped``."""

    def __init__(self, part: Files, plan: Plan, **kwargs):
        super().__init__(part.paths, part.y, plan, **kwargs)
        self.part = part

    def examples(self, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images, keep = [], []
        for i in picked:
            try:
                image = read_image(self.x[i], self.part.channels)
            except Exception:  # PIL raises many types for bad files
                self.part.skipped.add(self.x[i])
                continue
            images.append(self.plan.apply_numpy(image[None])[0])
            keep.append(i)
        if not images:
            return np.zeros((0, *self.plan.target), np.float32), self.y[:0]
        return np.stack(images), self.y[np.asarray(keep, np.int64)]
