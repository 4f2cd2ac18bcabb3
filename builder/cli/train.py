"""``train``, ``evaluate`` and ``predict``: fit a blueprint, then use the run directory.

Exit status: 0 on success; 2 for bad input (checked before the first epoch, nothing
written) and for a loss that became NaN (the run directory keeps the last good epoch);
1 for an internal fault.
"""

from __future__ import annotations

import argparse

from . import positive_int, shape_arg, whole_number


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


_whole = whole_number(0)


def add(sub, common):
    p = sub.add_parser("train", parents=[common], help="train a blueprint; writes a run directory",
                       description="Train a blueprint and write a run directory (blueprint.json, "
                       "config.json, history.csv, metrics.json, curves.png, model.keras, "
                       "checkpoints/, logs/, summary.txt).")
    p.add_argument("spec", metavar="SPEC", nargs="?",
                   help="a registered name (lenet5), FILE.py[:NAME] or FILE.json "
                        "(not needed with --resume)")
    p.add_argument("--input-shape", type=shape_arg, metavar="H,W,C",
                   help="input shape without the batch axis")
    p.add_argument("--classes", type=positive_int, metavar="N",
                   help="number of classes (default: the data's)")
    p.add_argument("--data", metavar="SOURCE", help="digits (default), synthetic, folder:PATH, "
                   "npz:PATH or tfds:NAME[:SPLIT]")
    p.add_argument("--data-dir", metavar="DIR", help="tensorflow-datasets data directory")
    p.add_argument("--download", action="store_true", help="let tfds download the data")
    p.add_argument("--epochs", type=positive_int, metavar="N", help="default 15")
    p.add_argument("--batch-size", type=positive_int, metavar="N", help="default 32")
    p.add_argument("--optimizer", metavar="NAME", help="sgd, adam (default), adamw or rmsprop")
    p.add_argument("--learning-rate", type=_real, metavar="X",
                   help="default: sgd 0.05, adam/adamw 0.002, rmsprop 0.001")
    p.add_argument("--momentum", type=_real, metavar="X", help="sgd and rmsprop (default 0.9)")
    p.add_argument("--schedule", metavar="NAME", help="constant, step (divide by 10 on a "
                   "plateau of the validation loss) or cosine (default, with linear warm-up)")
    p.add_argument("--warmup-epochs", type=_whole, metavar="N", help="cosine warm-up (default 1)")
    p.add_argument("--weight-decay", type=_real, metavar="X", help="default 0")
    p.add_argument("--label-smoothing", type=_real, metavar="X", help="default 0")
    p.add_argument("--seed", type=_whole, metavar="N", help="default 0; same seed, same run")
    p.add_argument("--early-stopping", type=positive_int, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a better validation loss")
    p.add_argument("--class-weights", metavar="balanced", help="weigh classes by 1/frequency")
    p.add_argument("--augment", metavar="LIST", help="flip,crop,rotate or none (training data only; default rotate)")
    p.add_argument("--precision", metavar="NAME", help="auto (default), float32, "
                   "mixed_float16 or mixed_bfloat16")
    p.add_argument("--strategy", metavar="NAME", help="auto (default), none or mirrored")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/NAME-TIME)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last completed epoch")
    p.add_argument("--init-from", metavar="RUN|WEIGHTS",
                   help="start from a run's model.keras or a .keras/.weights.h5 file")
    p.add_argument("--freeze", metavar="PATH_PREFIX|N",
                   help="freeze layers under a blueprint path, or the first N weighted layers")
    p.add_argument("--unfreeze-after", type=positive_int, metavar="EPOCHS",
                   help="unfreeze everything after this many epochs")
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


OPTION_NAMES = ("data", "epochs", "batch_size", "optimizer", "learning_rate", "momentum",
                "schedule", "warmup_epochs", "weight_decay", "label_smoothing", "seed",
                "early_stopping", "class_weights", "precision", "strategy", "init_from",
                "freeze", "unfreeze_after", "data_dir")


def options_from(args):
    """TrainOptions from the parsed arguments; unset ones keep their defaults."""
    from ..training.options import TrainOptions, parse_augment

    given = {name: getattr(args, name) for name in OPTION_NAMES
             if getattr(args, name) is not None}
    if args.augment is not None:
        given["augment"] = parse_augment(args.augment)
    given["download"] = args.download
    return TrainOptions(**given)


def run_train(args):
    from ..errors import ArgumentError

    if args.resume:
        extra = [n for n in OPTION_NAMES if n != "epochs" and getattr(args, n) is not None]
        extra += [n for n in ("input_shape", "classes", "augment") if getattr(args, n) is not None]
        if extra:
            raise ArgumentError(f"--resume continues a run with its own options; only "
                                f"--epochs may change (got --{extra[0].replace('_', '-')})")
    elif args.spec is None:
        raise ArgumentError("train needs SPEC (a registered name, FILE.py[:NAME] or FILE.json)")
    options = options_from(args).checked()
    from ..training import train

    train(args.spec, options, out=args.out, resume=args.resume, input_shape=args.input_shape,
          classes=args.classes, epochs=args.epochs if args.resume else None)
    return 0


def run_evaluate(args):
    import json

    from ..training import evaluate_run

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
    import json

    from ..training import predict_files

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
