"""``folder:PATH``: one subfolder of image files per class (class names sorted)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .protocol import InMemory, RawData, Request

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class Folder(InMemory):
    """Every file is decoded up front (PIL) and resized to the blueprint's height and
    width, so an unreadable file stops loading with its name, before any training."""

    kind = "folder"
    form = "folder:PATH"
    argument = "a directory"

    @classmethod
    def parse(cls, arg):
        return cls(os.path.abspath(os.path.expanduser(arg)))

    def count_classes(self, input_shape) -> int | None:
        root = Path(self.arg)
        if not root.is_dir():
            return None  # opening explains what is wrong
        found = sum(1 for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        return found if found >= 2 else None

    def read(self, request: Request) -> RawData:
        files = self.listing()
        mode = image_mode(self, request.input_shape)
        height, width = request.input_shape[0], request.input_shape[1]
        paths = [p for found in files.values() for p in found]
        y = np.concatenate([np.full(len(found), i, np.int64)
                            for i, found in enumerate(files.values())])
        workers = max(1, min(8, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            images = list(pool.map(lambda p: decode_image(self, p, mode, height, width), paths))
        x = np.stack(images)
        if len(request.input_shape) == 3 and x.ndim == 3:
            x = x[..., None]
        return RawData(x, y, scale=255.0, num_classes=len(files), class_names=list(files))

    def listing(self) -> dict[str, list[Path]]:
        """Class name -> its image files, sorted; ``DataError`` for a folder that is not
        a set of two or more non-empty class subfolders."""
        root = Path(self.arg)
        if not root.exists():
            raise DataError(f"{self}: {root} does not exist")
        if not root.is_dir():
            hint = f" (did you mean 'npz:{root}'?)" if root.suffix.lower() == ".npz" else ""
            raise DataError(f"{self}: {root} is not a directory; folder: wants one subfolder "
                            f"per class{hint}")
        class_dirs = sorted((p for p in root.iterdir()
                             if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
        files = {d.name: images_under(d) for d in class_dirs}
        kinds = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
        if not any(files.values()):
            loose = [p for p in root.iterdir()
                     if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
            if loose:
                raise DataError(
                    f"{self}: {len(loose)} images lie directly in {root} but there are no "
                    f"class subfolders; put each class's images in a subfolder named after "
                    f"the class")
            raise DataError(f"{self}: no images ({kinds}) in class subfolders of {root}")
        empty = [name for name, found in files.items() if not found]
        if empty:
            raise DataError(f"{self}: class folder(s) {', '.join(repr(e) for e in empty)} hold "
                            f"no images ({kinds}); add images or remove the folder(s)")
        if len(files) < 2:
            raise DataError(f"{self}: only one class ({next(iter(files))!r}); a classifier "
                            f"needs at least two class subfolders in {root}")
        return files


def image_mode(src, shape: tuple[int, ...]) -> str:
    """The PIL mode that gives the blueprint's channels."""
    if len(shape) == 2:
        return "L"
    if len(shape) == 3:
        modes = {1: "L", 3: "RGB", 4: "RGBA"}
        if shape[2] in modes:
            return modes[shape[2]]
        raise DataError(f"{src}: images have 1, 3 or 4 channels but the blueprint's input "
                        f"{shape} has {shape[2]}")
    raise DataError(f"{src}: images need an image input (H, W, C) or (H, W); the "
                    f"blueprint's input is {shape}")


def images_under(folder: Path) -> list[Path]:
    """Image files in ``folder`` and its subfolders, hidden ones skipped, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return found


def decode_image(src, path: Path, mode: str, height: int, width: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode.startswith("I;16"):
                # 16-bit gray: keep the top 8 bits rather than clipping at 255.
                wide = np.asarray(image, dtype=np.uint16)
                image = Image.fromarray((wide >> 8).astype(np.uint8), "L")
            image = image.convert(mode)
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except Exception as error:  # PIL raises many types for bad files
        raise DataError(f"{src}: cannot read image {path}: {error}") from error
