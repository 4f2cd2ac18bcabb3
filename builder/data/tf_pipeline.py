"""tf.data pipelines (TensorFlow only; imported when pipeline="tf" or for tfds).

Training data is shuffled (seeded, reshuffled every epoch), fitted to the blueprint's
input, batched, augmented and prefetched; validation and test data are fitted, batched
and prefetched in a fixed order. Batches are (float32 images, int32 labels); training
labels are one-hot float32 vectors where MixUp or CutMix mixes them.

Fitting an example to the input is the run's transform (transforms.py): ``simple``
resizes it (``resize_to_input``); ``imagenet`` crops it at its stored size (a
random-resized crop for training, the centre crop for evaluation), one example at a time.

Streamed parts (image files, tfds) are cached where ``cache`` says: "" not at all,
"memory", or a file prefix (a tf.data file cache). Under ``simple`` the cache holds
examples fitted to the input, so a cached part is decoded and resized once; under
``imagenet`` it holds the decoded images, cropped afresh every epoch. Training data is
shuffled again after the cache, which would otherwise replay one order.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .adapt import Plan
from .augment import augment_tf
from .protocol import Arrays, Files, Stream
from .transforms import Transform, batch_map, example_map

AUTOTUNE = tf.data.AUTOTUNE
#: Largest shuffle buffer for streamed (tfds) data, in examples.
SHUFFLE_BUFFER = 10_000
#: Largest shuffle buffer of decoded examples not cached in memory, in bytes.
SHUFFLE_BYTES = 256 * 2**20


def dataset(part: Arrays | Stream | Files, plan: Plan, *, batch_size: int, training: bool,
            seed: int, augment: tuple[str, ...], cache: str = "",
            transform: Transform | None = None, exact: bool = False) -> tf.data.Dataset:
    """The batched pipeline of one part (examples in memory, image files, or a stream).
    With ``exact`` a pass over files gives exactly ``part.size`` examples: the places of
    files that cannot be read are taken by the first examples of the next pass (every
    process of a job must take the same steps with batches of the same size)."""
    transform = transform or Transform(augment=tuple(augment))
    if isinstance(part, Arrays) and transform.kind == "simple":
        return from_arrays(part.x, part.y, plan, batch_size=batch_size, training=training,
                           seed=seed, transform=transform)
    kw = dict(batch_size=batch_size, training=training, seed=seed, transform=transform)
    if isinstance(part, Files):
        return from_files(part, plan, cache=cache, exact=exact, **kw)
    if isinstance(part, Arrays):  # stored at another size than the input: imagenet crops
        examples = tf.data.Dataset.from_tensor_slices((part.x, part.y.astype(np.int32)))
        return from_examples(examples, plan, size=part.size, cache="", buffer=part.size, **kw)
    return from_examples(part.dataset, plan, size=part.size, cache=cache, **kw)


def from_arrays(x: np.ndarray, y: np.ndarray, plan: Plan, *, batch_size: int,
                training: bool, seed: int, transform: Transform) -> tf.data.Dataset:
    """A pipeline over examples already in memory; adapted a batch at a time."""
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if training:
        ds = ds.shuffle(max(1, len(x)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda images, labels: (plan.apply_tf(images), labels),
                num_parallel_calls=AUTOTUNE)
    if training and transform.augment:
        ds = _augmented(ds, seed, transform, plan.target)
    return ds.prefetch(AUTOTUNE)


def from_files(part: Files, plan: Plan, *, batch_size: int, training: bool, seed: int,
               cache: str, transform: Transform, exact: bool = False) -> tf.data.Dataset:
    """A pipeline over image files: the file list (shuffled every epoch where it is
    not cached), read and decoded in parallel (unreadable files skipped and logged in
    ``part.skipped``), fitted to the blueprint's input (before the cache under
    ``simple``, after it under ``imagenet``), cached, batched, prefetched."""
    size = part.size
    ds = tf.data.Dataset.from_tensor_slices(
        ([str(p) for p in part.paths], part.y.astype(np.int32), np.arange(size, dtype=np.int64)))
    if training:
        ds = ds.shuffle(max(1, size), seed=seed, reshuffle_each_iteration=not cache)
    simple = transform.kind == "simple"
    ds = decoded(ds, part, (lambda image: resize_to_input(image, plan)) if simple
                 else (lambda image: image))
    if exact:  # (an empty pass ends the repetition: no file at all can be read)
        ds = ds.repeat().take(size)
    return _finished(ds, plan, size=size, batch_size=batch_size, training=training, seed=seed,
                     cache=cache, transform=transform, fitted=simple)


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
                  training: bool, seed: int, cache: str, transform: Transform,
                  buffer: int | None = None) -> tf.data.Dataset:
    """A pipeline over a stream of single (image, label) examples as stored (tfds): each
    is fitted on its own (stored sizes may differ; under ``imagenet`` after the cache),
    then cached and shuffled. ``buffer``: the shuffle buffer where nothing is cached."""
    simple = transform.kind == "simple"
    if simple:
        ds = ds.map(lambda image, label: (resize_to_input(image, plan), tf.cast(label, tf.int32)),
                    num_parallel_calls=AUTOTUNE)
    if training and not cache:
        ds = ds.shuffle(buffer or shuffle_buffer(size, plan, ""), seed=seed,
                        reshuffle_each_iteration=True)
    return _finished(ds, plan, size=size, batch_size=batch_size, training=training, seed=seed,
                     cache=cache, transform=transform, fitted=simple)


def _finished(ds: tf.data.Dataset, plan: Plan, *, size: int, batch_size: int, training: bool,
              seed: int, cache: str, transform: Transform, fitted: bool) -> tf.data.Dataset:
    """Single examples cached (where asked), shuffled after the cache, fitted to the input
    (unless ``fitted`` already), batched, augmented (training) and prefetched."""
    if cache:
        ds = ds.cache("" if cache == "memory" else cache)
        if training:
            ds = ds.shuffle(shuffle_buffer(size, plan, cache), seed=seed,
                            reshuffle_each_iteration=True)
    if not fitted:
        ds = _adapted(ds, plan, transform, training, seed)
    ds = ds.batch(batch_size)
    if training and transform.augment:
        ds = _augmented(ds, seed, transform, plan.target)
    return ds.prefetch(AUTOTUNE)


def shuffle_buffer(size: int, plan: Plan, cache: str) -> int:
    """Examples in a shuffle buffer of adapted examples: all of a part cached in memory
    (the buffer shares the cache's tensors), else at most SHUFFLE_BUFFER examples and
    SHUFFLE_BYTES."""
    if cache == "memory":
        return max(1, size)
    example = 4 * int(np.prod(plan.target))
    return max(1, min(size, SHUFFLE_BUFFER, SHUFFLE_BYTES // example))


def _seeds(seed: int, stream: int) -> tf.data.Dataset:
    """Stateless seed pairs, a fixed sequence for (``seed``, ``stream``) that changes from
    epoch to epoch."""
    return tf.data.Dataset.random(seed=seed * 4 + stream,
                                  rerandomize_each_iteration=True).batch(2)


def _adapted(ds: tf.data.Dataset, plan: Plan, transform: Transform, training: bool,
             seed: int) -> tf.data.Dataset:
    """Single stored examples -> the blueprint's input: adapted (simple) or transformed
    (imagenet: random-resized crop and flip for training, centre crop otherwise)."""
    if transform.kind == "simple":
        return ds.map(lambda image, label: (resize_to_input(image, plan),
                                            tf.cast(label, tf.int32)),
                      num_parallel_calls=AUTOTUNE)
    apply = example_map(plan, transform, training)
    if training:
        ds = tf.data.Dataset.zip((ds, _seeds(seed, 1))).map(
            lambda example, pair: (*example, pair))
    return ds.map(apply, num_parallel_calls=AUTOTUNE)


def _augmented(ds: tf.data.Dataset, seed: int, transform: Transform,
               target: tuple[int, ...]) -> tf.data.Dataset:
    # One stateless seed pair per batch; the sequence is fixed by `seed` and changes
    # from epoch to epoch. Affine augmentations first, then the Keras layers'.
    mix = batch_map(transform, target) if transform.batch else None

    def apply(batch, pair):
        images, labels = batch
        if transform.affine:
            images = augment_tf(images, pair, transform.affine)
        if mix is not None:
            images, labels = mix(images, labels, tf.random.experimental.stateless_fold_in(
                pair, 1))
        return images, labels

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds)).map(apply, num_parallel_calls=AUTOTUNE)


def to_arrays(ds: tf.data.Dataset, plan: Plan,
              transform: Transform | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a stream of stored (image, label) examples into adapted numpy arrays (the
    evaluation transform, under the imagenet transforms)."""
    batches = _adapted(ds, plan, transform or Transform(), False, 0).batch(256)
    xs, ys = [], []
    for images, labels in batches.as_numpy_iterator():
        xs.append(images)
        ys.append(labels)
    if not xs:
        return np.zeros((0, *plan.target), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(xs), np.concatenate(ys)


def stored_examples(part: Arrays | Stream | Files, n: int) -> tf.data.Dataset:
    """The first ``n`` (readable) examples of a part as stored: (image, label) pairs at
    their own size, for the evaluation transform to fit."""
    if isinstance(part, Arrays):
        return tf.data.Dataset.from_tensor_slices((part.x[:n], part.y[:n].astype(np.int32)))
    if isinstance(part, Stream):
        return part.dataset.take(n)
    indices = np.arange(min(part.size, 4 * n + 16), dtype=np.int64)  # room for bad files
    ds = tf.data.Dataset.from_tensor_slices(
        ([str(p) for p in part.paths[indices]], part.y[indices].astype(np.int32), indices))
    return decoded(ds, part).take(n)
