"""tf.data pipelines (TensorFlow only; imported when pipeline="tf" or for tfds).

Training data is shuffled (seeded, reshuffled every epoch), adapted to the
blueprint's input, batched, augmented and prefetched; validation and test data are
adapted, batched and prefetched in a fixed order. Batches are (float32 images, int32
labels); training labels are one-hot float32 vectors where MixUp or CutMix mixes them.
Under the imagenet transforms (transforms.py) every example is transformed on its own,
at its stored size, before batching.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .adapt import Plan
from .augment import augment_tf
from .protocol import Arrays, Stream
from .transforms import Transform, batch_map, example_map

AUTOTUNE = tf.data.AUTOTUNE
#: Largest shuffle buffer for streamed (tfds) data, in examples.
SHUFFLE_BUFFER = 10_000


def dataset(part: Arrays | Stream, plan: Plan, *, batch_size: int, training: bool, seed: int,
            augment: tuple[str, ...], cache: bool,
            transform: Transform | None = None) -> tf.data.Dataset:
    """The batched pipeline of one part (examples in memory, or a stream)."""
    transform = transform or Transform(augment=tuple(augment))
    if isinstance(part, Arrays) and transform.kind == "simple":
        return from_arrays(part.x, part.y, plan, batch_size=batch_size, training=training,
                           seed=seed, augment=augment, transform=transform)
    if isinstance(part, Arrays):
        examples = tf.data.Dataset.from_tensor_slices((part.x, part.y.astype(np.int32)))
        return from_examples(examples, plan, size=part.size, batch_size=batch_size,
                             training=training, seed=seed, augment=augment, cache=False,
                             transform=transform, buffer=part.size)
    return from_examples(part.dataset, plan, size=part.size, batch_size=batch_size,
                         training=training, seed=seed, augment=augment, cache=cache,
                         transform=transform)


def from_arrays(x: np.ndarray, y: np.ndarray, plan: Plan, *, batch_size: int,
                training: bool, seed: int, augment: tuple[str, ...],
                transform: Transform | None = None) -> tf.data.Dataset:
    """A pipeline over examples already in memory; adapted a batch at a time."""
    transform = transform or Transform(augment=tuple(augment))
    ds = tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32)))
    if training:
        ds = ds.shuffle(max(1, len(x)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda images, labels: (plan.apply_tf(images), labels),
                num_parallel_calls=AUTOTUNE)
    if training and transform.augment:
        ds = _augmented(ds, seed, transform, plan.target)
    return ds.prefetch(AUTOTUNE)


def from_examples(ds: tf.data.Dataset, plan: Plan, *, size: int, batch_size: int,
                  training: bool, seed: int, augment: tuple[str, ...],
                  cache: bool, transform: Transform | None = None,
                  buffer: int = SHUFFLE_BUFFER) -> tf.data.Dataset:
    """A pipeline over a stream of single (image, label) examples as stored (tfds).

    The stored examples are cached (in memory) before shuffling when ``cache``; each is
    adapted (or transformed) on its own, since stored sizes may differ.
    """
    transform = transform or Transform(augment=tuple(augment))
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(max(1, min(size, buffer)), seed=seed, reshuffle_each_iteration=True)
    ds = _adapted(ds, plan, transform, training, seed)
    ds = ds.batch(batch_size)
    if training and transform.augment:
        ds = _augmented(ds, seed, transform, plan.target)
    return ds.prefetch(AUTOTUNE)


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
        return ds.map(lambda image, label: (plan.apply_tf(image[None])[0],
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
