"""The protocol every data source follows, and the values that pass through it.

A source kind is a frozen dataclass subclass of ``Source`` with a ``kind`` name, the
``form`` it is written in (``folder:PATH``), a ``parse`` of its argument, a cheap
``count_classes`` where the data says it without being read, and ``open``, which gives the
examples of one process's shard as train, validation and test ``Part``s. Sources whose
examples fit in memory derive from ``InMemory`` and only ``read`` their arrays: the
holdout split and the shard are made once, here, for all of them. A part is ``Arrays``
(in memory), ``Files`` (image files decoded as they stream) or ``Stream`` (a
tf.data.Dataset, tfds).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import DataError
from .adapt import Plan, plan_adaptation
from .files import SkipLog, read_image
from .split import holdout_sizes, stratified_split

PARTS: tuple[str, ...] = ("train", "validation", "test")


@dataclass(frozen=True)
class Shard:
    """Process ``index`` of ``count`` reads examples index, index + count, ... of each
    part: the shards of a part are disjoint, cover it, and are fixed by the data alone.

    ``equal`` shards first cut a part of n examples to its first ``n - n % count``, so
    that every process holds n // count of it and takes the same steps (a job of several
    processes streaming through tf.data); the ``left_out(n)`` rest, fewer than
    ``count``, is read by none."""

    index: int = 0
    count: int = 1
    equal: bool = False

    def __post_init__(self):
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}")

    def of(self, items):
        """This shard of a sequence (numpy array, list or range)."""
        if self.count == 1:
            return items
        return items[:len(items) - self.left_out(len(items))][self.index::self.count]

    def of_dataset(self, dataset, n: int):
        """This shard of a tf.data.Dataset of ``n`` examples."""
        if self.count == 1:
            return dataset
        return dataset.take(n - self.left_out(n)).shard(self.count, self.index)

    def size(self, n: int) -> int:
        """How many of ``n`` examples this shard holds."""
        return len(range(self.index, n - self.left_out(n), self.count))

    def left_out(self, n: int) -> int:
        """How many of ``n`` examples no shard holds."""
        return n % self.count if self.equal else 0

    def left_out_of(self, parts: dict) -> int:
        """How many examples of ``parts`` (before sharding) no shard holds."""
        return sum(self.left_out(part.size) for part in parts.values())


@dataclass(frozen=True)
class Request:
    """What a blueprint asks of a source: its input and outputs, and how to split."""

    input_shape: tuple[int, ...]
    classes: int
    seed: int = 0
    validation_split: float = 0.1
    test_split: float = 0.2
    data_dir: str | None = None
    download: bool = False
    synthetic_size: int = 256
    shard: Shard = Shard()
    check_data: bool = False       # check every file's header before anything streams


@dataclass
class Arrays:
    """Examples in memory, as stored (native dtype and range) with integer labels."""

    x: np.ndarray
    y: np.ndarray

    @property
    def size(self) -> int:
        return len(self.y)

    def head(self, n: int, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` examples, adapted (float32) with int32 labels."""
        return plan.apply_numpy(self.x[:n]), self.y[:n].astype(np.int32)


@dataclass
class Stream:
    """Examples streamed as a tf.data.Dataset of single stored (image, label) pairs."""

    dataset: Any
    size: int

    def head(self, n: int, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        from . import tf_pipeline  # TensorFlow, and it imports this module

        return tf_pipeline.to_arrays(self.dataset.take(n), plan)


@dataclass
class Files:
    """Examples as image files: only paths and labels are in memory; a pipeline reads
    and decodes each file (to ``channels`` uint8 channels) when it is needed, skipping
    and logging those it cannot decode."""

    paths: np.ndarray              # str (object array)
    y: np.ndarray
    channels: int                  # 1, 3 or 4, as decoded
    skipped: SkipLog = None

    def __post_init__(self):
        if self.skipped is None:
            self.skipped = SkipLog(len(self.paths))

    @property
    def size(self) -> int:
        return len(self.y)

    def head(self, n: int, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` readable files, adapted (float32) with int32 labels."""
        images, labels = [], []
        for path, label in zip(self.paths, self.y):
            if len(images) == n:
                break
            try:
                image = read_image(path, self.channels)
            except Exception:  # PIL raises many types for bad files
                self.skipped.add(path)
                continue
            images.append(plan.apply_numpy(image[None])[0])
            labels.append(label)
        if not images:
            return np.zeros((0, *plan.target), np.float32), np.zeros((0,), np.int32)
        return np.stack(images), np.asarray(labels, np.int32)


@dataclass
class Opened:
    """A source opened for a blueprint: its parts and what they hold."""

    parts: dict[str, Any]          # "train" | "validation" | "test" -> Arrays | Stream | Files
    plan: Plan                     # stored example -> the blueprint's input
    num_classes: int
    class_names: list[str]
    class_counts: np.ndarray       # training labels per blueprint output
    labels_note: str = ""          # how the labels were read, for messages
    unreadable: list[str] = field(default_factory=list)  # left out by the header check
    left_out: int = 0              # examples that no (equal) shard holds


@dataclass
class RawData:
    """What an in-memory source reads: every example still to be split (or the training
    examples, where the source has its own ``validation``/``test`` pairs)."""

    x: np.ndarray
    y: np.ndarray
    scale: float                   # divide by this to get [0, 1]
    num_classes: int
    class_names: list[str]
    validation: tuple[np.ndarray, np.ndarray] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    labels_note: str = ""


@dataclass(frozen=True)
class Source:
    """A data source. Subclasses set ``kind`` and ``form`` and implement ``open``."""

    kind: ClassVar[str] = ""
    form: ClassVar[str] = ""          # how it is written: "folder:PATH"
    argument: ClassVar[str | None] = None  # what the argument is; None: takes none

    arg: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg is not None else self.kind

    @classmethod
    def parse(cls, arg: str | None) -> "Source":
        """The source for ``arg`` (the text after ``kind:``), checked, nothing read."""
        return cls(arg)

    def count_classes(self, input_shape) -> int | None:
        """How many classes the data has, where that is cheap to know; None: unknown,
        or the source makes as many as asked."""
        return None

    def open(self, request: Request) -> Opened:
        raise NotImplementedError


@dataclass(frozen=True)
class InMemory(Source):
    """A source whose examples are read into memory; it implements ``read``."""

    def read(self, request: Request) -> RawData:
        raise NotImplementedError

    def open(self, request: Request) -> Opened:
        raw = self.read(request)
        check_classes(self, raw.num_classes, request.classes, raw.labels_note)
        plan = plan_adaptation(str(self), raw.x.shape[1:], request.input_shape, raw.scale)
        parts = holdout(self, raw, request)
        counts = np.bincount(parts["train"].y, minlength=request.classes)[:request.classes]
        left_out = request.shard.left_out_of(parts)
        parts = {name: Arrays(request.shard.of(p.x), request.shard.of(p.y))
                 for name, p in parts.items()}
        return Opened(parts, plan, raw.num_classes, raw.class_names, counts.astype(np.int64),
                      raw.labels_note, left_out=left_out)


def holdout(src: Source, raw: RawData, request: Request) -> dict[str, Arrays]:
    """Validation and test examples held out (stratified, seeded) where the source has
    none of its own; ``raw.x`` may be any array indexed by example (file paths too)."""
    n_val, n_test = holdout_sizes(len(raw.y),
                                  0.0 if raw.validation else request.validation_split,
                                  0.0 if raw.test else request.test_split)
    if len(raw.y) - n_val - n_test < 1:
        raise DataError(f"{src}: {len(raw.y)} examples are too few to hold out {n_val} for "
                        f"validation and {n_test} for test")
    train, val, test = stratified_split(raw.y, n_val, n_test, request.seed)
    pairs = {"train": (raw.x[train], raw.y[train]),
             "validation": raw.validation or (raw.x[val], raw.y[val]),
             "test": raw.test or (raw.x[test], raw.y[test])}
    return {name: Arrays(x, np.asarray(y, np.int64)) for name, (x, y) in pairs.items()}


def check_classes(src, found: int, classes: int, note: str = "") -> None:
    """``DataError`` when the data has more classes than the blueprint has outputs."""
    if found > classes:
        raise DataError(f"{src} has {found} classes{note} but the blueprint outputs "
                        f"{classes} (pass classes={found})", arguments=("classes",))

