"""``train``, ``evaluate`` and ``predict``: fit a blueprint, then use the run directory.

The options of ``train`` are the fields of ``TrainOptions``, one flag each
(``learning_rate`` is ``--learning-rate``), with the help text the field carries.

Exit status: 0 on success; 2 for bad input (checked before the first epoch, nothing
written) and for a loss that became NaN (the run directory keeps the last good epoch);
3 when a process of a job of several was lost (the run is resumable); 1 for an internal
fault.
"""

from __future__ import annotations

import dataclasses
import json
import typing

from ..edit import parse_sets
from ..errors import ArgumentError
from ..training.options import TrainOptions, parse_augment
from . import add_spec_options, flag, load_spec, positive_int, real, whole


def _option_fields():
    hints = typing.get_type_hints(TrainOptions)
    return [(f, hints[f.name]) for f in dataclasses.fields(TrainOptions)]


def _add_option(p, field, hint) -> None:
    """One ``TrainOptions`` field as a flag. Values are converted only (text to number,
    list); TrainOptions checks them, so a flag and a Python argument fail alike."""
    meta = field.metadata
    if hint is bool:
        p.add_argument(flag(field.name), action="store_true", default=None, help=meta["help"])
        return
    base = {a for a in typing.get_args(hint) if a is not type(None)} or {hint}
    listed = any(typing.get_origin(a) is tuple for a in (hint, *base))
    convert = (whole if int in base else real if float in base
               else parse_augment if listed else str)
    p.add_argument(flag(field.name), type=convert, metavar=meta["metavar"], help=meta["help"])


def add(sub, common):
    p = sub.add_parser("train", parents=[common], help="train a blueprint; writes a run directory",
                       description="Train a blueprint and write a run directory (blueprint.json, "
                       "config.json, history.csv, metrics.json, curves.png, model.keras, "
                       "checkpoints/, logs/, summary.txt).")
    add_spec_options(p, spec="optional")
    for field, hint in _option_fields():
        _add_option(p, field, hint)
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/NAME-TIME)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed epoch")
    p.add_argument("--processes", type=whole, metavar="N",
                   help="processes of one job training together, JAX backend (default 1, "
                   "or BUILDER_PROCESSES, or SLURM_NTASKS under srun)")
    p.add_argument("--process-id", type=whole, metavar="I",
                   help="this process in the job, 0 the chief (or BUILDER_PROCESS_ID, or "
                   "SLURM_PROCID)")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="where the job meets: the chief's host and a free port (or "
                   "BUILDER_COORDINATOR, or SLURM_LAUNCH_NODE_IPADDR:BUILDER_PORT)")
    p.set_defaults(run=run_train)

    p = sub.add_parser("evaluate", parents=[common], help="test loss and accuracy of a run")
    p.add_argument("run_dir", metavar="RUN", help="a run directory")
    p.add_argument("--data", metavar="SOURCE", help="another data source (default: the run's)")
    p.add_argument("--data-dir", metavar="DIR", help="tensorflow-datasets data directory")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_evaluate)

    p = sub.add_parser("predict", parents=[common], help="top-5 classes of image files")
    p.add_argument("run_dir", metavar="RUN", help="a run directory")
    p.add_argument("files", metavar="FILE", nargs="+", help="image files (png, jpg, ...)")
    p.add_argument("--top", type=positive_int, default=5, metavar="K", help="default 5")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_predict)


def options_from(args):
    """TrainOptions from the parsed arguments; unset ones keep their defaults."""
    given = {f.name: getattr(args, f.name) for f, _ in _option_fields()
             if getattr(args, f.name) is not None}
    return TrainOptions(**given)


def run_train(args):
    from ..training import train  # Keras loads here, not when the command line starts

    if args.resume:
        given = [f.name for f, _ in _option_fields()
                 if f.name != "epochs" and getattr(args, f.name) is not None]
        given += [n for n in ("spec", "input_shape", "classes", "sets")
                  if getattr(args, n, None)]
        if given:
            raise ArgumentError(f"resume=True continues a run with its own options; only "
                                f"`epochs` may change (got `{given[0]}`)",
                                arguments=("resume", "epochs", given[0]))
        train(out=args.out, resume=True, epochs=args.epochs, **_cluster(args))
        return 0
    edits = {}
    if args.sets:
        load_spec(args)  # a bad --set is reported with its text, before anything else
        edits = parse_sets(args.sets)
    train(args.spec, options_from(args), out=args.out, input_shape=args.input_shape,
          classes=args.classes, edits=edits, **_cluster(args))
    return 0


def _cluster(args) -> dict:
    return {"processes": args.processes, "process_id": args.process_id,
            "coordinator": args.coordinator}


def run_evaluate(args):
    from ..training import evaluate_run  # Keras loads here, not when the command line starts

    result = evaluate_run(args.run_dir, data=args.data, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.run_dir} on {result['data']} ({result['examples']} test images): "
          f"loss {result['loss']:.4f}, accuracy {result['accuracy']:.2%}")
    width = max((len(n) for n in result["per_class"]), default=5)
    print(f"{'class':<{width}}  accuracy  images")
    for name, row in result["per_class"].items():
        print(f"{name:<{width}}  {row['accuracy']:>8.2%}  {row['count']:>6}")
    return 0


def run_predict(args):
    from ..training import predict_files  # Keras loads here, not when the command line starts

    results = predict_files(args.run_dir, args.files, top=args.top)
    if args.json:
        print(json.dumps([{"file": f, "top": [{"class": c, "probability": p} for c, p in best]}
                          for f, best in results], indent=2))
        return 0
    for file, best in results:
        print(file)
        for name, p in best:
            print(f"  {p:7.2%}  {name}")
    return 0
