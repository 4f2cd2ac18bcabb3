"""tf.data pipelines (TensorFlow only; imported when pipeline="tf" or for tfds).

Training data is shuffled (seeded, reshuffled every epoch), adapted to the
blueprint's input, batched, augmented and prefetched; validation and test data are
adapted, batched and prefetched in a fixed order. Batches are (float32 images, int32
labels).

Streamed parts (image files, tfds) are cached where ``cache`` says: "" not at all,
"memory", or a file prefix (a tf.data file cache). The cache holds examples adapted to
the blueprint's input, so a cached part is decoded once; training data is shuffled
again after the cache, which would otherwise replay one order.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .adapt import Plan
from .augment import augment_tf
from .protocol import Arrays, Files, Stream

AUTOTUNE = tf.data.AUTOTUNE
#: Largest shuffle buffer for streamed (tfds) data, in examples.
SHUFFLE_BUFFER = 10_000
#: Largest shuffle buffer of decoded examples not cached in memory, in bytes.
SHUFFLE_BYTES = 256 * 2**20


def dataset(part: Arrays | Stream | Files, plan: Plan, *, batch_size: int, training: bool,
            seed: int, augment: tuple[str, ...], cache: str = "") -> tf.data.Dataset:
    """The batched pipeline of one part (examples in memory, image files, or a stream)."""
    if isinstance(part, Arrays):
        return from_arrays(part.x, part.y, plan, batch_size=batch_size, training=training,
                           seed=seed, augment=augment)
    kw = dict(batch_size=batch_size, training=training, seed=seed, augment=augment,
              cache=cache)
    if isinstance(part, Files):
        return from_files(part, plan, **kw)
    return from_examples(part.dataset, plan, size=part.size, **kw)


def from_arrays(x: np.ndarray, y: np.ndarray, plan: Plan, *, batch_size: int,
                training: bool, seed: int, augment: tuple[str, ...]) -> tf.data.Dataset:
    """A pipeline over examples already in memory; adapted a batch at a time."""
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if training:
        ds = ds.shuffle(max(1, len(x)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda images, labels: (plan.apply_tf(images), labels),
                num_parallel_calls=AUTOTUNE)
    if training and augment:
        ds = _augmented(ds, seed, augment)
    return ds.prefetch(AUTOTUNE)


def from_files(part: Files, plan: Plan, *, batch_size: int, training: bool, seed: int,
               augment: tuple[str, ...], cache: str) -> tf.data.Dataset:
    """A pipeline over image files: the file list (shuffled every epoch where it is
    not cached), read and decoded in parallel (unreadable files skipped and logged in
    ``part.skipped``), fitted to the blueprint's input, cached, batched, prefetched."""
    size = part.size
    ds = tf.data.Dataset.from_tensor_slices(
        ([str(p) for p in part.paths], part.y.astype(np.int32), np.arange(size, dtype=np.int64)))
    if training:
        ds = ds.shuffle(max(1, size), seed=seed, reshuffle_each_iteration=not cache)
    ds = decoded(ds, part, lambda image: resize_to_input(image, plan))
    return _finished(ds, plan, size=size, batch_size=batch_size, training=training, seed=seed,
                     augment=augment, cache=cache)


def decoded(ds: tf.data.Dataset, part: Files, then=lambda image: image) -> tf.data.Dataset:
    """(path, label, index) -> (``then`` of the uint8 image, label); a file that cannot
    be read or decoded is dropped, and its path is what ``part.skipped`` reports: each
    index is marked when it is tried and again when it decoded."""
    tried = tf.Variable(tf.zeros([part.size], tf.bool), trainable=False)
    read = tf.Variable(tf.zeros([part.size], tf.bool), trainable=False)
    part.skipped.watch(lambda: part.paths[np.flatnonzero(tried.numpy() & ~read.numpy())])

    def mark(flags, index):
        flags.scatter_nd_update(tf.reshape(index, [1, 1]), [True])

    def try_one(path, label, index):
        mark(tried, index)
        return path, label, index

    def decode(path, label, index):
        return decode_file(path, part.channels), label, index

    def keep(image, label, index):
        mark(read, index)
        return then(image), label

    # Marking in maps of their own: a map whose decoding fails drops all it did.
    ds = ds.map(try_one, num_parallel_calls=AUTOTUNE)
    ds = ds.map(decode, num_parallel_calls=AUTOTUNE).ignore_errors()
    return ds.map(keep, num_parallel_calls=AUTOTUNE)


def decode_file(path, channels: int):
    """A PNG, JPEG, BMP or GIF file (the first frame) decoded to uint8 (h, w, channels):
    3 channels for every format (gray repeated), 4 with an opaque alpha for formats
    that have none; 16-bit PNGs keep their top 8 bits."""
    contents = tf.io.read_file(path)
    if channels != 4:
        return tf.io.decode_image(contents, channels=3, expand_animations=False)
    opaque = tf.logical_or(tf.io.is_jpeg(contents), tf.strings.substr(contents, 0, 3) == "GIF")
    return tf.ensure_shape(tf.cond(
        opaque,
        lambda: tf.pad(tf.io.decode_image(contents, channels=3, expand_animations=False),
                       [[0, 0], [0, 0], [0, 1]], constant_values=255),
        lambda: tf.io.decode_image(contents, channels=4, expand_animations=False)),
        (None, None, 4))


def resize_to_input(image, plan: Plan):
    """One decoded image (h, w, c) as the blueprint's input: scaled to [0, 1], its
    channels converted, resized (bilinear, aspect ratio not kept) to the input's height
    and width. The one place a streamed image is fitted to the input."""
    return plan.apply_tf(image[None])[0]


def from_examples(ds: tf.data.Dataset, plan: Plan, *, size: int, batch_size: int,
                  training: bool, seed: int, augment: tuple[str, ...],
                  cache: str) -> tf.data.Dataset:
    """A pipeline over a stream of single (image, label) examples as stored (tfds):
    each is adapted on its own (stored sizes may differ), then cached and shuffled."""
    ds = ds.map(lambda image, label: (resize_to_input(image, plan), tf.cast(label, tf.int32)),
                num_parallel_calls=AUTOTUNE)
    if training and not cache:
        ds = ds.shuffle(shuffle_buffer(size, plan, ""), seed=seed, reshuffle_each_iteration=True)
    return _finished(ds, plan, size=size, batch_size=batch_size, training=training, seed=seed,
                     augment=augment, cache=cache)


def _finished(ds: tf.data.Dataset, plan: Plan, *, size: int, batch_size: int, training: bool,
              seed: int, augment: tuple[str, ...], cache: str) -> tf.data.Dataset:
    """Adapted single examples cached (where asked), shuffled after the cache, batched,
    augmented (training) and prefetched."""
    if cache:
        ds = ds.cache("" if cache == "memory" else cache)
        if training:
            ds = ds.shuffle(shuffle_buffer(size, plan, cache), seed=seed,
                            reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training and augment:
        ds = _augmented(ds, seed, augment)
    return ds.prefetch(AUTOTUNE)


def shuffle_buffer(size: int, plan: Plan, cache: str) -> int:
    """Examples in a shuffle buffer of adapted examples: all of a part cached in memory
    (the buffer shares the cache's tensors), else at most SHUFFLE_BUFFER examples and
    SHUFFLE_BYTES."""
    if cache == "memory":
        return max(1, size)
    example = 4 * int(np.prod(plan.target))
    return max(1, min(size, SHUFFLE_BUFFER, SHUFFLE_BYTES // example))


def _augmented(ds: tf.data.Dataset, seed: int, augment: tuple[str, ...]) -> tf.data.Dataset:
    # One stateless seed pair per batch; the sequence is fixed by `seed` and changes
    # from epoch to epoch.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds)).map(
        lambda batch, pair: (augment_tf(batch[0], pair, augment), batch[1]),
        num_parallel_calls=AUTOTUNE,
    )


def to_arrays(ds: tf.data.Dataset, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Read a stream of stored (image, label) examples into adapted numpy arrays."""
    batches = ds.map(lambda image, label: (resize_to_input(image, plan), tf.cast(label, tf.int32)),
                     num_parallel_calls=AUTOTUNE).batch(256)
    xs, ys = [], []
    for images, labels in batches.as_numpy_iterator():
        xs.append(images)
        ys.append(labels)
    if not xs:
        return np.zeros((0, *plan.target), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(xs), np.concatenate(ys)
