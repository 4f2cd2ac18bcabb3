"""``profile``: measured time per block on this machine, beside its MACs."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from ..ops import fused_batch_norm
from ..profiling import profile
from ..text import dims, human
from . import add_spec_options, load_spec, positive_int

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def add(sub, common):
    p = sub.add_parser(
        "profile", parents=[common],
        help="measured forward and train time per block on this machine, with GFLOP/s",
        description="Time every block row (as summary prints them at --depth) and the whole "
                    "model on this machine's device. Each row runs as a Keras model of its "
                    "own, fed random tensors of its inputs' shapes and dtypes and compiled "
                    "once; 'forward' is the inference call, 'train' the training call with "
                    "the gradients for its weights and inputs (no optimizer update). Each "
                    "is timed as N calls in a row with one synchronization at the end, "
                    "divided by N; rows and the whole model take turns over --repeats "
                    "rounds, and the figures are medians. GFLOP/s count 2 FLOPs per "
                    "multiply-add, 3x that for a train step. See docs/workbench.md.")
    add_spec_options(p)
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="N",
                   help="examples per step (default 32)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="the Keras dtype policy to build the model under")
    p.add_argument("--depth", type=positive_int, default=1, metavar="N",
                   help="how deep the block rows go (1 = top-level blocks)")
    p.add_argument("--repeats", type=positive_int, default=5, metavar="N",
                   help="rounds of timing; the figures are medians (default 5)")
    p.add_argument("--by-kind", action="store_true",
                   help="also sum the rows by kind (with a --depth that reaches the layers: "
                        "time by op kind)")
    p.add_argument("--fused-batch-norm", action="store_true",
                   help="build batch norms as FusedBatchNorm, as 'train --precision auto' "
                        "does on a CPU")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(run=run)


def run(args):
    bp = load_spec(args)
    say = (lambda text: print(f"profile: {text}", file=sys.stderr, flush=True))
    with fused_batch_norm(args.fused_batch_norm):
        result = profile(bp, batch_size=args.batch_size, precision=args.precision,
                         depth=args.depth, repeats=args.repeats, say=say)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print_profile(result)
    if args.by_kind:
        print_kinds(result)
    return 0


def print_kinds(result) -> None:
    table = Table(title="by kind")
    for column in ("kind", "rows", "MACs", "forward ms", "train ms", "share"):
        table.add_column(column, justify="left" if column == "kind" else "right", no_wrap=True)
    for group in result.by_kind():
        table.add_row(group["kind"], str(group["rows"]), human(group["macs"]),
                      f"{group['forward_ms']:.2f}", f"{group['train_ms']:.2f}",
                      f"{group['train_share']:.1%}")
    Console(width=max(Console().width, 100), highlight=False).print(table)


def print_profile(result) -> None:
    batch, whole = result.batch_size, result.whole
    rows_forward = sum(r.forward for r in result.rows)
    rows_train = sum(r.train for r in result.rows)
    table = Table(title=f"{result.name}: batch {batch}, {result.precision}, {result.device} "
                        f"({result.backend})", show_footer=True)
    table.add_column("path", footer="blocks' sum", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column("MACs", justify="right", footer=human(whole.macs), no_wrap=True)
    table.add_column("forward ms", justify="right", footer=f"{rows_forward * 1e3:.2f}",
                     no_wrap=True)
    table.add_column("GFLOP/s", justify="right", no_wrap=True)
    table.add_column("train ms", justify="right", footer=f"{rows_train * 1e3:.2f}",
                     no_wrap=True)
    table.add_column("GFLOP/s", justify="right", no_wrap=True)
    table.add_column("share", justify="right", footer="100%", no_wrap=True)
    for r in result.rows:
        share = r.train / rows_train if rows_train else 0.0
        table.add_row(r.path, r.kind, dims(r.output_shape), human(r.macs),
                      f"{r.forward * 1e3:.2f}", f"{r.gflops(batch):.1f}",
                      f"{r.train * 1e3:.2f}", f"{r.gflops(batch, train=True):.1f}",
                      f"{share:.1%}")
    console = Console(width=max(Console().width, 140), highlight=False)
    console.print(table)
    coverage = result.coverage
    console.print(
        f"whole model: forward {whole.forward * 1e3:.2f} ms ({whole.gflops(batch):.1f} GFLOP/s, "
        f"{batch / whole.forward:.0f} examples/s), train step {whole.train * 1e3:.2f} ms "
        f"({whole.gflops(batch, train=True):.1f} GFLOP/s, {batch / whole.train:.0f} "
        f"examples/s)\nthe blocks add up to {coverage['forward']:.0%} of the whole forward "
        f"and {coverage['train']:.0%} of the whole train step (medians of {result.repeats} "
        f"rounds); a call by itself takes {result.call_overhead * 1e3:.2f} ms here, which "
        f"every row's time includes")
