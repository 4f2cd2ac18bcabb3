"""Architecture diagrams: the block rows of a report as a Graphviz DOT graph."""

from __future__ import annotations

import html
import shutil
import subprocess

from .analysis import Report
from .text import dims


def to_dot(report: Report, depth: int = 1) -> str:
    """DOT text: one box per block row at ``depth`` (kind, output shape, params), edges
    where data flows between them."""
    rows = [r for r in report.blocks(depth) if r.end > r.start]
    owner = {}
    for i, row in enumerate(rows):
        for n in range(row.start, row.end):
            owner[n] = i
    edges = []
    for n, node in enumerate(report.graph.nodes):
        for source in node.inputs:
            a, b = owner.get(report.graph.position(source)), owner.get(n)
            if a is not None and b is not None and a != b and (a, b) not in edges:
                edges.append((a, b))
    lines = [f'digraph "{report.name}" {{', "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];']
    for i, row in enumerate(rows):
        label = (f"<<b>{html.escape(row.path)}</b><br/>{html.escape(row.kind)}<br/>"
                 f"{dims(row.output_shape)}<br/>{row.params:,} params>")
        lines.append(f"  n{i} [label={label}];")
    for a, b in edges:
        lines.append(f"  n{a} -> n{b};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, path: str) -> str | None:
    """Render DOT to ``path`` (format from its extension) with Graphviz; returns None
    when Graphviz's ``dot`` program is not installed."""
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    if fmt == "dot":
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_text)
        return path
    exe = shutil.which("dot")
    if exe is None:
        return None
    subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot_text.encode(), check=True,
                   capture_output=True)
    return path
