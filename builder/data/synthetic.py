"""``synthetic``: random examples of the blueprint's shape that a model can learn.

Each class has a fixed random pattern (smooth, for images: random values on a 4x4 grid,
enlarged); an example is 60% its class pattern and 40% uniform noise. The same seed,
shape, classes and size give the same data; it has as many classes as the blueprint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .adapt import resize_bilinear
from .protocol import InMemory, RawData, Request


@dataclass(frozen=True)
class Synthetic(InMemory):
    kind = "synthetic"
    form = "synthetic"

    def read(self, request: Request) -> RawData:
        rng = np.random.default_rng(request.seed)
        shape, classes, size = request.input_shape, request.classes, request.synthetic_size
        y = rng.permutation(np.arange(size) % classes).astype(np.int64)
        if len(shape) in (2, 3):
            height, width = shape[:2]
            channels = shape[2] if len(shape) == 3 else 1
            grid = rng.random((classes, min(height, 4), min(width, 4), channels),
                              dtype=np.float32)
            patterns = resize_bilinear(grid, height, width).reshape((classes, *shape))
        else:
            patterns = rng.random((classes, *shape), dtype=np.float32)
        noise = rng.random((size, *shape), dtype=np.float32)
        x = np.round((0.6 * patterns[y] + 0.4 * noise) * 255).astype(np.uint8)
        return RawData(x, y, scale=255.0, num_classes=classes,
                       class_names=[f"class_{i}" for i in range(classes)])
