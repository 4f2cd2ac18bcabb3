"""Inference latency and throughput of the exported SavedModel against the Keras model.

    python benchmarks/inference.py [--names mobilenet_v2,resnet50] [--repeat 20]

Each network is built untrained (the weights do not change the speed), saved as a run,
exported with ``builder export --format saved_model`` (preprocessing inside: resize and
scale), reloaded with ``tf.saved_model.load`` and timed against the Keras model's compiled
``predict_on_batch`` on the same float32 images, at batch 1 (latency) and batch 32
(throughput), interleaved; medians.
"""

import argparse
import json
import os
import tempfile

import common


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="mobilenet_v2,resnet50")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    import builder
    from builder.export import export

    rows = []
    for name in args.names.split(","):
        keras.backend.clear_session()
        bp = builder.load(name)
        model = builder.build(bp)
        with tempfile.TemporaryDirectory() as tmp:
            run = os.path.join(tmp, "run")
            os.mkdir(run)
            model.save(os.path.join(run, "model.keras"))
            with open(os.path.join(run, "blueprint.json"), "w") as f:
                f.write(bp.to_json())
            with open(os.path.join(run, "config.json"), "w") as f:
                json.dump({}, f)
            out = os.path.join(tmp, "saved_model")
            export(run, "saved_model", out)
            serving = tf.saved_model.load(out).signatures["serving_float"]
            for batch in (1, 32):
                x = np.random.default_rng(0).random((batch,) + bp.input_shape).astype("float32")
                tx = tf.constant(x)
                keras_fn = lambda: model.predict_on_batch(x)  # noqa: E731
                saved_fn = lambda: serving(images=tx)  # noqa: E731
                keras_fn(), saved_fn()  # warm-up (tracing)
                repeat = args.repeat if batch == 1 else max(3, args.repeat // 4)
                t = common.interleaved({"keras": keras_fn, "saved": saved_fn}, repeat)
                rows.append([name, batch, f"{t['keras'] * 1e3:.1f}", f"{t['saved'] * 1e3:.1f}",
                             f"{batch / t['keras']:.1f}", f"{batch / t['saved']:.1f}",
                             f"{t['keras'] / t['saved']:.2f}"])
                print(rows[-1], flush=True)
    header = ["blueprint", "batch", "Keras ms", "SavedModel ms", "Keras img/s",
              "SavedModel img/s", "SavedModel speed / Keras"]
    common.print_table("Exported SavedModel against the Keras model", header, rows)
    common.write_section("inference", "Inference: exported SavedModel against the Keras model",
                         common.table(header, rows))


if __name__ == "__main__":
    main()
