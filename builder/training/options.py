"""``TrainOptions``: every choice of a training run, checked before anything runs.

The command line and the Python API fill the same dataclass; ``checked()`` raises
``ArgumentError`` naming the option and the valid values, so a bad value never
reaches Keras. ``to_dict``/``from_dict`` round-trip through ``config.json`` (resume).
"""

from __future__ import annotations

import dataclasses
import math
import re

from ..errors import ArgumentError, did_you_mean, one_of

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "none", "mirrored")
AUGMENTATIONS = ("flip", "crop", "rotate")
CLASS_WEIGHTS = ("balanced",)


@dataclasses.dataclass
class TrainOptions:
    """The options of ``builder train``; defaults train LeNet-5 on digits to >97%."""

    data: str = "digits"
    epochs: int = 15
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float | None = None  # None: the optimizer's default below
    momentum: float = 0.9                # sgd and rmsprop
    schedule: str = "cosine"
    warmup_epochs: int | None = None     # cosine only: linear warm-up (None: 1 if epochs > 1)
    weight_decay: float = 0.0            # adamw: decoupled; others: Keras weight_decay
    label_smoothing: float = 0.0
    seed: int = 0
    early_stopping: int | None = None    # patience in epochs on validation loss
    class_weights: str | None = None     # "balanced"
    augment: tuple[str, ...] = ("rotate",)  # mild (up to 15 degrees), training data only
    precision: str = "auto"
    strategy: str = "auto"
    init_from: str | None = None         # a run directory or a weights/model file
    freeze: str | None = None            # a blueprint path prefix, or N first weighted layers
    unfreeze_after: int | None = None    # epochs of the frozen phase
    data_dir: str | None = None
    download: bool = False
    validation_split: float = 0.1
    test_split: float = 0.2

    DEFAULT_LEARNING_RATES = {"sgd": 0.05, "adam": 2e-3, "adamw": 2e-3, "rmsprop": 1e-3}

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return self.DEFAULT_LEARNING_RATES[self.optimizer]

    @property
    def warmup(self) -> int:
        if self.warmup_epochs is not None:
            return self.warmup_epochs
        return 1 if self.epochs > 1 else 0

    @property
    def freeze_count(self) -> int | None:
        """``--freeze N``: N as a number; None when ``freeze`` is a path prefix."""
        if self.freeze is not None and re.fullmatch(r"\d+", self.freeze):
            return int(self.freeze)
        return None

    def checked(self) -> "TrainOptions":
        """These options, or ``ArgumentError`` for the first bad one."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("strategy", self.strategy, STRATEGIES)
        if self.class_weights is not None:
            _choice("class-weights", self.class_weights, CLASS_WEIGHTS)
        _whole("epochs", self.epochs, 1)
        _whole("batch-size", self.batch_size, 1)
        if self.warmup_epochs is not None:
            _whole("warmup-epochs", self.warmup_epochs, 0)
        _whole("seed", self.seed, 0)
        if self.early_stopping is not None:
            _whole("early-stopping", self.early_stopping, 1)
        if self.learning_rate is not None:
            _real("learning-rate", self.learning_rate, 0.0, None, low_open=True)
        _real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        _real("weight-decay", self.weight_decay, 0.0, None)
        _real("label-smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        _real("validation-split", self.validation_split, 0.0, 1.0, high_open=True)
        _real("test-split", self.test_split, 0.0, 1.0, high_open=True)
        if self.schedule == "cosine" and self.warmup >= self.epochs:
            raise ArgumentError(f"--warmup-epochs ({self.warmup_epochs}) must be below "
                                f"--epochs ({self.epochs})")
        augment = tuple(self.augment)
        for name in augment:
            _choice("augment", name, AUGMENTATIONS)
        if len(set(augment)) != len(augment):
            raise ArgumentError(f"--augment names {','.join(augment)}: each at most once")
        self.augment = augment
        if self.freeze is not None and not str(self.freeze).strip("/"):
            raise ArgumentError("--freeze needs a blueprint path prefix (body/c1) or a count")
        if self.unfreeze_after is not None:
            _whole("unfreeze-after", self.unfreeze_after, 1)
            if self.freeze is None:
                raise ArgumentError("--unfreeze-after needs --freeze")
            if self.unfreeze_after >= self.epochs:
                raise ArgumentError(f"--unfreeze-after ({self.unfreeze_after}) must be below "
                                    f"--epochs ({self.epochs})")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        if "augment" in values:
            values["augment"] = tuple(values["augment"])
        return cls(**values)


def parse_augment(text: str) -> tuple[str, ...]:
    """``"flip,crop"`` -> ``("flip", "crop")``; ``"none"`` -> ``()``."""
    if text.strip() == "none":
        return ()
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _choice(option, value, choices):
    if value not in choices:
        raise ArgumentError(f"--{option} must be {one_of(choices)}, not {value!r}"
                            f"{did_you_mean(str(value), choices)}")


def _whole(option, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArgumentError(f"--{option} must be a whole number >= {low}, not {value!r}")


def _real(option, value, low, high, low_open=False, high_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ArgumentError(f"--{option} must be in {lo}{low}, {'inf' if high is None else high}"
                            f"{hi}, not {value!r}")
