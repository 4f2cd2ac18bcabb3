"""``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, values 0..16).

They ship with scikit-learn, so the default data needs no network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .protocol import InMemory, RawData, Request


@dataclass(frozen=True)
class Digits(InMemory):
    kind = "digits"
    form = "digits"

    def count_classes(self, input_shape) -> int:
        return 10

    def read(self, request: Request) -> RawData:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = digits.images.astype(np.uint8)[..., None]
        y = digits.target.astype(np.int64)
        return RawData(x, y, scale=16.0, num_classes=10,
                       class_names=[str(i) for i in range(10)])
