"""``RunPlan``: everything a run needs, checked, before anything is written.

``plan_new`` resolves the blueprint (and fits its head to the data's classes), the
weights to start from and the data; ``plan_resume`` reads the same from a run directory
being continued. A user's mistake raises a ``UserError`` here, so a bad run never
creates its directory.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

from ..analysis import Report, analyze
from ..data import DataSplits, Shard, load_data, parse_source
from ..dsl.base import Blueprint
from ..edit import edit
from ..errors import ArgumentError, DataError, UserError
from ..graph import Graph, lower
from ..loader import load, with_options
from ..serialize import from_json
from .options import TrainOptions
from .rundir import BLUEPRINT, CHECKPOINTS, CONFIG, MODEL, RunDir, is_finished, is_run
from .seed import seed_everything
from .state import TrainState


@dataclasses.dataclass(frozen=True)
class Resumed:
    """A run being continued: its saved config and the state of its last epoch."""

    config: dict
    state: TrainState


@dataclasses.dataclass(frozen=True)
class RunPlan:
    blueprint: Blueprint
    report: Report
    graph: Graph
    options: TrainOptions
    data: DataSplits
    classes: int                    # outputs of the main head
    init_from: Path | None = None   # weights to start from (a file)
    notes: tuple[str, ...] = ()     # what the user should know (printed and recorded)
    resumed: Resumed | None = None
    edits: dict = dataclasses.field(default_factory=dict)  # --set, as given


def plan_new(spec, options: TrainOptions, *, input_shape=None, classes=None, edits=None,
             say=print) -> RunPlan:
    """The plan of a fresh run of ``spec`` (anything ``builder.load`` takes, or a
    blueprint); ``classes`` None lets the head follow the data's classes."""
    bp = _blueprint(spec, input_shape, classes)
    if edits:
        bp = edit(bp, edits)
    report = analyze(bp)
    notes = ()
    if classes is None:
        bp, report, notes = _fit_head(bp, report, options, say)
    graph = lower(bp)
    if options.class_weights is not None and len(graph.outputs) > 1:
        raise ArgumentError("`class_weights` works with single-output models only",
                            arguments=("class_weights",))
    init_from = _weights_file(options.init_from)
    data = open_data(options, report.input_shape, int(report.output_shape[-1]))
    if options.train_transform == "auto" and data.transform.get("train_transform") == "imagenet":
        note = (f"train_transform auto chose imagenet (random-resized crop and flip; "
                f"evaluation: {data.transform['evaluation']}); `train_transform` chooses")
        say(f"note: {note}")
        notes += (note,)
    return RunPlan(bp, report, graph, options, data, int(report.output_shape[-1]),
                   init_from, notes, edits=dict(edits or {}))


def plan_resume(run: RunDir, epochs: int | None = None) -> RunPlan:
    """The plan of continuing ``run`` with its own options (``epochs`` may extend it)."""
    config = json.loads(run.file(CONFIG).read_text(encoding="utf-8"))
    state = TrainState.load(run.file(CHECKPOINTS))
    options = TrainOptions.from_dict(config["options"])
    if epochs is not None:
        options = options.replace(epochs=epochs)
    done = state.epochs_completed
    # A run killed after its last epoch (before model.keras, or before it was moved into
    # place) is finished again: resuming it trains no epoch.
    moved = run.path == run.final
    if done > options.epochs or (done == options.epochs and moved and is_finished(run.path)):
        raise ArgumentError(f"resume=True: the run already has {done} of {options.epochs} "
                            f"epochs; pass a larger `epochs` to train longer",
                            arguments=("resume", "epochs"))
    bp = from_json(run.file(BLUEPRINT).read_text(encoding="utf-8"))
    report = analyze(bp)
    data = open_data(options, report.input_shape, int(config["classes"]))
    return RunPlan(bp, report, lower(bp), options, data, int(config["classes"]),
                   notes=tuple(config.get("notes", [])), resumed=Resumed(config, state),
                   edits=config.get("edits", {}))


def open_data(options: TrainOptions, input_shape, classes: int, *,
              augment: bool = True) -> DataSplits:
    """The run's data, as its options say: on tf.data wherever TensorFlow is installed
    (it feeds the JAX and PyTorch backends too), else on the numpy pipeline. In a job of
    several processes tf.data opens this process's equal shard in batches of its part of
    the global batch; the numpy pipeline opens it all and shards each epoch's order
    (strategy.split_batches)."""
    seed_everything(options.seed)  # tf.data's shuffling depends on the global seed too
    pipeline, (index, count) = pipeline_for(options), _process()
    shard, batch_size = Shard(), options.batch_size
    if pipeline == "tf" and count > 1:
        shard, batch_size = Shard(index, count, equal=True), max(1, batch_size // count)
    return load_data(options.data, input_shape=tuple(input_shape), classes=classes,
                     batch_size=batch_size, seed=options.seed,
                     validation_split=options.validation_split, test_split=options.test_split,
                     augment=options.augment if augment else (), data_dir=options.data_dir,
                     download=options.download, pipeline=pipeline, shard=shard,
                     cache=options.cache, check_data=options.check_data,
                     max_bad_files=options.max_bad_files,
                     train_transform=options.train_transform, crop_pct=options.crop_pct,
                     crop_scale=(options.crop_scale, 1.0))


def pipeline_for(options: TrainOptions) -> str:
    """The run's ``pipeline``; auto: "tf" where TensorFlow can be imported (any backend),
    else "numpy". In a JAX job of several processes auto takes "numpy" for data held in
    memory (its datasets read each process's shard of every epoch's order, so that the
    job trains as one process would: py_dataset.ArrayDataset.share) and "tf" for
    streamed sources (folder, tfds: each process streams its own shard in constant
    memory, with every transform)."""
    if options.pipeline != "auto":
        return options.pipeline
    tf = importlib.util.find_spec("tensorflow") is not None
    if _process()[1] > 1:
        return "tf" if tf and options.data.partition(":")[0] in STREAMED else "numpy"
    return "tf" if tf else "numpy"


#: Sources that stream (the others are read into memory).
STREAMED = ("folder", "tfds")


def _process() -> tuple[int, int]:
    """This process's index and the job's count of processes (JAX's; one elsewhere)."""
    import keras

    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


def _blueprint(spec, input_shape, classes) -> Blueprint:
    if isinstance(spec, Blueprint):
        return with_options(spec, input_shape=input_shape, classes=classes)
    if spec is None:
        raise ArgumentError("train needs `spec` (a registered name, FILE.py[:NAME] or "
                            "FILE.json)", arguments=("spec",))
    return load(spec, input_shape=input_shape, classes=classes)


def _fit_head(bp, report, options: TrainOptions, say):
    """The blueprint with as many outputs as the data has classes, where the data says
    how many cheaply and they differ."""
    outputs = int(report.output_shape[-1])
    found = parse_source(options.data).count_classes(tuple(report.input_shape))
    if found is None or found == outputs:
        return bp, report, ()
    try:
        bp = with_options(bp, classes=found)
    except UserError as e:
        raise DataError(f"{options.data} has {found} classes and the blueprint outputs "
                        f"{outputs}; its head cannot be changed ({e})") from None
    note = (f"the head now has {found} classes, as the data has (the blueprint had "
            f"{outputs}; `classes` chooses)")
    say(f"note: {note}")
    return bp, analyze(bp), (note,)


def _weights_file(init_from: str | None) -> Path | None:
    """``init_from``: a run directory (its model.keras) or a weights file."""
    if init_from is None:
        return None
    source = Path(init_from)
    if is_run(source):
        source = source / MODEL
    if not source.is_file():
        raise ArgumentError(f"init_from={init_from!r}: no such run directory or weights file",
                            arguments=("init_from",))
    return source
