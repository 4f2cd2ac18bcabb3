"""``evaluate`` and ``predict`` on a finished run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.adapt import plan_adaptation
from ..errors import ArgumentError, DataError
from ..graph import lower
from ..serialize import from_json
from ..weights import load_model_file
from .compile import outputs_probabilities
from .options import TrainOptions
from .plan import open_data
from .rundir import BLUEPRINT, CONFIG, MODEL, is_run


def load_run(run) -> tuple[object, dict, bool]:
    """(the run's Keras model, its config.json, whether the outputs are probabilities).

    Raises ``ArgumentError`` when ``run`` is not a finished run directory."""
    folder = Path(run)
    if not is_run(folder):
        raise ArgumentError(f"{run} is not a run directory (no config.json and blueprint.json)")
    if not (folder / MODEL).is_file():
        raise ArgumentError(f"{run} has no model.keras (an unfinished run? train with "
                            f"resume=True and out={str(run)!r} to finish it)",
                            arguments=("resume", "out"))
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{folder / CONFIG}: cannot read: {e}") from None
    model = load_model_file(folder / MODEL)
    graph = lower(from_json((folder / BLUEPRINT).read_text(encoding="utf-8")))
    return model, config, outputs_probabilities(graph)


def _probabilities(model, x, are_probabilities: bool) -> np.ndarray:
    out = model.predict_on_batch(x)
    if isinstance(out, (list, tuple)):
        out = out[0]  # the main output; side outputs are for training only
    out = np.asarray(out, dtype=np.float64)
    if not are_probabilities:
        out = np.exp(out - out.max(axis=-1, keepdims=True))
        out /= out.sum(axis=-1, keepdims=True)
    return out


def _batches(dataset):
    if hasattr(dataset, "as_numpy_iterator"):
        yield from dataset.as_numpy_iterator()
    else:
        for i in range(len(dataset)):
            yield dataset[i]


def evaluate_run(run, data: str | None = None, data_dir: str | None = None) -> dict:
    """Test loss (cross-entropy of the main output), accuracy and per-class accuracy of
    a run on its own held-out test split (the same seed and fractions as in training),
    or on the test split of ``data``."""
    model, config, are_probabilities = load_run(run)
    options = TrainOptions.from_dict(config["options"])
    if data is not None:
        options = options.replace(data=data, data_dir=data_dir)
    splits = open_data(options, config["input_shape"], int(config["classes"]), augment=False)
    if splits.test is None:
        raise DataError(f"{options.data} has no test examples (its `test_split` is 0)",
                        arguments=("test_split",))
    losses, correct, labels = [], [], []
    for x, y in _batches(splits.test):
        p = _probabilities(model, x, are_probabilities)
        y = np.asarray(y).astype(np.int64).reshape(-1)
        losses.append(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)))
        correct.append(p.argmax(axis=-1) == y)
        labels.append(y)
    losses, correct, labels = map(np.concatenate, (losses, correct, labels))
    names = config.get("class_names") or [str(i) for i in range(config["classes"])]
    per_class = {}
    for index, name in enumerate(names):
        mask = labels == index
        if mask.any():
            per_class[name] = {"accuracy": float(correct[mask].mean()), "count": int(mask.sum())}
    return {"data": splits.source, "examples": int(len(labels)), "loss": float(losses.mean()),
            "accuracy": float(correct.mean()), "per_class": per_class}


def load_image(path, input_shape) -> np.ndarray:
    """One image file as the model's input: scaled to [0, 1], channels and size adapted
    the way the training data was (builder.data.adapt)."""
    from PIL import Image, UnidentifiedImageError

    shape = tuple(input_shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        raise DataError(f"the model's input {shape} is not an image")
    mode = "L" if len(shape) == 2 or shape[2] == 1 else ("RGBA" if shape[2] == 4 else "RGB")
    try:
        with Image.open(path) as image:
            image.load()
            pixels = np.asarray(image.convert(mode))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    if pixels.ndim == 2 and len(shape) == 3:
        pixels = pixels[..., None]
    plan = plan_adaptation(str(path), pixels.shape, shape, 255.0)
    return plan.apply_numpy(pixels[None])[0]


def predict_files(run, files, top: int = 5) -> list[tuple[str, list[tuple[str, float]]]]:
    """For each image file, its ``top`` classes with probabilities, best first."""
    if not files:
        raise ArgumentError("predict needs at least one image file")
    model, config, are_probabilities = load_run(run)
    images = np.stack([load_image(f, config["input_shape"]) for f in files])
    probabilities = _probabilities(model, images, are_probabilities)
    names = config.get("class_names") or [str(i) for i in range(probabilities.shape[-1])]
    results = []
    for file, p in zip(files, probabilities):
        best = np.argsort(-p)[:top]
        results.append((str(file), [(names[i] if i < len(names) else str(i), float(p[i]))
                                    for i in best]))
    return results
