"""The few Keras pieces that Keras does not ship, written with ``keras.ops`` only so
they run on the TensorFlow, JAX and PyTorch backends, and registered so a saved
``.keras`` model loads them back."""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "builder"


@keras.saving.register_keras_serializable(package=PACKAGE)
def lecun_tanh(x):
    """LeCun et al. (1998)'s squashing function f(a) = 1.7159 tanh(2a / 3)."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


_ACTIVATIONS = {"swish": "silu", "hard_swish": "hard_silu", "lecun_tanh": lecun_tanh}


def activation(name: str):
    return _ACTIVATIONS.get(name, name)


def initializer(name: str):
    # keras.applications' EfficientNet initializers, by name.
    if name == "efficientnet_conv":
        return keras.initializers.VarianceScaling(2.0, "fan_out", "truncated_normal")
    if name == "efficientnet_dense":
        return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_out", "uniform")
    return name


@keras.saving.register_keras_serializable(package=PACKAGE)
class LocalResponseNorm(keras.layers.Layer):
    """b_c = a_c / (k + alpha * sum_{|j - c| <= size // 2} a_j^2) ^ beta, across channels."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        half = self.size // 2
        squared = ops.square(x)
        channels = ops.shape(x)[-1]
        padded = ops.pad(squared, [[0, 0]] * (len(x.shape) - 1) + [[half, half]])
        total = padded[..., 0:channels]
        for i in range(1, self.size):
            total = total + padded[..., i:i + channels]
        return x / ops.power(self.k + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelAffine(keras.layers.Layer):
    """A trainable scale (and bias) per channel."""

    def __init__(self, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.use_bias = use_bias

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        self.bias = (self.add_weight(shape=(channels,), initializer="zeros", name="bias")
                     if self.use_bias else None)

    def call(self, x):
        y = x * ops.cast(self.scale, x.dtype)
        return y + ops.cast(self.bias, x.dtype) if self.use_bias else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelectChannels(keras.layers.Layer):
    """Keeps the listed channels of the input, in order."""

    def __init__(self, channels=(), **kwargs):
        super().__init__(**kwargs)
        self.channels = list(channels)

    def call(self, x):
        return ops.take(x, self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.channels),)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


# --- ConvNeXt and ViT pieces ------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerScale(keras.layers.Layer):
    """x * gamma, gamma a learned vector over the last axis starting at ``init_value``
    (the class name is keras.applications ConvNeXt's, so its weights transfer)."""

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma",
                                     initializer=keras.initializers.Constant(self.init_value))

    def call(self, x):
        return x * ops.cast(self.gamma, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClassToken(keras.layers.Layer):
    """Prepends a learned token (zeros at first) to a sequence: (T, C) -> (T + 1, C)."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                     name="token")

    def call(self, x):
        token = ops.cast(ops.reshape(self.token, (1, 1, -1)), x.dtype)
        token = ops.broadcast_to(token, (ops.shape(x)[0], 1, ops.shape(x)[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned (T, C) embedding to a sequence of T tokens (initialized from a
    normal distribution of standard deviation 0.02, truncated, as ViT's)."""

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]), name="embedding",
            initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelectToken(keras.layers.Layer):
    """The token at ``index`` of a sequence: (T, C) -> (C,)."""

    def __init__(self, index=0, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, x):
        return x[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNorm(keras.layers.BatchNormalization):
    """Keras's BatchNormalization, computed on the TensorFlow backend by one fused kernel
    (``FusedBatchNormV3`` and its gradient, oneDNN's on a CPU) on float32 and bfloat16
    images (rank 4, channels last), as Keras 2 did; elsewhere (other backends, float16,
    masks, renorm) Keras's own computation.

    Keras 3 normalizes with separate ops: under mixed precision it casts the bfloat16
    input to float32, computes the moments and the normalization in several passes over
    the tensor, and casts back. The fused kernel takes the bfloat16 (or float32) tensor
    with float32 statistics and makes one pass each way: 2.2x (float32) to 4.6x
    (bfloat16) faster for the layer's training step here (benchmarks/kernels.py). The moving statistics are updated as Keras
    does (with the batch's biased variance), and the weights are the same, so a model
    loads its weights into either layer.
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only on the TensorFlow backend (see _fusable)

        channels = inputs.shape[-1]
        scale = (tf.cast(self.gamma.value, "float32") if self.scale
                 else tf.ones((channels,), "float32"))
        offset = (tf.cast(self.beta.value, "float32") if self.center
                  else tf.zeros((channels,), "float32"))
        train = bool(training) and self.trainable
        empty = tf.constant([], "float32")
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=scale, offset=offset,
            mean=empty if train else tf.cast(self.moving_mean.value, "float32"),
            variance=empty if train else tf.cast(self.moving_variance.value, "float32"),
            epsilon=self.epsilon, data_format="NHWC", is_training=train)
        if train:
            # The kernel returns the batch variance with Bessel's correction; Keras keeps
            # the biased one in its moving variance.
            count = tf.cast(tf.size(inputs) // channels, "float32")
            variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
            self.moving_mean.assign(self.moving_mean * self.momentum
                                    + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum
                                        + variance * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)

    def _fusable(self, inputs, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None
                and len(inputs.shape) == 4 and self.axis in (-1, 3) and not self.renorm
                and not self.synchronized and inputs.shape[-1] is not None
                and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "bfloat16"))
