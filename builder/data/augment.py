"""Training-time augmentation: "flip", "crop", "rotate" here; "jitter", "randaugment",
"mixup" and "cutmix" through Keras's preprocessing layers (transforms.py).

Every augmentation is one random affine map per image, applied with bilinear sampling
and zero fill:

- ``flip``: mirror left-right with probability 1/2;
- ``crop``: shift by a whole number of pixels, up to 1/8 of the height and width in
  each direction (the same as zero-padding by that much and cropping back at a
  random place);
- ``rotate``: turn about the center by up to 15 degrees either way.

The maps compose into one transform per image, applied by
``ImageProjectiveTransformV3`` in the tf.data pipeline and by the numpy sampler
below in the numpy pipeline; the two give the same pixels for the same maps.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from builder.errors import ArgumentError, did_you_mean, one_of

from .transforms import BATCH_AUGMENTATIONS

AFFINE: tuple[str, ...] = ("flip", "crop", "rotate")
AUGMENTATIONS: tuple[str, ...] = AFFINE + BATCH_AUGMENTATIONS
MAX_SHIFT_FRACTION = 0.125
MAX_ROTATION_DEGREES = 15.0


def check_augment(augment, target: tuple[int, ...]) -> tuple[str, ...]:
    """Validate augmentation names; return them without repeats, in order."""
    if isinstance(augment, str):
        augment = tuple(a for a in augment.replace(",", " ").split() if a)
    names: list[str] = []
    for name in augment or ():
        if name not in AUGMENTATIONS:
            raise ArgumentError(
                f"unknown augmentation {name!r}: use {one_of(AUGMENTATIONS)}"
                f"{did_you_mean(name, AUGMENTATIONS)}"
            )
        if name not in names:
            names.append(name)
    if names and len(target) not in (2, 3):
        raise ArgumentError(
            f"augmentation {', '.join(names)} needs an image input (H, W, C) or (H, W); "
            f"the blueprint's input is {tuple(target)}"
        )
    return tuple(names)


def max_shift(size: int) -> int:
    return max(1, round(MAX_SHIFT_FRACTION * size))


def transforms(flip, dx, dy, angle, height: int, width: int, ops=np):
    """Per-image inverse maps as rows ``[a0, a1, a2, a3, a4, a5, 0, 0]``: the output
    pixel (x, y) samples the input at (a0 x + a1 y + a2, a3 x + a4 y + a5).

    ``flip`` is 0 or 1, ``dx``/``dy`` shifts in pixels, ``angle`` radians; all float
    vectors of the batch length. ``ops`` is numpy or a namespace of TF functions.
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = ops.cos(angle), ops.sin(angle)
    sign = 1.0 - 2.0 * flip
    zero = angle * 0.0
    return ops.stack([
        sign * cos,
        -sign * sin,
        sign * (cx - cos * cx + sin * cy - dx) + flip * (width - 1),
        sin,
        cos,
        cy - sin * cx - cos * cy - dy,
        zero,
        zero,
    ], axis=1)


def sample_numpy(x: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Apply per-image maps (B, 8) to a float batch (B, H, W, C); zero outside."""
    batch, height, width, _ = x.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    m = maps.astype(np.float32)[:, :, None, None]
    x_in = m[:, 0] * xs + m[:, 1] * ys + m[:, 2]
    y_in = m[:, 3] * xs + m[:, 4] * ys + m[:, 5]
    x0, y0 = np.floor(x_in), np.floor(y_in)
    fx, fy = x_in - x0, y_in - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    b = np.arange(batch)[:, None, None]
    out = np.zeros_like(x)
    for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
        for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            values = x[b, np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)]
            out += (wy * wx * inside)[..., None] * values
    return out


def augment_numpy(x: np.ndarray, rng: np.random.Generator, augment: tuple[str, ...]) -> np.ndarray:
    """Augment a float batch (B, H, W, C) or (B, H, W) with numpy."""
    if not augment or len(x) == 0:
        return x
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    batch, height, width = x.shape[:3]
    zeros = np.zeros(batch, np.float32)
    flip = (rng.random(batch) < 0.5).astype(np.float32) if "flip" in augment else zeros
    if "crop" in augment:
        sx, sy = max_shift(width), max_shift(height)
        dx = rng.integers(-sx, sx + 1, batch).astype(np.float32)
        dy = rng.integers(-sy, sy + 1, batch).astype(np.float32)
    else:
        dx = dy = zeros
    limit = math.radians(MAX_ROTATION_DEGREES)
    angle = rng.uniform(-limit, limit, batch).astype(np.float32) if "rotate" in augment else zeros
    out = sample_numpy(x, transforms(flip, dx, dy, angle, height, width))
    return out[..., 0] if squeeze else out


def sample_tf(x, maps):
    """Apply per-image maps (B, 8) to a float batch (B, H, W, C) with TensorFlow."""
    import tensorflow as tf

    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=tf.cast(maps, tf.float32),
        output_shape=tf.shape(x)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def augment_tf(x, seed, augment: tuple[str, ...]):
    """Augment a float batch with TensorFlow ops; ``seed`` is a shape-[2] int tensor
    (stateless random ops: the same seed gives the same augmentation)."""
    import tensorflow as tf

    if not augment:
        return x
    squeeze = x.shape.rank == 3
    if squeeze:
        x = x[..., None]
    height, width = int(x.shape[1]), int(x.shape[2])
    batch = tf.shape(x)[:1]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    zeros = tf.zeros(batch, tf.float32)
    if "flip" in augment:
        flip = tf.cast(tf.random.stateless_uniform(batch, seeds[0]) < 0.5, tf.float32)
    else:
        flip = zeros
    if "crop" in augment:
        sx, sy = max_shift(width), max_shift(height)
        dx = tf.random.stateless_uniform(batch, seeds[1], -sx, sx + 1, tf.int32)
        dy = tf.random.stateless_uniform(batch, seeds[2], -sy, sy + 1, tf.int32)
        dx, dy = tf.cast(dx, tf.float32), tf.cast(dy, tf.float32)
    else:
        dx = dy = zeros
    if "rotate" in augment:
        limit = math.radians(MAX_ROTATION_DEGREES)
        angle = tf.random.stateless_uniform(batch, seeds[3], -limit, limit)
    else:
        angle = zeros
    if set(augment) == {"flip"}:
        # The same pixels as the sampled mirror: each image's columns gathered in its
        # own order, one pass (several times faster than sampling, or tf.where).
        columns = tf.range(width)
        order = tf.where(flip[:, None] > 0, columns[::-1][None], columns[None])
        out = tf.gather(x, order, axis=2, batch_dims=1)
        return out[..., 0] if squeeze else out
    ops = SimpleNamespace(cos=tf.cos, sin=tf.sin, stack=tf.stack)
    out = sample_tf(x, transforms(flip, dx, dy, angle, height, width, ops))
    out = tf.ensure_shape(out, x.shape)
    return out[..., 0] if squeeze else out
