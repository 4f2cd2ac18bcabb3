"""``TrainOptions``: every choice of a training run, typed and checked when made.

Each field is checked against its annotation by the machinery that checks blueprint
fields (``builder.dsl.base.checker``), and across fields by ``_validate``; a bad value
raises ``ArgumentError`` naming the field as Python spells it (``learning_rate``). The
options are frozen: a change is a copy (``dataclasses.replace``). ``to_dict``/
``from_dict`` round-trip through ``config.json`` (resume).

The fields are also the command line's table of ``builder train`` options: each field's
``metadata`` holds its help text and metavar, and ``builder.cli.train`` builds its
arguments from them (``learning_rate`` is ``--learning-rate``).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Annotated, Literal

from ..data.augment import AUGMENTATIONS
from ..data.transforms import CROP_PCT, CROP_SCALE, TRAIN_TRANSFORMS
from ..dsl.base import Max, Min, NonNegativeInt, PositiveInt, checker
from ..errors import ArgumentError, BlueprintError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "none", "mirrored")
DEFAULT_LEARNING_RATES = {"sgd": 0.05, "adam": 2e-3, "adamw": 2e-3, "rmsprop": 1e-3}

Positive = Annotated[float, Min(0.0, exclusive=True)]
NonNegative = Annotated[float, Min(0.0)]
Below1 = Annotated[float, Min(0.0), Max(1.0, exclusive=True)]
Fraction = Annotated[float, Min(0.0, exclusive=True), Max(1.0)]


def option(default, help: str, metavar: str | None = None):
    """A field of TrainOptions with its command-line help."""
    return dataclasses.field(default=default, metadata={"help": help, "metavar": metavar})


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """The options of ``builder train``; defaults train LeNet-5 on digits to >97%."""

    data: str = option("digits", "digits (default), synthetic, folder:PATH, npz:PATH or "
                       "tfds:NAME[:SPLIT]", "SOURCE")
    epochs: PositiveInt = option(15, "default 15", "N")
    batch_size: PositiveInt = option(32, "default 32", "N")
    optimizer: Literal[OPTIMIZERS] = option("adam", "sgd, adam (default), adamw or rmsprop",
                                            "NAME")
    learning_rate: Positive | None = option(
        None, "default: sgd 0.05, adam/adamw 0.002, rmsprop 0.001", "X")
    momentum: Below1 = option(0.9, "sgd and rmsprop (default 0.9)", "X")
    schedule: Literal[SCHEDULES] = option(
        "cosine", "constant, step (divide by 10 on a plateau of the validation loss) or "
        "cosine (default, with linear warm-up)", "NAME")
    warmup_epochs: NonNegativeInt | None = option(None, "cosine warm-up (default 1)", "N")
    weight_decay: NonNegative = option(0.0, "adamw: decoupled; others: Keras weight_decay "
                                       "(default 0)", "X")
    label_smoothing: Below1 = option(0.0, "default 0", "X")
    seed: NonNegativeInt = option(0, "default 0; same seed, same run", "N")
    early_stopping: PositiveInt | None = option(
        None, "stop after PATIENCE epochs without a better validation loss", "PATIENCE")
    class_weights: Literal["balanced"] | None = option(
        None, "weigh classes by 1/frequency", "balanced")
    augment: tuple[Literal[AUGMENTATIONS], ...] | None = option(
        None, "flip,crop,rotate,jitter,randaugment,mixup,cutmix or none (training data only; "
        "default: rotate under the simple transform, none under imagenet)", "LIST")
    train_transform: Literal[TRAIN_TRANSFORMS] = option(
        "auto", "simple (squash to the input), imagenet (random-resized crop and flip; "
        "evaluation: resize, centre crop) or auto (default: imagenet for inputs of 128 "
        "pixels or more from images stored at their own size)", "NAME")
    crop_pct: Fraction = option(CROP_PCT, "imagenet evaluation: the centre crop's share of "
                                "the resized image (default 0.875)", "X")
    crop_scale: Fraction = option(CROP_SCALE[0], "imagenet training: smallest area share of "
                                  "the random-resized crop (default 0.08)", "X")
    precision: Literal[PRECISIONS] = option(
        "auto", "auto (default), float32, mixed_float16 or mixed_bfloat16", "NAME")
    strategy: Literal[STRATEGIES] = option("auto", "auto (default), none or mirrored", "NAME")
    init_from: str | None = option(
        None, "start from a run's model.keras or a .keras/.weights.h5 file", "RUN|WEIGHTS")
    freeze: str | None = option(
        None, "freeze layers under a blueprint path, or the first N weighted layers",
        "PATH_PREFIX|N")
    unfreeze_after: PositiveInt | None = option(
        None, "unfreeze everything after this many epochs", "EPOCHS")
    data_dir: str | None = option(None, "tensorflow-datasets data directory", "DIR")
    download: bool = option(False, "let tfds download the data", None)
    validation_split: Below1 = option(0.1, "fraction held out for validation where the data "
                                      "has no split of its own (default 0.1)", "X")
    test_split: Below1 = option(0.2, "fraction held out for test (default 0.2)", "X")
    cache: str = option("auto", "where folder: and tfds data are cached once decoded: none, "
                        "memory or a directory (default auto: memory when they fit in a "
                        "quarter of the available memory)", "auto|none|memory|DIR")
    pipeline: Literal["auto", "tf", "numpy"] = option(
        "auto", "the input pipeline: tf (tf.data), numpy (keras.utils.PyDataset) or auto "
        "(tf where TensorFlow is installed; in a job of several processes numpy for data "
        "held in memory)",
        "auto|tf|numpy")
    check_data: bool = option(False, "check every image file's header before training "
                              "(bad files are left out and counted)", None)
    max_bad_files: Below1 = option(0.01, "the fraction of a split's files that may be "
                                   "unreadable (skipped, listed in skipped.txt); more stops "
                                   "the run (default 0.01)", "X")

    def __post_init__(self):
        for name, check in _checkers(type(self)):
            value = getattr(self, name)
            try:
                checked = check(value, f"`{name}`")
            except BlueprintError as e:
                raise ArgumentError(e.detail, arguments=(name,)) from None
            if checked is not value:
                object.__setattr__(self, name, checked)
        _validate(self)

    @property
    def lr(self) -> float:
        """The learning rate: the one given, else the optimizer's default."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES[self.optimizer]

    @property
    def warmup(self) -> int:
        if self.warmup_epochs is not None:
            return self.warmup_epochs
        return 1 if self.epochs > 1 else 0

    @property
    def freeze_count(self) -> int | None:
        """``freeze`` as a count of layers (``"3"``); None when it is a path prefix."""
        if self.freeze is not None and self.freeze.isdigit():
            return int(self.freeze)
        return None

    def replace(self, **changes) -> "TrainOptions":
        return dataclasses.replace(self, **changes)

    def checked(self) -> "TrainOptions":
        """These options (they are checked when made)."""
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["augment"] = None if self.augment is None else list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "train_transform" not in d:  # a run from before the transforms: as it was
            d["train_transform"] = "simple"
            d.setdefault("augment", ["rotate"])
        return cls(**d)


@functools.cache
def _checkers(cls) -> tuple:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((f.name, checker(hints[f.name])) for f in dataclasses.fields(cls))


def _validate(o: TrainOptions) -> None:
    """Checks across fields."""
    if o.schedule == "cosine" and o.warmup >= o.epochs:
        raise ArgumentError(f"`warmup_epochs` ({o.warmup}) must be below `epochs` ({o.epochs})",
                            arguments=("warmup_epochs", "epochs"))
    if o.augment is not None and len(set(o.augment)) != len(o.augment):
        raise ArgumentError(f"`augment` names {','.join(o.augment)}: each at most once",
                            arguments=("augment",))
    if o.freeze is not None and not o.freeze.strip("/"):
        raise ArgumentError("`freeze` needs a blueprint path prefix (body/c1) or a count",
                            arguments=("freeze",))
    if o.unfreeze_after is not None:
        if o.freeze is None:
            raise ArgumentError("`unfreeze_after` needs `freeze`", arguments=("unfreeze_after",
                                                                          "freeze"))
        if o.unfreeze_after >= o.epochs:
            raise ArgumentError(f"`unfreeze_after` ({o.unfreeze_after}) must be below `epochs` "
                                f"({o.epochs})", arguments=("unfreeze_after", "epochs"))
    if o.validation_split + o.test_split >= 1:
        raise ArgumentError(f"`validation_split` + `test_split` must be below 1, not "
                            f"{o.validation_split} + {o.test_split}",
                            arguments=("validation_split", "test_split"))


def parse_augment(text: str) -> tuple[str, ...]:
    """``"flip,crop"`` -> ``("flip", "crop")``; ``"none"`` -> ``()``."""
    if text.strip() == "none":
        return ()
    return tuple(p.strip() for p in text.split(",") if p.strip())
