"""Fitting stored examples to the blueprint's input: scale, resize, channels, rank.

``plan_adaptation`` decides once, when the data is loaded, how an example of the
data's shape becomes an example of the blueprint's input shape (or raises
``DataError``). The plan then applies to batches either with numpy (no TensorFlow)
or with TensorFlow ops inside a tf.data map; both do the same arithmetic:

1. cast to float32 and divide by the data's native range (``scale``),
2. RGB -> gray by luminance when the blueprint wants one channel,
3. bilinear resize to the blueprint's height and width (half-pixel centers, no
   antialiasing: what ``tf.image.resize(..., "bilinear")`` does),
4. gray -> RGB by repeating the channel when the blueprint wants three,
5. drop the channel axis for an (H, W) input, or flatten for a (D,) input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from builder.errors import DataError
from builder.text import shape_text

#: ITU-R 601 luma weights, as tf.image.rgb_to_grayscale uses them.
LUMA = (0.2989, 0.5870, 0.1140)


@dataclass(frozen=True)
class Plan:
    """How to turn a batch of stored examples into a batch the blueprint accepts."""

    data_shape: tuple          # one stored example; None where the size varies (tfds)
    target: tuple[int, ...]    # the blueprint's input, no batch dimension
    scale: float               # divide by this to get [0, 1]
    expand: bool = False       # stored (h, w) images get a channel axis first
    luminance: bool = False    # RGB -> one channel
    resize: bool = False       # bilinear resize to target height and width
    repeat: int = 1            # repeat one channel this many times
    squeeze: bool = False      # (H, W, 1) -> (H, W)
    flatten: bool = False      # any example -> (D,)

    @property
    def identity(self) -> bool:
        return not (self.expand or self.luminance or self.resize or self.repeat > 1
                    or self.squeeze or self.flatten)

    def apply_numpy(self, x: np.ndarray) -> np.ndarray:
        """Adapt a batch (leading batch axis) with numpy; returns float32."""
        x = np.asarray(x).astype(np.float32)
        if self.scale != 1:
            x = x / np.float32(self.scale)
        if self.flatten:
            return x.reshape(len(x), -1)
        if self.expand:
            x = x[..., None]
        if self.luminance:
            x = (x @ np.asarray(LUMA, np.float32))[..., None]
        if self.resize:
            x = resize_bilinear(x, self.target[0], self.target[1])
        if self.repeat > 1:
            x = np.repeat(x, self.repeat, axis=-1)
        if self.squeeze:
            x = x[..., 0]
        return np.ascontiguousarray(x, dtype=np.float32)

    def pixels_tf(self, x):
        """Steps 1, 2 and 4 (scale and channels) of a batch with TensorFlow ops, its
        height and width kept (flat inputs: scaled only); returns float32."""
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if self.scale != 1:
            x = x / self.scale
        if self.flatten:
            return x
        if self.expand:
            x = x[..., None]
        if self.luminance:
            x = tf.tensordot(x, tf.constant(LUMA, tf.float32), axes=[[3], [0]])[..., None]
        if self.repeat > 1:  # before resizing: the same numbers, resized per channel
            x = tf.repeat(x, self.repeat, axis=-1)
        return x

    def apply_tf(self, x):
        """Adapt a batch (leading batch axis) with TensorFlow ops; returns float32."""
        import tensorflow as tf

        x = self.pixels_tf(x)
        if self.flatten:
            return tf.reshape(x, [-1, self.target[0]])
        if self.resize:
            x = tf.image.resize(x, self.target[:2], method="bilinear")
        if self.squeeze:
            x = x[..., 0]
        return tf.ensure_shape(x, (None, *self.target))


def plan_adaptation(source: str, data_shape, target, scale: float = 1.0) -> Plan:
    """Decide how examples of ``data_shape`` become ``target``; raise ``DataError`` if
    they cannot. ``data_shape`` excludes the batch axis and may hold None (unknown)."""
    data_shape = tuple(None if d is None else int(d) for d in data_shape)
    target = tuple(int(d) for d in target)
    if data_shape == target:
        return Plan(data_shape, target, scale)

    def fail(why: str = ""):
        raise DataError(
            f"{source}: examples of shape {shape_text(data_shape)} do not fit the blueprint's "
            f"input {shape_text(target)}{why}"
        )

    if len(target) == 1:
        if None in data_shape or int(np.prod(data_shape)) != target[0]:
            fail(f"; a flat input needs exactly {target[0]} values per example")
        return Plan(data_shape, target, scale, flatten=True)

    if len(target) not in (2, 3) or len(data_shape) not in (2, 3):
        fail()
    expand = len(data_shape) == 2
    channels = 1 if expand else data_shape[2]
    want = 1 if len(target) == 2 else target[2]
    luminance, repeat = False, 1
    if channels != want:
        if channels == 3 and want == 1:
            luminance = True
        elif channels == 1 and want == 3:
            repeat = 3
        else:
            fail(f"; {channels} channel(s) cannot become {want} (only 1 <-> 3 are converted)")
    resize = tuple(data_shape[:2]) != tuple(target[:2])
    return Plan(data_shape, target, scale, expand=expand, luminance=luminance,
                resize=resize, repeat=repeat, squeeze=len(target) == 2)


def resize_bilinear(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float batch (B, h, w, C) with half-pixel centers."""
    x = _resize_axis(x, height, axis=1)
    return _resize_axis(x, width, axis=2)


def _resize_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = x.shape[axis]
    if n == size:
        return x
    src = (np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5
    low = np.floor(src)
    frac = (src - low).astype(np.float32)
    i0 = np.clip(low.astype(np.int64), 0, n - 1)
    i1 = np.clip(low.astype(np.int64) + 1, 0, n - 1)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    a = np.take(x, i0, axis=axis)
    b = np.take(x, i1, axis=axis)
    return a + (b - a) * frac


def native_scale(x: np.ndarray) -> float:
    """The number that maps stored values to [0, 1]: 255 for integers up to 255, 65535
    for integers up to 65535, 1 for booleans and for floats already in [0, 1], 255 for floats in
    [0, 255]; other floats (already normalized features) are left as they are."""
    if x.dtype == np.bool_:
        return 1.0
    if np.issubdtype(x.dtype, np.integer):
        top = int(x.max()) if x.size else 0
        return 255.0 if top <= 255 else 65535.0 if top <= 65535 else float(top)
    if x.size == 0:
        return 1.0
    low, high = float(np.min(x)), float(np.max(x))
    if low >= 0 and 1 < high <= 255:
        return 255.0
    return 1.0

