"""``load_data``: one call from a source string to batched train/validation/test data."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import checks
from ..errors import ArgumentError, DataError
from .augment import check_augment
from .cache import CacheChoice, cache_key, check_cache, decide
from .files import MAX_BAD_FILES, SkipLog
from .protocol import PARTS, Arrays, Files, Opened, Request, Shard, Source, Stream
from .source import parse_source
from .transforms import BATCH_AUGMENTATIONS, CROP_PCT, CROP_SCALE, Transform, check_crop, choose

PIPELINES: tuple[str, ...] = ("tf", "numpy")


@dataclass
class DataSplits:
    """Batched data ready for ``model.fit``/``evaluate``.

    ``train``, ``validation`` and ``test`` are ``tf.data.Dataset`` (pipeline "tf") or
    ``keras.utils.PyDataset`` (pipeline "numpy") yielding (float32 images, int32
    labels); ``validation``/``test`` are None where they hold no examples.
    ``class_names`` has one name per blueprint output (outputs the data does not use
    are named by their index); ``class_counts`` counts training labels per output.
    Sizes count this process's shard, or the whole job's where the shards are equal
    (each process holds size / processes; ``left_out`` examples none holds). ``cache``
    says where streamed parts are cached; ``bad_files()`` lists the files found
    unreadable so far (they are skipped). ``transform`` records the training and
    evaluation transforms chosen (transforms.py), as config.json keeps them.
    """

    train: Any
    validation: Any
    test: Any
    classes: int
    class_names: list[str]
    input_shape: tuple[int, ...]
    num_train: int
    num_validation: int
    num_test: int
    source: str
    class_counts: np.ndarray
    pipeline: str = "tf"
    batch_size: int = 32
    sampler: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False, compare=False)
    cache: CacheChoice = CacheChoice("auto", "source")
    max_bad_files: float = MAX_BAD_FILES
    skip_logs: dict[str, SkipLog] = field(default_factory=dict, repr=False, compare=False)
    unreadable: list[str] = field(default_factory=list, repr=False)  # by the header check
    transform: dict = field(default_factory=dict)
    left_out: int = 0              # examples no process reads (equal shards)

    def sample(self, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` test examples (fewer if the split is smaller) as numpy
        (float32 images, int32 labels), adapted and not augmented. Falls back to
        validation, then training data, where there is no test split."""
        n = checks.whole("n", n, 1)
        if self.sampler is None:
            raise ArgumentError("these DataSplits were made without a sampler")
        return self.sampler(n)

    def bad_files(self) -> list[str]:
        """Every file found unreadable so far: by the header check (``check_data``) and
        while streaming (each part's files are tried as its pipeline reads them)."""
        found = set(self.unreadable)
        for log in self.skip_logs.values():
            found.update(log.paths())
        return sorted(found)

    def check_bad_files(self) -> None:
        """``DataError`` where the unreadable files of a part are more than
        ``max_bad_files`` of it."""
        for name, log in self.skip_logs.items():
            _check_share(self.source, name, log.paths(), log.total, self.max_bad_files)

    def class_weights(self) -> dict[int, float]:
        """Keras ``class_weight`` that balances the training classes:
        n_train / (classes present * count); outputs with no examples get 0."""
        counts = np.asarray(self.class_counts, dtype=np.float64)
        present = int((counts > 0).sum())
        total = counts.sum()
        return {i: float(total / (present * c)) if c > 0 else 0.0 for i, c in enumerate(counts)}


def load_data(
    source: str | Source,
    *,
    input_shape,
    classes: int,
    batch_size: int = 32,
    seed: int = 0,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    augment: tuple[str, ...] | None = (),
    data_dir: str | None = None,
    download: bool = False,
    pipeline: str = "tf",
    synthetic_size: int = 256,
    cache: str = "auto",
    shard: Shard = Shard(),
    check_data: bool = False,
    max_bad_files: float = MAX_BAD_FILES,
    train_transform: str = "auto",
    crop_pct: float = CROP_PCT,
    crop_scale: tuple[float, float] = CROP_SCALE,
) -> DataSplits:
    """Load ``source`` for a blueprint with input ``input_shape`` and ``classes`` outputs.

    Sources: "digits", "synthetic", "folder:PATH", "npz:PATH", "tfds:NAME[:SPLIT]".
    Examples are scaled to [0, 1] and fitted to the blueprint's input by the transform
    (``train_transform`` auto, simple or imagenet, with ``crop_pct`` and ``crop_scale``:
    transforms.py). Validation and test examples are held out (stratified, seeded) where
    the source has none. ``augment`` ("flip", "crop", "rotate", "jitter", "randaugment",
    "mixup", "cutmix"; None: the transform's default) applies to training batches only.
    ``folder`` and ``tfds`` stream; ``cache`` ("auto", "none", "memory" or a directory)
    says where their decoded examples are kept (builder.data.cache). Unreadable files
    are skipped; more than ``max_bad_files`` (a fraction) stops training; ``check_data``
    checks every file's header first. ``shard`` chooses this process's part of a split.

    Raises ``DataError`` for data that is missing, unreadable or does not fit the
    blueprint, ``ArgumentError`` for a bad argument.
    """
    request = _request(input_shape, classes, seed, validation_split, test_split, data_dir,
                       download, synthetic_size, shard, check_data)
    batch_size = checks.whole("batch_size", batch_size, 1)
    checks.choice("pipeline", pipeline, PIPELINES)
    max_bad_files = checks.fraction("max_bad_files", max_bad_files)
    if augment is not None:
        augment = check_augment(augment, request.input_shape)
    check_crop(crop_pct, crop_scale)
    requested = _cache_for(cache, pipeline)
    src = source if isinstance(source, Source) else parse_source(source)
    opened = src.open(request)
    total = sum(p.size for p in opened.parts.values()) + len(opened.unreadable)
    _check_share(str(src), "", opened.unreadable, total, max_bad_files)
    transform = _transform(opened, request, pipeline, train_transform, augment,
                           crop_pct=float(crop_pct), scale=tuple(map(float, crop_scale)))
    choice = decide(requested, sum(p.size for p in opened.parts.values()
                                   if isinstance(p, (Files, Stream))), request.input_shape)
    datasets = _pipelines(opened, request, pipeline, batch_size, transform, choice, str(src))
    return _splits(opened, request, datasets, str(src), transform, pipeline=pipeline,
                   batch_size=batch_size, cache=choice, max_bad_files=max_bad_files)


def _splits(opened: Opened, request: Request, datasets: dict, source: str,
            transform: Transform, **fields) -> DataSplits:
    """The ``DataSplits`` of the pipelines of an opened source."""
    # Equal shards (a job of several processes on tf.data): what all of them read.
    share = request.shard.count if request.shard.equal else 1
    sizes = {name: part.size * share for name, part in opened.parts.items()}
    return DataSplits(
        train=datasets["train"], validation=datasets["validation"], test=datasets["test"],
        classes=request.classes, class_names=_names(opened.class_names, request.classes),
        input_shape=request.input_shape, num_train=sizes["train"],
        num_validation=sizes["validation"], num_test=sizes["test"], source=source,
        class_counts=opened.class_counts, sampler=functools.partial(_sample, opened, transform),
        skip_logs={name: p.skipped for name, p in opened.parts.items()
                   if isinstance(p, Files)},
        unreadable=list(opened.unreadable), transform=transform.record(request.input_shape),
        left_out=opened.left_out,
        **fields)


def _pipelines(opened: Opened, request: Request, pipeline: str, batch_size: int,
               transform: Transform, choice: CacheChoice, source: str) -> dict:
    """The batched pipeline of every part (None where a part holds no examples)."""
    if pipeline == "tf":
        from .tf_pipeline import dataset  # TensorFlow: only the pipeline asked for loads

        dataset = functools.partial(dataset, exact=request.shard.equal)
    else:
        from .py_dataset import dataset  # Keras: only the pipeline asked for loads
    key = cache_key(source, request.input_shape, request.seed, request.validation_split,
                    request.test_split, request.shard, request.check_data)
    return {name: dataset(part, opened.plan, batch_size=batch_size, training=name == "train",
                          seed=request.seed, augment=transform.affine, transform=transform,
                          cache=choice.for_part(name, key))
            if part.size else None
            for name, part in opened.parts.items()}


def _check_share(source: str, part: str, bad: list[str], total: int, limit: float) -> None:
    """``DataError`` where ``bad`` files are more than ``limit`` of ``total``."""
    if bad and len(bad) > limit * total:
        where = f" {part}" if part else ""
        raise DataError(f"{source}: {len(bad)} of {total}{where} files "
                        f"({len(bad) / total:.1%}) cannot be read, more than "
                        f"max_bad_files={limit:g} allows (the first is {bad[0]})",
                        arguments=("max_bad_files",))


def _transform(opened, request: Request, pipeline: str, train_transform: str, augment,
               **crop) -> Transform:
    """The run's transforms: imagenet or simple (``auto`` decides from the input size and
    whether the training examples keep their stored size), and the augmentations."""
    train = opened.parts["train"]
    native = not isinstance(train, Arrays) or opened.plan.resize
    kind = choose(train_transform, request.input_shape, native, pipeline)
    if augment is None:
        augment = check_augment(("rotate",) if kind == "simple" else (), request.input_shape)
    batch = [a for a in augment if a in BATCH_AUGMENTATIONS]
    if batch and pipeline != "tf":
        raise ArgumentError(f"augmentation {', '.join(batch)} needs the tf pipeline (the "
                            f"TensorFlow backend)", arguments=("augment",))
    return Transform(kind, augment, classes=request.classes, **crop)


def _cache_for(cache, pipeline: str) -> str:
    """The requested cache, checked; the numpy pipeline reads files every epoch and caches
    nothing (auto is none there; asking it for a cache is refused)."""
    requested = check_cache(cache)
    if pipeline == "numpy" and requested not in ("auto", "none"):
        raise ArgumentError(f"cache={cache!r}: the numpy pipeline caches nothing; use "
                            f"pipeline='tf' to cache", arguments=("cache", "pipeline"))
    return "none" if pipeline == "numpy" else requested


def _sample(opened, transform: Transform, n: int):
    """The first ``n`` examples of the test split, else validation, else train, as
    evaluation sees them."""
    for name in ("test", "validation", "train"):
        part = opened.parts[name]
        if part.size and transform.kind == "imagenet":
            # TensorFlow: the imagenet transforms need it
            from .tf_pipeline import stored_examples, to_arrays

            return to_arrays(stored_examples(part, n), opened.plan, transform)
        if part.size:
            return part.head(n, opened.plan)
    raise DataError("no examples to sample")


def _request(input_shape, classes, seed, validation_split, test_split, data_dir, download,
             synthetic_size, shard, check_data=False) -> Request:
    validation_split = checks.fraction("validation_split", validation_split)
    test_split = checks.fraction("test_split", test_split)
    if validation_split + test_split >= 1:
        raise ArgumentError(f"`validation_split` + `test_split` must be below 1, not "
                            f"{validation_split} + {test_split}",
                            arguments=("validation_split", "test_split"))
    return Request(checks.shape("input_shape", input_shape), checks.whole("classes", classes, 1),
                   checks.whole("seed", seed, 0), validation_split, test_split, data_dir,
                   bool(download), checks.whole("synthetic_size", synthetic_size, 1), shard,
                   bool(check_data))


def _names(names: list[str], classes: int) -> list[str]:
    names = [str(n) for n in names][:classes]
    return names + [str(i) for i in range(len(names), classes)]


__all__ = ["PARTS", "PIPELINES", "DataSplits", "load_data"]
