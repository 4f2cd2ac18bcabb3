"""Sources that load into memory as numpy arrays: digits, synthetic, folder, npz.

Each loader returns ``RawData``: examples as stored (their native dtype and range,
with ``scale`` mapping them to [0, 1]) and integer labels. None of this imports
TensorFlow.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.data.adapt import native_scale, resize_bilinear
from builder.data.source import Source
from builder.errors import DataError

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class RawData:
    """Examples as a source stores them.

    ``x``/``y`` are the examples still to be split (all of them, or the training part
    where the source has its own ``validation``/``test`` pairs).
    """

    x: np.ndarray
    y: np.ndarray
    scale: float
    num_classes: int
    class_names: list[str]
    validation: tuple[np.ndarray, np.ndarray] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    labels_note: str = ""


# --------------------------------------------------------------------------- digits

def load_digits(src: Source, **_) -> RawData:
    """scikit-learn's 8x8 handwritten digits (1797 images, values 0..16); no network."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = digits.images.astype(np.uint8)[..., None]
    y = digits.target.astype(np.int64)
    return RawData(x, y, scale=16.0, num_classes=10, class_names=[str(i) for i in range(10)])


# ------------------------------------------------------------------------ synthetic

def load_synthetic(src: Source, *, input_shape, classes, seed, synthetic_size, **_) -> RawData:
    """Random examples of the blueprint's shape that a model can learn.

    Each class has a fixed random pattern (smooth, for images: random values on a 4x4
    grid, enlarged); an example is 60% its class pattern and 40% uniform noise. The
    same seed, shape, classes and size give the same data.
    """
    rng = np.random.default_rng(seed)
    shape = tuple(input_shape)
    y = rng.permutation(np.arange(synthetic_size) % classes).astype(np.int64)
    if len(shape) in (2, 3):
        height, width = shape[:2]
        channels = shape[2] if len(shape) == 3 else 1
        grid = rng.random((classes, min(height, 4), min(width, 4), channels), dtype=np.float32)
        patterns = resize_bilinear(grid, height, width).reshape((classes, *shape))
    else:
        patterns = rng.random((classes, *shape), dtype=np.float32)
    noise = rng.random((synthetic_size, *shape), dtype=np.float32)
    x = 0.6 * patterns[y] + 0.4 * noise
    x = np.round(x * 255).astype(np.uint8)
    return RawData(x, y, scale=255.0, num_classes=classes,
                   class_names=[f"class_{i}" for i in range(classes)])


# --------------------------------------------------------------------------- folder

def load_folder(src: Source, *, input_shape, **_) -> RawData:
    """One subfolder per class (names sorted) holding image files.

    Every file is decoded up front (PIL) and resized to the blueprint's height and
    width, so an unreadable file stops loading with its name, before any training.
    """
    root = Path(src.arg)
    if not root.exists():
        raise DataError(f"{src}: {root} does not exist")
    if not root.is_dir():
        hint = f" (did you mean 'npz:{root}'?)" if root.suffix.lower() == ".npz" else ""
        raise DataError(f"{src}: {root} is not a directory; folder: wants one subfolder "
                        f"per class{hint}")
    mode = _folder_mode(src, tuple(input_shape))
    height, width = input_shape[0], input_shape[1]

    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name)
    files = {d.name: _images_under(d) for d in class_dirs}
    kinds = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    if not any(files.values()):
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        if loose:
            raise DataError(
                f"{src}: {len(loose)} images lie directly in {root} but there are no class "
                f"subfolders; put each class's images in a subfolder named after the class"
            )
        raise DataError(f"{src}: no images ({kinds}) in class subfolders of {root}")
    empty = [name for name, found in files.items() if not found]
    if empty:
        raise DataError(
            f"{src}: class folder(s) {', '.join(repr(e) for e in empty)} hold no images "
            f"({kinds}); add images or remove the folder(s)"
        )
    if len(files) < 2:
        only = next(iter(files))
        raise DataError(
            f"{src}: only one class ({only!r}); a classifier needs at least two class "
            f"subfolders in {root}"
        )

    paths = [p for found in files.values() for p in found]
    y = np.concatenate([np.full(len(found), i, np.int64) for i, found in enumerate(files.values())])

    def decode(path: Path) -> np.ndarray:
        return _decode_image(src, path, mode, height, width)

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = list(pool.map(decode, paths))
    x = np.stack(images)
    if len(input_shape) == 3 and x.ndim == 3:
        x = x[..., None]
    return RawData(x, y, scale=255.0, num_classes=len(files), class_names=list(files))


def _folder_mode(src: Source, shape: tuple[int, ...]) -> str:
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


def _images_under(folder: Path) -> list[Path]:
    """Image files in ``folder`` and its subfolders, hidden ones skipped, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return found


def _decode_image(src: Source, path: Path, mode: str, height: int, width: int) -> np.ndarray:
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


# ------------------------------------------------------------------------------ npz

def load_npz(src: Source, **_) -> RawData:
    """Arrays ``x``/``y``, or ``x_train``/``y_train`` with optional ``x_test``/``y_test``
    and ``x_val``/``y_val`` (or ``x_validation``/``y_validation``); optionally
    ``class_names``. ``x`` is (N, H, W), (N, H, W, C) or (N, D); ``y`` integer labels,
    (N, 1), or one-hot (N, classes)."""
    path = Path(src.arg)
    if not path.exists():
        raise DataError(f"{src}: file {path} does not exist")
    if path.is_dir():
        raise DataError(f"{src}: {path} is a directory, not an .npz file "
                        f"(did you mean 'folder:{path}'?)")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises several types for a bad file
        raise DataError(f"{src}: cannot read {path} as an .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{src}: {path} holds a single array; save an .npz archive with "
                        f"arrays 'x' and 'y' (numpy.savez)")
    with archive:
        keys = list(archive.files)
        layout = _npz_layout(src, path, keys)
        pairs = {part: _npz_pair(src, archive, xk, yk) for part, (xk, yk) in layout.items()}
        names = None
        if "class_names" in keys:
            names = [str(n) for n in np.asarray(_npz_array(src, archive, "class_names")).ravel()]

    shapes = {part: pair[0].shape[1:] for part, pair in pairs.items()}
    first = shapes["train"]
    for part, shape in shapes.items():
        if shape != first:
            xk = layout[part][0]
            raise DataError(f"{src}: {xk!r} holds examples of shape {shape} but "
                            f"{layout['train'][0]!r} holds {first}")

    widths = [pair[2] for pair in pairs.values() if pair[2] is not None]
    top = max(int(pair[1].max()) for pair in pairs.values())
    num_classes = max([top + 1, *widths])
    note = f" (one-hot labels of width {max(widths)})" if widths else f" (labels 0..{top})"
    if names is None:
        names = [str(i) for i in range(num_classes)]
    elif len(names) < num_classes:
        raise DataError(f"{src}: 'class_names' has {len(names)} names but the labels need "
                        f"{num_classes}")
    scale = max(native_scale(pair[0]) for pair in pairs.values())
    return RawData(
        pairs["train"][0], pairs["train"][1], scale=scale, num_classes=num_classes,
        class_names=names,
        validation=pairs["validation"][:2] if "validation" in pairs else None,
        test=pairs["test"][:2] if "test" in pairs else None,
        labels_note=note,
    )


def _npz_layout(src: Source, path: Path, keys: list[str]) -> dict[str, tuple[str, str]]:
    have = set(keys)
    if {"x", "y"} <= have:
        return {"train": ("x", "y")}
    if {"x_train", "y_train"} <= have:
        layout = {"train": ("x_train", "y_train")}
        for part, choices in (("validation", ("val", "validation")), ("test", ("test",))):
            for suffix in choices:
                xk, yk = f"x_{suffix}", f"y_{suffix}"
                if (xk in have) != (yk in have):
                    lone, missing = (xk, yk) if xk in have else (yk, xk)
                    raise DataError(f"{src}: has {lone!r} but no {missing!r}")
                if xk in have:
                    layout[part] = (xk, yk)
                    break
        return layout
    found = ", ".join(repr(k) for k in keys) if keys else "no arrays"
    raise DataError(
        f"{src}: expected arrays 'x' and 'y', or 'x_train' and 'y_train' (optionally "
        f"'x_test' and 'y_test'); {path.name} has {found}"
    )


def _npz_array(src: Source, archive, key: str) -> np.ndarray:
    try:
        return archive[key]
    except Exception as error:  # object arrays need pickle; corrupt members
        raise DataError(f"{src}: cannot read array {key!r}: {error}") from error


def _npz_pair(src: Source, archive, xk: str, yk: str):
    """(x, integer labels, one-hot width or None), checked."""
    x = _npz_array(src, archive, xk)
    y = _npz_array(src, archive, yk)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise DataError(f"{src}: {xk!r} must hold numbers, not {x.dtype}")
    if x.ndim < 2:
        raise DataError(f"{src}: {xk!r} has shape {x.shape}; it needs one example per row, "
                        f"e.g. (N, H, W), (N, H, W, C) or (N, D)")
    if len(x) == 0:
        raise DataError(f"{src}: {xk!r} is empty")
    if y.ndim == 0 or len(x) != len(y):
        raise DataError(f"{src}: {xk!r} has {len(x)} examples but {yk!r} has "
                        f"{len(y) if y.ndim else 'no'} labels (shape {y.shape})")
    labels, width = _labels(src, yk, y)
    return x, labels, width


def _labels(src: Source, key: str, y: np.ndarray) -> tuple[np.ndarray, int | None]:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DataError(f"{src}: {key!r} has shape {y.shape} but is not one-hot "
                            f"(every row needs a single 1 and zeros)")
        return y.argmax(axis=1).astype(np.int64), int(y.shape[1])
    if y.ndim != 1:
        raise DataError(f"{src}: {key!r} has shape {y.shape}; labels are integers (N,) "
                        f"or one-hot (N, classes)")
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{src}: {key!r} holds non-integer labels")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{src}: {key!r} must hold integer labels, not {y.dtype}")
    if y.min() < 0:
        raise DataError(f"{src}: {key!r} holds negative labels (smallest {y.min()})")
    return y.astype(np.int64), None


LOADERS = {
    "digits": load_digits,
    "synthetic": load_synthetic,
    "folder": load_folder,
    "npz": load_npz,
}
