"""``plot``: draw a blueprint's architecture with shapes."""

from __future__ import annotations

import os

from ..analysis import analyze
from ..diagram import render, to_dot
from ..errors import ArgumentError
from . import add_spec_options, load_spec, positive_int

FORMATS = ("png", "svg", "pdf", "dot")


def add(sub, common):
    p = sub.add_parser("plot", parents=[common], help="draw the architecture with shapes")
    add_spec_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help=f"the picture to write ({', '.join(FORMATS)}, by extension)")
    p.add_argument("--depth", type=positive_int, default=1, metavar="N",
                   help="how deep the boxes go (1 = top-level blocks)")
    p.set_defaults(run=run, needs_backend=False)


def run(args):
    ext = args.output.rsplit(".", 1)[-1].lower() if "." in os.path.basename(args.output) else ""
    if ext not in FORMATS:
        raise ArgumentError(f"--output {args.output!r}: use a file ending in "
                            + ", ".join("." + f for f in FORMATS))
    if os.path.isdir(args.output):
        raise ArgumentError(f"--output {args.output!r} is a folder: name the picture's file")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ArgumentError(f"--output {args.output!r}: cannot write in {folder}")
    dot = to_dot(analyze(load_spec(args)), args.depth)
    tmp = os.path.join(folder, f".{os.path.basename(args.output)}.tmp.{ext}")
    try:
        written = render(dot, tmp)
        if written is None:
            fallback = os.path.splitext(args.output)[0] + ".dot"
            with open(fallback, "w", encoding="utf-8") as f:
                f.write(dot)
            print(f"Graphviz's 'dot' program is not installed (apt-get install graphviz, or "
                  f"brew install graphviz), so no {ext.upper()} was drawn; wrote the DOT text "
                  f"to {fallback}:\n")
            print(dot, end="")
            return 0
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.output}")
    return 0
