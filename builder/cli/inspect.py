"""``list`` and ``summary``: what is registered, and what a blueprint is made of."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from .. import registry
from ..analysis import analyze
from ..summary import print_report
from ..text import human
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


def run_list(args):
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
    # One line per blueprint even when the output is not a terminal (80 columns then).
    Console(width=max(Console().width, 140)).print(_family_table(rows))
    return 0


def _family_table(rows):
    """The rows grouped by family (in alphabetical order), each family from its smallest
    to its largest network, a rule between families, the family named on its first row."""
    rows = sorted(rows, key=lambda row: (row["family"], row["total_params"], row["name"]))
    families = len({row["family"] for row in rows})
    table = Table(title=f"{len(rows)} registered blueprints in {families} families")
    cells = [[row["family"], row["name"], "x".join(map(str, row["input_shape"])),
              f"{row['total_params']:,}", human(row["macs"]), row["reference"]] for row in rows]
    for i, (col, justify) in enumerate((("family", "left"), ("name", "left"), ("input", "left"),
                                        ("params", "right"), ("MACs", "right"))):
        width = max([len(col)] + [len(c[i]) for c in cells])
        table.add_column(col, justify=justify, no_wrap=True, min_width=width)
    # the reference takes what room is left, on one line
    table.add_column("reference", no_wrap=True, overflow="ellipsis", max_width=60)
    for i, c in enumerate(cells):
        first = i == 0 or cells[i - 1][0] != c[0]
        last = i == len(cells) - 1 or cells[i + 1][0] != c[0]
        table.add_row(c[0] if first else "", *c[1:], end_section=last)
    return table


def run_summary(args):
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
