"""``list`` and ``summary``: what is registered, and what a blueprint is made of."""

from __future__ import annotations

import json

from . import add_spec_options, load_spec, positive_int


def add(sub, common):
    p = sub.add_parser("list", parents=[common], help="registered blueprints with params and MACs")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run_list, needs_backend=False)

    p = sub.add_parser("summary", parents=[common],
                       help="a table of blocks (path, kind, output shape, params, MACs)")
    add_spec_options(p)
    p.add_argument("--depth", type=positive_int, default=1, metavar="N",
                   help="how deep the block rows go (1 = top-level blocks)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_summary, needs_backend=False)


def human(n: int) -> str:
    """12345678 -> '12.35M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def dims(shape) -> str:
    """(28, 28, 256) -> '28x28x256', as the papers print output sizes."""
    return "x".join("?" if d is None else str(d) for d in shape)


def fmt_shape(shape) -> str:
    dims = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def run_list(args):
    from rich.console import Console
    from rich.table import Table

    from .. import analyze, registry

    rows = []
    for entry in registry.entries():
        bp = entry.create()
        r = analyze(bp)
        rows.append({"name": entry.name, "family": entry.family,
                     "input_shape": list(r.input_shape), "total_params": r.total_params,
                     "macs": r.macs, "reference": entry.reference})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{len(rows)} registered blueprints")
    cells = [[row["name"], row["family"], "x".join(map(str, row["input_shape"])),
              f"{row['total_params']:,}", human(row["macs"]), row["reference"]] for row in rows]
    for i, (col, justify) in enumerate((("name", "left"), ("family", "left"), ("input", "left"),
                                        ("params", "right"), ("MACs", "right"))):
        width = max([len(col)] + [len(c[i]) for c in cells])
        table.add_column(col, justify=justify, no_wrap=True, min_width=width)
    # the reference takes what room is left, on one line
    table.add_column("reference", no_wrap=True, overflow="ellipsis", max_width=60)
    for c in cells:
        table.add_row(*c)
    # One line per blueprint even when the output is not a terminal (80 columns then).
    Console(width=max(Console().width, 140)).print(table)
    return 0


def run_summary(args):
    from .. import analyze, registry

    bp = load_spec(args)
    report = analyze(bp)
    if args.json:
        print(json.dumps(report.to_dict(args.depth), indent=2))
        return 0
    notes = ""
    if args.spec in registry.names():
        notes = registry.get(args.spec).notes
    print_report(report, args.depth, notes)
    return 0


def print_report(report, depth: int = 1, notes: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    rows = report.blocks(depth)
    # Blocks may add columns of their own (an Inception module: #1x1, #3x3 reduce ...).
    extra = {}
    for row in rows:
        columns = getattr(row.blueprint, "summary_columns", None)
        if callable(columns):
            for key, value in columns().items():
                extra.setdefault(key, {})[row.path] = value
    table = Table(title=f"{report.name}: input {dims(report.input_shape)}", show_footer=True)
    table.add_column("path", footer="total", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("output", footer=dims(report.output_shape), no_wrap=True)
    for key in extra:
        table.add_column(key, justify="right", no_wrap=True)
    table.add_column("params", justify="right", footer=f"{report.total_params:,}", no_wrap=True)
    table.add_column("MACs", justify="right", footer=human(report.macs), no_wrap=True)
    for row in rows:
        cells = [row.path, row.kind, dims(row.output_shape)]
        cells += [str(extra[k].get(row.path, "")) for k in extra]
        cells += [f"{row.params:,}", human(row.macs)]
        table.add_row(*cells)
    # Whole rows even when the output is not a terminal (80 columns then).
    console = Console(width=max(Console().width, 160))
    console.print(table)
    console.print(
        f"Total params: {report.total_params:,} (trainable {report.trainable_params:,}, "
        f"non-trainable {report.non_trainable_params:,})\n"
        f"Multiply-adds: {report.macs:,} ({human(report.macs)})\n"
        f"Activation memory: {report.activation_memory / 2**20:.2f} MiB per example (float32)",
        highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if notes:
        console.print(f"[cyan]note:[/cyan] {notes}", highlight=False)
