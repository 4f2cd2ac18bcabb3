"""The Keras layer an exported model preprocesses with under the imagenet transforms:
``builder.data.transforms.eval_image`` (resize keeping the aspect ratio, centre crop) on
a batch of images of any size. TensorFlow ops, as every export format runs them.

Registered, so an exported ``.keras`` model loads back once this module is imported.
"""

from __future__ import annotations

import keras

from .data.transforms import eval_image


@keras.saving.register_keras_serializable(package="builder")
class CentreCrop(keras.layers.Layer):
    """Images (B, h, w, C) of any size -> (B, height, width, C): the evaluation transform
    with ``crop_pct``."""

    def __init__(self, height: int, width: int, crop_pct: float, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.crop_pct = int(height), int(width), float(crop_pct)

    def call(self, images):
        return eval_image(images, (self.height, self.width), self.crop_pct)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "crop_pct": self.crop_pct}
