"""The block table of an analysis report, as ``builder summary`` prints it (rich)."""

from __future__ import annotations

import contextlib
import io

from rich.console import Console
from rich.table import Table

from .text import dims, human


def print_report(report, depth: int = 1, notes: str = "") -> None:
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


def summary_text(report) -> str:
    """The block table at depth 1, as plain text (a run's summary.txt)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_report(report, depth=1)
    return buffer.getvalue()
