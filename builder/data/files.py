"""Image files read one at a time: the PIL reader (no TensorFlow), the quick header
check, and the log of files that could not be read.

A streamed part holds only paths and labels; its pipeline decodes each file when the
file is needed. A file that cannot be decoded is skipped and written into the part's
``SkipLog``; ``DataSplits.bad_files`` lists them, and the training run stops only when
they are more than ``max_bad_files`` of a part.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

import numpy as np

#: Default ``max_bad_files``: the fraction of a part's files that may be unreadable.
MAX_BAD_FILES = 0.01


class SkipLog:
    """The unreadable files of one part: those a numpy reader ``add``s, and those that
    the tf.data pipeline's probes (functions giving paths) report."""

    def __init__(self, total: int):
        self.total = total
        self._found: set[str] = set()
        self._probes: list[Callable[[], Iterable[str]]] = []
        self._lock = threading.Lock()

    def add(self, path: str) -> None:
        with self._lock:
            self._found.add(str(path))

    def watch(self, probe: Callable[[], Iterable[str]]) -> None:
        self._probes.append(probe)

    def paths(self) -> list[str]:
        found = set(self._found)
        for probe in self._probes:
            found.update(str(p) for p in probe())
        return sorted(found)


def read_image(path: str, channels: int) -> np.ndarray:
    """A file decoded with PIL to uint8 (h, w, channels) (``channels`` 1, 3 or 4);
    16-bit gray keeps its top 8 bits. Raises what PIL raises for a bad file."""
    from PIL import Image  # only where files are read without TensorFlow

    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16"):
            wide = np.asarray(image, dtype=np.uint16)
            image = Image.fromarray((wide >> 8).astype(np.uint8), "L")
        image = image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
        pixels = np.asarray(image, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def header_ok(path: str) -> bool:
    """Whether ``path`` opens as an image (its header only; pixels are not decoded)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size[0] > 0 and image.size[1] > 0
    except Exception:  # PIL raises many types for bad files
        return False


def check_headers(paths: Iterable[str], workers: int = 8) -> list[str]:
    """The paths whose header does not open as an image (``--check-data``)."""
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ok = list(pool.map(header_ok, paths, chunksize=64))
    return [p for p, good in zip(paths, ok) if not good]
