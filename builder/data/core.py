"""``load_data``: one call from a source string to batched train/validation/test data."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import checks
from ..errors import ArgumentError, DataError
from .augment import check_augment
from .protocol import PARTS, Request, Shard, Source
from .source import parse_source

PIPELINES: tuple[str, ...] = ("tf", "numpy")


@dataclass
class DataSplits:
    """Batched data ready for ``model.fit``/``evaluate``.

    ``train``, ``validation`` and ``test`` are ``tf.data.Dataset`` (pipeline "tf") or
    ``keras.utils.PyDataset`` (pipeline "numpy") yielding (float32 images, int32
    labels); ``validation``/``test`` are None where they hold no examples.
    ``class_names`` has one name per blueprint output (outputs the data does not use
    are named by their index); ``class_counts`` counts training labels per output.
    Sizes count this process's shard.
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
        n = checks.whole("n", n, 1)
        if self.sampler is None:
            raise ArgumentError("these DataSplits were made without a sampler")
        return self.sampler(n)

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
    augment: tuple[str, ...] = (),
    data_dir: str | None = None,
    download: bool = False,
    pipeline: str = "tf",
    synthetic_size: int = 256,
    cache: bool = True,
    shard: Shard = Shard(),
) -> DataSplits:
    """Load ``source`` for a blueprint with input ``input_shape`` and ``classes`` outputs.

    Sources: "digits", "synthetic", "folder:PATH", "npz:PATH", "tfds:NAME[:SPLIT]".
    Examples are scaled to [0, 1] from their native range, resized (bilinear) to the
    blueprint's height and width and converted between 1 and 3 channels. Validation
    and test examples are held out (stratified, seeded: fractions of the examples that
    have no split of their own) where the source has none. ``augment`` ("flip",
    "crop", "rotate") applies to training batches only. Data in memory (every source
    but tfds) is already cached; ``cache`` caches tfds streams. ``shard`` chooses this
    process's part of every split.

    Raises ``DataError`` for data that is missing, unreadable or does not fit the
    blueprint, ``ArgumentError`` for a bad argument.
    """
    request = _request(input_shape, classes, seed, validation_split, test_split, data_dir,
                       download, synthetic_size, shard)
    batch_size = checks.whole("batch_size", batch_size, 1)
    checks.choice("pipeline", pipeline, PIPELINES)
    augment = check_augment(augment, request.input_shape)
    src = source if isinstance(source, Source) else parse_source(source)
    opened = src.open(request)
    if pipeline == "tf":
        from .tf_pipeline import dataset  # TensorFlow: only the pipeline asked for loads
    else:
        from .py_dataset import dataset  # Keras: only the pipeline asked for loads
    datasets = {name: dataset(part, opened.plan, batch_size=batch_size, training=name == "train",
                              seed=request.seed, augment=augment, cache=bool(cache))
                if part.size else None
                for name, part in opened.parts.items()}

    sizes = {name: part.size for name, part in opened.parts.items()}
    return DataSplits(
        train=datasets["train"], validation=datasets["validation"], test=datasets["test"],
        classes=request.classes, class_names=_names(opened.class_names, request.classes),
        input_shape=request.input_shape, num_train=sizes["train"],
        num_validation=sizes["validation"], num_test=sizes["test"], source=str(src),
        class_counts=opened.class_counts, pipeline=pipeline, batch_size=batch_size,
        sampler=functools.partial(_sample, opened),
    )


def _sample(opened, n: int):
    """The first ``n`` adapted examples of the test split, else validation, else train."""
    for name in ("test", "validation", "train"):
        if opened.parts[name].size:
            return opened.parts[name].head(n, opened.plan)
    raise DataError("no examples to sample")


def _request(input_shape, classes, seed, validation_split, test_split, data_dir, download,
             synthetic_size, shard) -> Request:
    validation_split = checks.fraction("validation_split", validation_split)
    test_split = checks.fraction("test_split", test_split)
    if validation_split + test_split >= 1:
        raise ArgumentError(f"`validation_split` + `test_split` must be below 1, not "
                            f"{validation_split} + {test_split}",
                            arguments=("validation_split", "test_split"))
    return Request(checks.shape("input_shape", input_shape), checks.whole("classes", classes, 1),
                   checks.whole("seed", seed, 0), validation_split, test_split, data_dir,
                   bool(download), checks.whole("synthetic_size", synthetic_size, 1), shard)


def _names(names: list[str], classes: int) -> list[str]:
    names = [str(n) for n in names][:classes]
    return names + [str(i) for i in range(len(names), classes)]


__all__ = ["PARTS", "PIPELINES", "DataSplits", "load_data"]
