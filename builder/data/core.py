"""``load_data``: one call from a source string to batched train/validation/test data."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from builder.data.adapt import Plan, plan_adaptation
from builder.data.arrays import LOADERS, RawData
from builder.data.augment import check_augment
from builder.data.source import Source, parse_source
from builder.data.split import holdout_sizes, stratified_split
from builder.errors import ArgumentError, DataError, did_you_mean, one_of

PIPELINES: tuple[str, ...] = ("tf", "numpy")
PARTS: tuple[str, ...] = ("train", "validation", "test")


@dataclass
class DataSplits:
    """Batched data ready for ``model.fit``/``evaluate``.

    ``train``, ``validation`` and ``test`` are ``tf.data.Dataset`` (pipeline "tf") or
    ``keras.utils.PyDataset`` (pipeline "numpy") yielding (float32 images, int32
    labels); ``validation``/``test`` are None where they hold no examples.
    ``class_names`` has one name per blueprint output (outputs the data does not use
    are named by their index); ``class_counts`` counts training labels per output.
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

    def sample(self, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` test examples (fewer if the split is smaller) as numpy
        (float32 images, int32 labels), adapted and not augmented. Falls back to
        validation, then training data, where there is no test split."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ArgumentError(f"sample(n) needs a positive whole number, not {n!r}")
        if self.sampler is None:
            raise ArgumentError("these DataSplits were made without a sampler")
        return self.sampler(int(n))

    def class_weights(self) -> dict[int, float]:
        """Keras ``class_weight`` that balances the training classes:
        n_train / (classes present * count); outputs with no examples get 0."""
        counts = np.asarray(self.class_counts, dtype=np.float64)
        present = int((counts > 0).sum())
        total = counts.sum()
        return {i: float(total / (present * c)) if c > 0 else 0.0 for i, c in enumerate(counts)}


def load_data(
    source: str,
    *,
    input_shape,
    classes: int,
    batch_size: int = 32,
    seed: int = 0,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    augment: tuple[str, ...] = (),
    data_dir: str | None = None,
    download: bool = False,
    pipeline: str = "tf",
    synthetic_size: int = 256,
    cache: bool = True,
) -> DataSplits:
    """Load ``source`` for a blueprint with input ``input_shape`` and ``classes`` outputs.

    Sources: "digits", "synthetic", "folder:PATH", "npz:PATH", "tfds:NAME[:SPLIT]".
    Examples are scaled to [0, 1] from their native range, resized (bilinear) to the
    blueprint's height and width and converted between 1 and 3 channels. Validation
    and test examples are held out (stratified, seeded: fractions of the examples that
    have no split of their own) where the source has none. ``augment`` ("flip",
    "crop", "rotate") applies to training batches only. Data in memory (every source
    but tfds) is already cached; ``cache`` caches tfds streams.

    Raises ``DataError`` for data that is missing, unreadable or does not fit the
    blueprint, ``ArgumentError`` for a bad argument.
    """
    shape = _input_shape(input_shape)
    classes = _whole("classes", classes, 1)
    batch_size = _whole("batch_size", batch_size, 1)
    synthetic_size = _whole("synthetic_size", synthetic_size, 1)
    seed = _whole("seed", seed, 0)
    validation_split = _fraction("validation_split", validation_split)
    test_split = _fraction("test_split", test_split)
    if validation_split + test_split >= 1:
        raise ArgumentError(f"validation_split + test_split must be below 1, not "
                            f"{validation_split} + {test_split}")
    if pipeline not in PIPELINES:
        raise ArgumentError(f"pipeline must be {one_of(PIPELINES)}, not {pipeline!r}"
                            f"{did_you_mean(str(pipeline), PIPELINES)}")
    augment = check_augment(augment, shape)
    src = parse_source(source)
    common = dict(src=src, shape=shape, classes=classes, batch_size=batch_size, seed=seed,
                  augment=augment, pipeline=pipeline)

    if src.kind == "tfds":
        return _from_tfds(**common, validation_split=validation_split, test_split=test_split,
                          data_dir=data_dir, download=bool(download), cache=bool(cache))

    raw = LOADERS[src.kind](src, input_shape=shape, classes=classes, seed=seed,
                            synthetic_size=synthetic_size)
    check_classes(src, raw.num_classes, classes, raw.labels_note)
    plan = plan_adaptation(str(src), raw.x.shape[1:], shape, raw.scale)
    parts = _split(src, raw, validation_split, test_split, seed)
    counts = np.bincount(parts["train"][1], minlength=classes)[:classes].astype(np.int64)

    if pipeline == "tf":
        from builder.data import tf_pipeline

        def make(part, x, y):
            return tf_pipeline.from_arrays(x, y, plan, batch_size=batch_size,
                                           training=part == "train", seed=seed, augment=augment)
    else:
        from builder.data.py_dataset import ArrayDataset

        def make(part, x, y):
            training = part == "train"
            return ArrayDataset(x, y, plan, batch_size=batch_size, shuffle=training,
                                seed=seed, augment=augment if training else ())

    datasets = {part: make(part, x, y) if len(y) else None for part, (x, y) in parts.items()}
    return DataSplits(
        train=datasets["train"], validation=datasets["validation"], test=datasets["test"],
        classes=classes, class_names=_names(raw.class_names, classes), input_shape=shape,
        num_train=len(parts["train"][1]), num_validation=len(parts["validation"][1]),
        num_test=len(parts["test"][1]), source=str(src), class_counts=counts,
        pipeline=pipeline, batch_size=batch_size, sampler=_array_sampler(parts, plan),
    )


def check_classes(src: Source | str, found: int, classes: int, note: str = "") -> None:
    """``DataError`` when the data has more classes than the blueprint has outputs."""
    if found > classes:
        raise DataError(f"{src} has {found} classes{note} but the blueprint outputs "
                        f"{classes} (pass --classes {found})")


# ----------------------------------------------------------------------- in memory

def _split(src: Source, raw: RawData, validation_split: float, test_split: float, seed: int):
    n_val, n_test = holdout_sizes(len(raw.y), 0.0 if raw.validation else validation_split,
                                  0.0 if raw.test else test_split)
    if len(raw.y) - n_val - n_test < 1:
        raise DataError(f"{src}: {len(raw.y)} examples are too few to hold out {n_val} for "
                        f"validation and {n_test} for test")
    train, val, test = stratified_split(raw.y, n_val, n_test, seed)
    parts = {
        "train": (raw.x[train], raw.y[train]),
        "validation": raw.validation or (raw.x[val], raw.y[val]),
        "test": raw.test or (raw.x[test], raw.y[test]),
    }
    return {part: (x, np.asarray(y, np.int64)) for part, (x, y) in parts.items()}


def _array_sampler(parts: dict, plan: Plan):
    def sample(n: int):
        for part in ("test", "validation", "train"):
            x, y = parts[part]
            if len(y):
                return plan.apply_numpy(x[:n]), y[:n].astype(np.int32)
        raise DataError("no examples to sample")
    return sample


# -------------------------------------------------------------------------- tfds

def _from_tfds(*, src, shape, classes, batch_size, seed, augment, pipeline, validation_split,
               test_split, data_dir, download, cache) -> DataSplits:
    from builder.data import tf_pipeline
    from builder.data.tfds_source import open_tfds

    data = open_tfds(src, input_shape=shape, classes=classes, validation_split=validation_split,
                     test_split=test_split, data_dir=data_dir, download=download)
    sizes = {part: size for part, (_, size) in data.parts.items()}

    if pipeline == "tf":
        datasets = {
            part: tf_pipeline.from_examples(ds, data.plan, size=size, batch_size=batch_size,
                                            training=part == "train", seed=seed,
                                            augment=augment, cache=cache) if size else None
            for part, (ds, size) in data.parts.items()
        }

        def sample(n: int):
            for part in ("test", "validation", "train"):
                ds, size = data.parts[part]
                if size:
                    return tf_pipeline.to_arrays(ds.take(n), data.plan)
            raise DataError("no examples to sample")
    else:
        # The numpy pipeline needs the examples in memory: read them once, adapted.
        from builder.data.py_dataset import ArrayDataset

        arrays = {part: tf_pipeline.to_arrays(ds, data.plan)
                  for part, (ds, _) in data.parts.items()}
        stored = Plan(shape, shape, 1.0)
        datasets = {
            part: ArrayDataset(x, y, stored, batch_size=batch_size, shuffle=part == "train",
                               seed=seed, augment=augment if part == "train" else ())
            if len(y) else None
            for part, (x, y) in arrays.items()
        }
        sizes = {part: len(y) for part, (_, y) in arrays.items()}
        sample = _array_sampler(arrays, stored)

    return DataSplits(
        train=datasets["train"], validation=datasets["validation"], test=datasets["test"],
        classes=classes, class_names=_names(data.class_names, classes), input_shape=shape,
        num_train=sizes["train"], num_validation=sizes["validation"], num_test=sizes["test"],
        source=str(src), class_counts=data.class_counts, pipeline=pipeline,
        batch_size=batch_size, sampler=sample,
    )


# ---------------------------------------------------------------------- arguments

def _names(names: list[str], classes: int) -> list[str]:
    names = [str(n) for n in names][:classes]
    return names + [str(i) for i in range(len(names), classes)]


def _input_shape(shape) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if (not dims or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
                        for d in dims)):
        raise ArgumentError(f"input_shape must be positive whole numbers without the batch "
                            f"axis, e.g. (32, 32, 3); got {shape!r}")
    return tuple(int(d) for d in dims)


def _whole(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ArgumentError(f"{name} must be a whole number >= {low}, not {value!r}")
    return int(value)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ArgumentError(f"{name} must be a fraction in [0, 1), not {value!r}")
    return float(value)
