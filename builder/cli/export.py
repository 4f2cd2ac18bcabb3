"""``export``: a trained run as SavedModel, .keras, ONNX or TFLite, verified after writing."""

from __future__ import annotations

from ..export import FORMATS, export


def add(sub, common):
    p = sub.add_parser("export", parents=[common],
                       help="export a run (saved_model, keras, onnx, tflite), verified")
    p.add_argument("run_dir", metavar="RUN", help="a run directory written by 'builder train'")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, metavar="PATH",
                   help="the export to write (a directory for saved_model; .keras, .onnx, .tflite files)")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    p.set_defaults(run=run)


def run(args):
    results = export(args.run_dir, args.format, args.out, force=args.force)
    print(f"wrote {args.format} export to {args.out}")
    print("verified against the run's Keras model (float32) on the same images:")
    for label, diff in results:
        print(f"  {label}: max |difference| {diff:.2e}")
    return 0
