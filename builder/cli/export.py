"""``export``: a trained run as SavedModel, .keras, ONNX or TFLite, verified after writing."""

from __future__ import annotations

from ..export import FORMATS, export
from . import add_set_option, parsed_sets, sets_named


def add(sub, common):
    p = sub.add_parser("export", parents=[common],
                       help="export a run (saved_model, keras, onnx, tflite), verified")
    p.add_argument("run_dir", metavar="RUN", help="a run directory written by 'builder train'")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, metavar="PATH",
                   help="the export to write (a directory for saved_model; .keras, .onnx, .tflite files)")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    add_set_option(p, help="; the run's blueprint is edited and given the trained weights, "
                           "so only edits that keep every weight's shape are taken (a "
                           "dropout rate, an activation)")
    p.set_defaults(run=run)


def run(args):
    edits = parsed_sets(args.sets)
    with sets_named(args.sets):
        results = export(args.run_dir, args.format, args.out, force=args.force, edits=edits)
    edited = f" (edited: {', '.join(args.sets)})" if args.sets else ""
    print(f"wrote {args.format} export to {args.out}{edited}")
    print(f"verified against the run's{' edited' if edited else ''} Keras model (float32) "
          f"on the same images:")
    for label, diff in results:
        print(f"  {label}: max |difference| {diff:.2e}")
    return 0
