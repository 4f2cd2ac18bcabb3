"""``folder:PATH``: one subfolder of image files per class (class names sorted).

Only the file list and the labels are held in memory: the holdout split and the
shard are made on the list (deterministic, before anything is decoded), and each
pipeline reads and decodes the files as it streams them (tf.data in parallel, or PIL a
batch at a time on the numpy pipeline). With ``check_data`` every file's header is
checked first and the files that do not open are left out (and counted).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .adapt import plan_adaptation
from .files import check_headers
from .protocol import Files, Opened, RawData, Request, Source, check_classes, holdout

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class Folder(Source):
    """Files are decoded as they stream, to the blueprint's channels, and resized to its
    height and width; an unreadable file is skipped and logged."""

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

    def open(self, request: Request) -> Opened:
        files = self.listing()
        channels = image_channels(self, request.input_shape)
        check_classes(self, len(files), request.classes)
        paths = np.array([str(p) for found in files.values() for p in found], dtype=object)
        y = np.concatenate([np.full(len(found), i, np.int64)
                            for i, found in enumerate(files.values())])
        unreadable = check_headers(paths) if request.check_data else []
        if unreadable:
            keep = ~np.isin(paths, np.array(unreadable, dtype=object))
            paths, y = paths[keep], y[keep]
        raw = RawData(paths, y, scale=255.0, num_classes=len(files), class_names=list(files))
        parts = holdout(self, raw, request)
        counts = np.bincount(parts["train"].y, minlength=request.classes)[:request.classes]
        left_out = request.shard.left_out_of(parts)
        parts = {name: Files(request.shard.of(p.x), request.shard.of(p.y), channels)
                 for name, p in parts.items()}
        plan = plan_adaptation(str(self), (None, None, channels), request.input_shape, 255.0)
        return Opened(parts, plan, len(files), list(files), counts.astype(np.int64),
                      unreadable=unreadable, left_out=left_out)

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


def image_channels(src, shape: tuple[int, ...]) -> int:
    """The channels files are decoded to for the blueprint's input: 3 for RGB and for
    gray inputs (made gray by luminance after decoding, which every format allows), 4
    for RGBA."""
    if len(shape) == 2:
        return 3
    if len(shape) == 3:
        if shape[2] in (1, 3):
            return 3
        if shape[2] == 4:
            return 4
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
