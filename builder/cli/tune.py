"""``tune``: search a blueprint's markers with keras-tuner (see docs/tuning.md)."""

from __future__ import annotations

import argparse

from tuning.distributed import TRIAL_TIMEOUT, configure
from tuning.space import load_training, parse_hp_option
from tuning.sweep import Settings, check_objective, run_sweep

from ..errors import ArgumentError
from . import add_spec_options, load_spec, positive_int, whole

TUNERS = ("random", "grid", "bayesian", "hyperband")


def count(text: str) -> int:
    """A budget such as 250000, 2.5e6 or 3M."""
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(text[-1:].lower(), 1)
    number = text[:-1] if scale != 1 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count like 250000, 2.5e6 or 3M") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return int(value)


def milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def add(sub, common):
    p = sub.add_parser("tune", parents=[common],
                       help="search a blueprint's markers with keras-tuner")
    add_spec_options(p)
    p.add_argument("--tuner", choices=TUNERS, default="random", help="the search algorithm")
    p.add_argument("--max-trials", type=whole, default=10, metavar="N",
                   help="candidates to train (rejected ones do not count)")
    p.add_argument("--objective", default="val_accuracy", help="the metric to optimize")
    p.add_argument("--epochs", type=positive_int, default=2, metavar="N",
                   help="epochs per trial (Hyperband: the most epochs of a trial)")
    p.add_argument("--max-params", type=count, metavar="N", help="reject larger candidates")
    p.add_argument("--max-macs", type=count, metavar="N", help="reject candidates with more MACs")
    p.add_argument("--max-latency-ms", type=milliseconds, metavar="MS",
                   help="reject candidates whose inference of one example (batch size 1) "
                        "takes longer on this machine: measured once per candidate that "
                        "meets the other budgets, before it trains")
    p.add_argument("--data", default="digits", help="digits, synthetic, folder:PATH, npz:PATH ...")
    p.add_argument("--out", default="tune_out", metavar="DIR",
                   help="results; a sweep already there is resumed")
    p.add_argument("--hp", action="append", default=[], metavar="NAME=SPEC",
                   help="a training hyperparameter: learning_rate=1e-4..1e-2:log, "
                        "optimizer=adam,sgd, batch_size=16,32, dropout=0..0.5 (repeatable)")
    p.add_argument("--retrain-best", action="store_true",
                   help="train the best candidate again for the full epochs and test it")
    p.add_argument("--seed", type=whole, default=0, help="seed of the search and the data split")
    p.add_argument("--max-rejected", type=positive_int, default=20, metavar="N",
                   help="stop after N candidates in a row break the budget")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--chief", metavar="HOST:PORT", help="run the oracle of a distributed sweep")
    role.add_argument("--worker", metavar="HOST:PORT", help="run trials for the chief at HOST:PORT")
    p.add_argument("--trial-timeout", type=positive_int, default=TRIAL_TIMEOUT, metavar="SECONDS",
                   help="chief: a trial whose worker stops reporting for this long goes to "
                        "another worker (then fails) (default %(default)s)")
    p.set_defaults(run=run_tune)


def run_tune(args):
    if args.max_trials < 1:
        raise ArgumentError(f"`max_trials` must be at least 1, got {args.max_trials}",
                            arguments=("max_trials",))
    role = configure(args.chief, args.worker)  # before keras-tuner is imported
    check_objective(args.objective)
    overrides = dict(parse_hp_option(text) for text in args.hp)
    space = load_spec(args)
    training = load_training(args.spec, overrides)
    settings = Settings(spec=args.spec, tuner=args.tuner, max_trials=args.max_trials,
                        objective=args.objective, epochs=args.epochs,
                        max_params=args.max_params, max_macs=args.max_macs, data=args.data,
                        out=args.out, retrain_best=args.retrain_best, seed=args.seed,
                        max_rejected=args.max_rejected, role=role,
                        max_latency_ms=args.max_latency_ms, sets=tuple(args.sets) or None,
                        trial_timeout=args.trial_timeout)
    run_sweep(settings, space, training)
    return 0
