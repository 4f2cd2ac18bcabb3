"""``tfds:NAME[:SPLIT]``: a tensorflow-datasets dataset, prepared in a data directory.

Nothing is downloaded unless ``download`` is true: a dataset that is not prepared
fails at once with a ``DataError`` saying where it was looked for. Examples stream
from the prepared files; validation and test come from the dataset's own
'validation' and 'test' splits where it has them, otherwise from the start of the
training split (tfds shuffles examples when it prepares a dataset; these holdouts are
not stratified).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from builder.data.adapt import Plan, plan_adaptation
from builder.data.source import Source
from builder.data.split import holdout_sizes
from builder.errors import DataError, did_you_mean


@dataclass
class TfdsData:
    """Streams of stored (image, label) examples per part, and what they hold."""

    parts: dict          # "train" | "validation" | "test" -> (tf.data.Dataset, size)
    plan: Plan
    num_classes: int
    class_names: list[str]
    class_counts: np.ndarray


def open_tfds(src: Source, *, input_shape, classes: int, validation_split: float,
              test_split: float, data_dir: str | None, download: bool) -> TfdsData:
    import tensorflow_datasets as tfds

    builder = _builder(src, data_dir)
    if not builder.is_prepared():
        if not download:
            raise DataError(
                f"{src}: the dataset is not prepared in {builder.data_dir_root}; pass "
                f"--download (download=True) to download and prepare it there "
                f"(downloading needs network access), or --data-dir to point at a "
                f"directory where it is prepared"
            )
        try:
            builder.download_and_prepare()
        except Exception as error:  # network, checksum, manual-download datasets ...
            raise DataError(f"{src}: could not download and prepare the dataset into "
                            f"{builder.data_dir_root} (downloading needs network access): "
                            f"{_first_line(error)}") from error

    features = builder.info.features
    image_key = _feature(src, features, "image", tfds.features.Image, "image")
    label_key = _feature(src, features, "label", tfds.features.ClassLabel, "class label")
    image = features[image_key]
    label = features[label_key]
    num_classes = int(label.num_classes)
    if num_classes > classes:
        raise DataError(f"{src} has {num_classes} classes but the blueprint outputs "
                        f"{classes} (pass --classes {num_classes})")
    names = [str(n) for n in label.names]
    dtype = np.dtype(image.np_dtype)
    scale = float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0
    plan = plan_adaptation(str(src), tuple(image.shape), input_shape, scale)

    available = list(builder.info.splits.keys())  # empty where tfds does not know them
    used = set(re.findall(r"[A-Za-z_][\w-]*", src.split))

    def stream(spec: str, labels_only: bool = False):
        decoders = {image_key: tfds.decode.SkipDecoding()} if labels_only else None
        try:
            ds = builder.as_dataset(split=spec, shuffle_files=False, decoders=decoders)
        except ValueError as error:
            raise DataError(f"{src}: bad split {spec!r}: {_first_line(error)}"
                            f"{did_you_mean(spec, available)}") from error
        if labels_only:
            return ds.map(lambda ex: ex[label_key])
        return ds.map(lambda ex: (ex[image_key], ex[label_key]))

    def size(ds) -> int:
        n = int(ds.cardinality())
        if n < 0:  # unknown: count
            n = int(ds.reduce(np.int64(0), lambda count, _: count + 1))
        return n

    pool = stream(src.split)
    n_pool = size(pool)
    own = {part: part in available and part not in used for part in ("validation", "test")}
    n_val, n_test = holdout_sizes(n_pool, 0.0 if own["validation"] else validation_split,
                                  0.0 if own["test"] else test_split)
    if n_pool - n_val - n_test < 1:
        raise DataError(f"{src}: split {src.split!r} has {n_pool} examples, too few to hold "
                        f"out {n_val} for validation and {n_test} for test")

    def carve(ds, part: str):
        start = {"test": 0, "validation": n_test, "train": n_test + n_val}[part]
        count = {"test": n_test, "validation": n_val, "train": -1}[part]
        return ds.skip(start).take(count)

    parts = {"train": (carve(pool, "train"), n_pool - n_val - n_test)}
    for part, n_carved in (("validation", n_val), ("test", n_test)):
        if own[part]:
            ds = stream(part)
            parts[part] = (ds, size(ds))
        else:
            parts[part] = (carve(pool, part), n_carved)

    counts = np.zeros(max(classes, num_classes), np.int64)
    for batch in carve(stream(src.split, labels_only=True), "train").batch(4096):
        counts += np.bincount(batch.numpy().astype(np.int64), minlength=len(counts))
    return TfdsData(parts, plan, num_classes, names, counts[:classes])


def _builder(src: Source, data_dir: str | None):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(src.arg, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError as error:
        base = src.arg.split(":")[0].split("/")[0]
        known = tfds.list_builders(with_community_datasets=False)
        if base in known:  # the dataset exists; its config or version does not
            raise DataError(f"{src}: {_first_line(error)}") from error
        raise DataError(f"{src}: tensorflow-datasets has no dataset {base!r}"
                        f"{did_you_mean(base, known)}") from error
    except Exception as error:  # a builder that cannot be made (missing extra, bad config)
        raise DataError(f"{src}: cannot open the dataset: {_first_line(error)}") from error


def _feature(src: Source, features, key: str, kind, what: str) -> str:
    """The key of the image (or label) feature: ``key`` if it is one, else the only one."""
    items = dict(features.items()) if hasattr(features, "items") else {}
    if isinstance(items.get(key), kind):
        return key
    found = [k for k, f in items.items() if isinstance(f, kind)]
    if len(found) == 1:
        return found[0]
    listing = ", ".join(f"{k!r} ({type(f).__name__})" for k, f in items.items()) or "none"
    problem = f"several {what} features" if found else f"no {what} feature"
    raise DataError(f"{src}: found {problem} (features: {listing}); loading needs exactly "
                    f"one {kind.__name__} feature, ideally named {key!r}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
