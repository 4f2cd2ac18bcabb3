"""tf.data pipelines (TensorFlow only; imported when pipeline="tf" or for tfds).

Training data is shuffled (seeded, reshuffled every epoch), adapted to the
blueprint's input, batched, augmented and prefetched; validation and test data are
adapted, batched and prefetched in a fixed order. Batches are (float32 images, int32
labels).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .adapt import Plan
from .augment import augment_tf
from .protocol import Arrays, Stream

AUTOTUNE = tf.data.AUTOTUNE
#: Largest shuffle buffer for streamed (tfds) data, in examples.
SHUFFLE_BUFFER = 10_000


def dataset(part: Arrays | Stream, plan: Plan, *, batch_size: int, training: bool, seed: int,
            augment: tuple[str, ...], cache: bool) -> tf.data.Dataset:
    """The batched pipeline of one part (examples in memory, or a stream)."""
    if isinstance(part, Arrays):
        return from_arrays(part.x, part.y, plan, batch_size=batch_size, training=training,
                           seed=seed, augment=augment)
    return from_examples(part.dataset, plan, size=part.size, batch_size=batch_size,
                         training=training, seed=seed, augment=augment, cache=cache)


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


def from_examples(ds: tf.data.Dataset, plan: Plan, *, size: int, batch_size: int,
                  training: bool, seed: int, augment: tuple[str, ...],
                  cache: bool) -> tf.data.Dataset:
    """A pipeline over a stream of single (image, label) examples as stored (tfds).

    The stored examples are cached (in memory) before shuffling when ``cache``; each is
    adapted on its own, since stored sizes may differ.
    """
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(max(1, min(size, SHUFFLE_BUFFER)), seed=seed,
                        reshuffle_each_iteration=True)
    ds = ds.map(lambda image, label: (plan.apply_tf(image[None])[0], tf.cast(label, tf.int32)),
                num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size)
    if training and augment:
        ds = _augmented(ds, seed, augment)
    return ds.prefetch(AUTOTUNE)


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
    batches = ds.map(lambda image, label: (plan.apply_tf(image[None])[0], tf.cast(label, tf.int32)),
                     num_parallel_calls=AUTOTUNE).batch(256)
    xs, ys = [], []
    for images, labels in batches.as_numpy_iterator():
        xs.append(images)
        ys.append(labels)
    if not xs:
        return np.zeros((0, *plan.target), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(xs), np.concatenate(ys)
