"""Training and evaluation transforms as timm and keras.applications users expect them.

Two kinds of transform (``train_transform``):

- ``simple`` (tiny inputs: digits, letters, CIFAR size): every stored example is squashed
  to the blueprint's input (``adapt.Plan``) for training and evaluation alike; the
  augmentations "flip", "crop" and "rotate" (``augment.py``) move it about.
- ``imagenet``: training takes a random-resized crop of the image at its stored size
  (area a fraction ``scale`` of the image, aspect ratio in ``ratio``, as
  ``tf.image.stateless_sample_distorted_bounding_box`` draws them), resizes it to the
  input and flips it left-right half the time; evaluation resizes the image, keeping
  its aspect ratio, so that it covers ``round(size / crop_pct)`` (the shorter side of a
  square input becomes that), then crops the centre to the input size.

``auto`` is ``imagenet`` for image inputs of at least 128 pixels a side whose examples
are stored at their own size (streamed examples, or arrays of another size than the
input), ``simple`` otherwise.

On top of either, batch augmentations through Keras 3's preprocessing layers:
"jitter" (``keras.layers.RandomColorJitter``), "randaugment" (``keras.layers.RandAugment``),
"mixup" (``keras.layers.MixUp``) and "cutmix" (``keras.layers.CutMix``); the last two
mix labels, so training labels become soft (one-hot, mixed) vectors; with both, each
batch gets one of the two, at random. Every random draw is stateless, from a seed
derived from the run's seed, so a pipeline is the same whatever tf.data's parallelism.

Resizing is bilinear with half-pixel centres and no antialiasing, as everywhere in
builder (``adapt.py``) and in ``keras.layers.Resizing``: every export format (ONNX,
TFLite) has that operation, so exported models resize exactly as evaluation did.

Importing this module does not import TensorFlow or Keras.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from builder.errors import ArgumentError

TRAIN_TRANSFORMS: tuple[str, ...] = ("auto", "simple", "imagenet")
#: Augmentations applied to whole training batches through Keras preprocessing layers.
BATCH_AUGMENTATIONS: tuple[str, ...] = ("jitter", "randaugment", "mixup", "cutmix")
#: Those that mix two examples and their labels (soft labels).
MIXING: tuple[str, ...] = ("mixup", "cutmix")
CROP_PCT = 0.875
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
#: ``auto`` picks ``imagenet`` from this input height and width up.
IMAGENET_MIN_SIZE = 128
#: torchvision's ColorJitter(0.4, 0.4, 0.4) in Keras's terms: brightness is additive in
#: Keras (0.2 of the range ~ x0.6..1.4 of a mid-grey), saturation factor f scales by
#: f / (1 - f) (0.375..0.583 ~ x0.6..1.4).
JITTER = {"brightness_factor": 0.2, "contrast_factor": 0.4, "saturation_factor": (0.375, 0.583)}
MIXUP_ALPHA = 0.2        # keras.layers.MixUp's default, for ImageNet
CUTMIX_FACTOR = 1.0      # keras.layers.CutMix's default
RANDAUGMENT = {"num_ops": 2, "factor": 0.5}


@dataclass(frozen=True)
class Transform:
    """The transforms of one run: ``kind`` "simple" or "imagenet", the augmentations
    (affine ones from ``augment.py`` and batch ones from here) and the crop settings."""

    kind: str = "simple"
    augment: tuple[str, ...] = ()
    crop_pct: float = CROP_PCT
    scale: tuple[float, float] = CROP_SCALE
    ratio: tuple[float, float] = CROP_RATIO
    classes: int = 1

    @property
    def affine(self) -> tuple[str, ...]:
        return tuple(a for a in self.augment if a not in BATCH_AUGMENTATIONS)

    @property
    def batch(self) -> tuple[str, ...]:
        return tuple(a for a in self.augment if a in BATCH_AUGMENTATIONS)

    @property
    def soft_labels(self) -> bool:
        return any(a in MIXING for a in self.augment)

    def record(self, target) -> dict:
        """What config.json records: the transforms in words and numbers."""
        if self.kind == "simple":
            return {"train_transform": "simple", "augment": list(self.augment),
                    "evaluation": "resize to the input (aspect ratio not kept)"}
        height, width = int(target[0]), int(target[1])
        cover = (round(height / self.crop_pct), round(width / self.crop_pct))
        return {"train_transform": "imagenet", "augment": list(self.augment),
                "crop_pct": self.crop_pct, "scale": list(self.scale),
                "ratio": [round(r, 6) for r in self.ratio],
                "evaluation": f"resize (aspect ratio kept) to cover {cover[0]}x{cover[1]}, "
                              f"centre crop {height}x{width}"}

    @classmethod
    def from_record(cls, record: dict | None) -> "Transform":
        """The evaluation side of a recorded transform (runs without one: simple)."""
        if not record or record.get("train_transform") != "imagenet":
            return cls()
        return cls("imagenet", crop_pct=float(record.get("crop_pct", CROP_PCT)))


def choose(train_transform: str, target: tuple[int, ...], native: bool, pipeline: str) -> str:
    """``simple`` or ``imagenet`` for a run asking ``train_transform`` (auto, simple or
    imagenet); ``native``: the training examples are stored at their own size."""
    if train_transform not in TRAIN_TRANSFORMS:
        raise ArgumentError(f"`train_transform` must be one of {', '.join(TRAIN_TRANSFORMS)}, "
                            f"not {train_transform!r}", arguments=("train_transform",))
    image = len(target) in (2, 3)
    if train_transform == "imagenet":
        if not image:
            raise ArgumentError(f"train_transform='imagenet' needs an image input (H, W, C) "
                                f"or (H, W); the blueprint's input is {tuple(target)}",
                                arguments=("train_transform",))
        if pipeline != "tf":
            raise ArgumentError("train_transform='imagenet' needs the tf pipeline (the "
                                "TensorFlow backend)", arguments=("train_transform",))
        return "imagenet"
    if train_transform == "auto" and image and pipeline == "tf" and native \
            and min(target[:2]) >= IMAGENET_MIN_SIZE:
        return "imagenet"
    return "simple"


def _numpy_cast(x, dtype):
    return np.asarray(x).astype(dtype)


NUMPY_OPS = SimpleNamespace(cast=_numpy_cast, maximum=np.maximum, round=np.round)


def eval_geometry(height, width, target: tuple[int, ...], crop_pct: float, ops=NUMPY_OPS):
    """(resized height, resized width, top, left) of the evaluation transform of an image
    ``height`` x ``width``: the smallest resize keeping the aspect ratio that covers
    ``round(target / crop_pct)`` on both axes, then the centre (offsets rounded down).

    ``ops`` is numpy (Python numbers) or a namespace of TF functions (tensors)."""
    cover_h, cover_w = round(target[0] / crop_pct), round(target[1] / crop_pct)
    h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
    scale = ops.maximum(cover_h / h, cover_w / w)
    new_h = ops.maximum(cover_h, ops.cast(ops.round(h * scale), "int32"))
    new_w = ops.maximum(cover_w, ops.cast(ops.round(w * scale), "int32"))
    return new_h, new_w, (new_h - target[0]) // 2, (new_w - target[1]) // 2


def _tf_ops():
    import tensorflow as tf

    return SimpleNamespace(cast=tf.cast, maximum=tf.maximum, round=tf.round)


def _resize(image, size):
    import tensorflow as tf

    return tf.image.resize(image, size, method="bilinear")


def eval_image(images, target: tuple[int, ...], crop_pct: float):
    """The evaluation transform of one float image (h, w, C) or a batch of images of one
    size (B, h, w, C): resize, then crop the centre to the target's height and width."""
    import tensorflow as tf

    rank = images.shape.rank
    shape = tf.shape(images)
    new_h, new_w, top, left = eval_geometry(shape[rank - 3], shape[rank - 2], target,
                                            crop_pct, _tf_ops())
    images = _resize(images, tf.stack([new_h, new_w]))
    return images[..., top:top + target[0], left:left + target[1], :]


def train_image(image, seed, target: tuple[int, ...], scale=CROP_SCALE, ratio=CROP_RATIO):
    """The training transform of one float image (h, w, C): a random-resized crop
    resized to the target's height and width, flipped left-right half the time.
    ``seed`` is a shape-[2] integer tensor (the same seed, the same crop)."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seeds[0], min_object_covered=0.0, aspect_ratio_range=list(ratio),
        area_range=list(scale), max_attempts=10, use_image_if_no_bounding_boxes=True)
    image = _resize(tf.slice(image, begin, size), target[:2])
    flip = tf.random.stateless_uniform([], seeds[1]) < 0.5
    return tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)


def example_map(plan, transform: Transform, training: bool):
    """A tf.data map of one stored example (image, label[, seed]) to (input, int32
    label): the imagenet transforms on the image at its stored size."""
    import tensorflow as tf

    target = plan.target

    def prepare(image):
        return plan.pixels_tf(image[None])[0]

    def finish(x, label):
        if plan.squeeze:
            x = x[..., 0]
        return tf.ensure_shape(x, target), tf.cast(label, tf.int32)

    if training:
        return lambda image, label, seed: finish(
            train_image(prepare(image), seed, target, transform.scale, transform.ratio), label)
    return lambda image, label: finish(eval_image(prepare(image), target, transform.crop_pct),
                                       label)


# ------------------------------------------------------------------ batch augmentations

@functools.cache
def _seed_generator_class():
    import keras

    class Seeds(keras.random.SeedGenerator):
        """Seeds for a Keras preprocessing layer drawn from one stateless seed tensor:
        draw n folds n into it. No variable, so a layer traced in a parallel tf.data map
        gives the same batch for the same seed."""

        def __init__(self, seed):  # no SeedGenerator.__init__: it makes a variable
            self.seed, self.count = seed, 0

        def next(self, ordered=True):
            import tensorflow as tf

            self.count += 1
            return tf.random.experimental.stateless_fold_in(self.seed, self.count)

    return Seeds


@contextlib.contextmanager
def _seeded(layer, seed):
    """``layer`` and its sublayers draw from ``seed`` while traced here."""
    seeds = _seed_generator_class()(seed)
    # The layer and its sublayers (RandAugment's, RandomColorJitter's), each once.
    layers = layer._flatten_layers(include_self=True, recursive=True)
    saved = [(sub, sub.__dict__["generator"]) for sub in layers if "generator" in sub.__dict__]
    for sub, _ in saved:
        object.__setattr__(sub, "generator", seeds)  # past Keras's tracking: put back below
    try:
        yield
    finally:
        for sub, generator in saved:
            object.__setattr__(sub, "generator", generator)


def batch_layers(transform: Transform, channels: int) -> dict:
    """Name -> the Keras preprocessing layer of each batch augmentation asked for."""
    import keras

    made = {}
    if "jitter" in transform.augment:
        jitter = dict(JITTER) if channels == 3 else {k: v for k, v in JITTER.items()
                                                      if k != "saturation_factor"}
        made["jitter"] = keras.layers.RandomColorJitter(value_range=(0, 1), **jitter)
    if "randaugment" in transform.augment:
        made["randaugment"] = keras.layers.RandAugment(value_range=(0, 1), **RANDAUGMENT)
    if "mixup" in transform.augment:
        made["mixup"] = keras.layers.MixUp(alpha=MIXUP_ALPHA)
    if "cutmix" in transform.augment:
        made["cutmix"] = keras.layers.CutMix(factor=CUTMIX_FACTOR)
    return made


def batch_map(transform: Transform, target: tuple[int, ...]):
    """A tf.data map of a training batch (images, int labels, seed) to (images, labels):
    colour jitter, RandAugment, then MixUp or CutMix (labels one-hot, then mixed)."""
    import tensorflow as tf

    channels = target[2] if len(target) == 3 else 1
    layers = batch_layers(transform, channels)

    def apply(images, labels, seed):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
        x = images if len(target) == 3 else images[..., None]
        for index, name in enumerate(("jitter", "randaugment")):
            if name in layers:
                with _seeded(layers[name], seeds[index]):
                    x = layers[name](x, training=True)
        if transform.soft_labels:
            labels = tf.one_hot(tf.cast(labels, tf.int32), transform.classes)
            x, labels = _mixed(layers, x, labels, seeds[2], seeds[3])
        x = tf.cast(x, tf.float32)
        return (x if len(target) == 3 else x[..., 0]), labels

    return apply


def _mixed(layers, images, labels, choice_seed, seed):
    """MixUp or CutMix of a batch; with both, one of them chosen at random per batch."""
    import tensorflow as tf

    def mix(name):
        def run():
            with _seeded(layers[name], seed):
                out = layers[name]({"images": images, "labels": labels}, training=True)
            return tf.cast(out["images"], tf.float32), tf.cast(out["labels"], tf.float32)
        return run

    names = [n for n in MIXING if n in layers]
    if len(names) == 1:
        return mix(names[0])()
    pick = tf.random.stateless_uniform([], choice_seed) < 0.5
    return tf.cond(pick, mix(names[0]), mix(names[1]))


def check_crop(crop_pct: float, scale) -> None:
    """``ArgumentError`` for a crop fraction or area range outside (0, 1]."""
    if not 0 < crop_pct <= 1:
        raise ArgumentError(f"`crop_pct` must be in (0, 1], not {crop_pct}", arguments=("crop_pct",))
    low, high = scale
    if not 0 < low <= high <= 1 or math.isnan(low):
        raise ArgumentError(f"the crop area range must lie in (0, 1], low to high, not "
                            f"{tuple(scale)}", arguments=("crop_scale",))
