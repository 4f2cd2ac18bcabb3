"""``npz:PATH``: arrays saved with numpy.savez."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .adapt import native_scale
from .protocol import InMemory, RawData, Request


@dataclass(frozen=True)
class Npz(InMemory):
    kind = "npz"
    form = "npz:PATH"
    argument = "an .npz file"

    @classmethod
    def parse(cls, arg):
        return cls(os.path.abspath(os.path.expanduser(arg)))

    def count_classes(self, input_shape) -> int:
        return self.read(None).num_classes

    def read(self, request: Request | None) -> RawData:
        return _read(self, Path(self.arg))


def _read(src, path: Path) -> RawData:
    """Arrays ``x``/``y``, or ``x_train``/``y_train`` with optional ``x_test``/``y_test``
    and ``x_val``/``y_val`` (or ``x_validation``/``y_validation``); optionally
    ``class_names``. ``x`` is (N, H, W), (N, H, W, C) or (N, D); ``y`` integer labels,
    (N, 1), or one-hot (N, classes)."""
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

    present = np.unique(pairs["train"][1])
    if len(present) < 2:  # as a folder with one class subfolder is refused
        raise DataError(f"{src}: every training label is {int(present[0])}, one class; a "
                        f"classifier needs examples of at least two classes")
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


def _npz_layout(src, path: Path, keys: list[str]) -> dict[str, tuple[str, str]]:
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


def _npz_array(src, archive, key: str) -> np.ndarray:
    try:
        return archive[key]
    except Exception as error:  # object arrays need pickle; corrupt members
        raise DataError(f"{src}: cannot read array {key!r}: {error}") from error


def _npz_pair(src, archive, xk: str, yk: str):
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


def _labels(src, key: str, y: np.ndarray) -> tuple[np.ndarray, int | None]:
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
