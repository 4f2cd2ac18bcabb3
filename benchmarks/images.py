"""Generated image folders for the data benchmark and the streaming tests (numpy and
PIL only, so that tests can load it without the benchmarks' set-up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_jpeg_folder(root, images: int, *, classes: int = 10, size=(400, 320),
                      seed: int = 0) -> Path:
    """``images`` smooth JPEGs (``size`` = width, height) spread over ``classes``
    subfolders c0, c1, ...: a tinted gradient with noise, so that they compress as
    photographs do and the classes differ. Files already there are kept."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None] * \
        np.linspace(0.5, 1, height, dtype=np.float32)[:, None, None]
    for k in range(classes):
        (root / f"c{k}").mkdir(parents=True, exist_ok=True)
    for i in range(images):
        k = i % classes
        path = root / f"c{k}" / f"{i:06d}.jpg"
        if path.exists():
            continue
        tint = np.array([(k * 37) % 256, (k * 91) % 256, (k * 53) % 256], np.float32)
        pixels = ramp * tint + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=85)
    return root
