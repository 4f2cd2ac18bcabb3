"""``diff``: what differs between two blueprints, field by field and block by block."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..compare import compare
from ..text import dims, human
from . import add_spec_options, apply_sets, load_spec, positive_int


def add(sub, common):
    p = sub.add_parser(
        "diff", parents=[common],
        help="the fields that differ between two blueprints, and their blocks side by side",
        description="Compare blueprint A with B (default: A again, so that "
                    "'diff A --set-b PATH=VALUE' shows what an edit changes). --input-shape, "
                    "--classes and --set apply to both sides; --set-a and --set-b to one.")
    p.add_argument("a", metavar="A", help="a registered name, FILE.py[:NAME] or FILE.json")
    p.add_argument("b", metavar="B", nargs="?", help="the same kinds of spec (default: A)")
    add_spec_options(p, spec=False)
    p.add_argument("--set-a", dest="sets_a", action="append", default=[], metavar="PATH=VALUE",
                   help="an edit of A only (repeatable)")
    p.add_argument("--set-b", dest="sets_b", action="append", default=[], metavar="PATH=VALUE",
                   help="an edit of B only (repeatable)")
    p.add_argument("--depth", type=positive_int, default=1, metavar="N",
                   help="how deep the block rows go (1 = top-level blocks)")
    p.add_argument("--json", action="store_true",
                   help="print JSON: {a, b, depth, changes, blocks, params_change, macs_change}")
    p.set_defaults(run=run, needs_backend=False)


def run(args):
    a = apply_sets(load_spec(args, args.a), args.sets_a, "--set-a")
    b = apply_sets(load_spec(args, args.b or args.a), args.sets_b, "--set-b")
    result = compare(a, b, args.depth)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print_comparison(result, _title(args.a, args.sets, args.sets_a, "a"),
                     _title(args.b or args.a, args.sets, args.sets_b, "b"))
    return 0


def _title(spec, common, own, side) -> str:
    return " ".join([spec] + [f"--set {s}" for s in common] + [f"--set-{side} {s}" for s in own])


def print_comparison(result, title_a: str, title_b: str) -> None:
    console = Console(width=max(Console().width, 160), highlight=False)
    console.print(f"A: {escape(title_a)}\nB: {escape(title_b)}")
    if not result.changes:
        console.print("no fields differ")
    else:
        console.print(f"{len(result.changes)} difference(s), as edits of A:")
    for change in result.changes:
        console.print("  " + escape(_change_text(change)))
    console.print(_table(result))


def _change_text(change) -> str:
    if change.field is None:
        if change.a is None:
            return f"+ {change.path} ({change.b}, only in B)"
        if change.b is None:
            return f"- {change.path} ({change.a}, only in A)"
        return f"{change.path}: {change.a} -> {change.b}"
    return f"{change.key}: {_short(change.a)} -> {_short(change.b)}"


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _signed(number: int, text) -> str:
    if not number:
        return ""
    return ("+" if number > 0 else "") + text(number)


def _table(result):
    a, b = result.a, result.b
    table = Table(title=f"blocks at depth {result.depth}", show_footer=True)
    table.add_column("path", footer="total", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("output", no_wrap=True, footer=_pair(dims(a.output_shape),
                                                          dims(b.output_shape)))
    for title, total_a, total_b, text in (("params", a.total_params, b.total_params, _commas),
                                          ("MACs", a.macs, b.macs, human)):
        table.add_column(f"{title} A", justify="right", no_wrap=True, footer=text(total_a))
        table.add_column(f"{title} B", justify="right", no_wrap=True, footer=text(total_b))
        table.add_column("change", justify="right", no_wrap=True,
                         footer=_signed(total_b - total_a, text))
    for row in result.rows:
        cells = [row.path, _pair(*(r.kind if r else "" for r in (row.a, row.b))),
                 _pair(*(dims(r.output_shape) if r else "" for r in (row.a, row.b)))]
        for field, text, change in (("params", _commas, row.params_change),
                                    ("macs", human, row.macs_change)):
            cells += [text(getattr(r, field)) if r else "-" for r in (row.a, row.b)]
            cells.append(_signed(change, text))
        table.add_row(*cells, style=None if row.a and row.b and not (
            row.params_change or row.macs_change or row.a.kind != row.b.kind) else "bold")
    return table


def _commas(number: int) -> str:
    return f"{number:,}"


def _pair(a: str, b: str) -> str:
    """One value when both sides agree, else ``a -> b`` (``-`` for a missing side)."""
    return a if a == b else f"{a or '-'} -> {b or '-'}"
