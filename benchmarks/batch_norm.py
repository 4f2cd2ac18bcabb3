"""builder's network trained through ``fit`` with Keras's BatchNormalization against the
same network with builder's FusedBatchNorm (what ``train --precision auto`` builds on a
CPU), paired in one process.

    python benchmarks/batch_norm.py [--name resnet50] [--size 64] [--batch-size 16]
        [--policies float32,mixed_bfloat16] [--steps 4] [--repeat 8]

For each policy both models are built and compiled, trained a warm-up epoch each, then
``--repeat`` epochs of ``--steps`` steps in turns; each epoch's seconds and the CPU seconds
of the process are recorded. The table gives the medians per step and the ratio Keras
over fused (above 1: the fused batch norm is faster), with the range of the pairs' ratios:
on a machine shared with other work the CPU seconds are the steadier figure.
"""

import argparse
import statistics
import time

import common


def measure(name, size, policy, batch, steps, repeat, classes=10):
    import keras
    import numpy as np
    import tensorflow as tf

    import builder
    from builder.ops import fused_batch_norm

    keras.config.set_dtype_policy(policy)
    rng = np.random.default_rng(0)
    x = rng.random((batch * 4, size, size, 3), dtype=np.float32)
    y = rng.integers(0, classes, batch * 4).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache().repeat()
    bp = builder.load(name, input_shape=(size, size, 3), classes=classes)
    models = {}
    for kind in ("keras", "fused"):
        with fused_batch_norm(kind == "fused"):
            models[kind] = builder.build(bp)
        models[kind].compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                             loss="sparse_categorical_crossentropy")
    keras.config.set_dtype_policy("float32")
    for model in models.values():
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    wall, cpu = {k: [] for k in models}, {k: [] for k in models}
    for _ in range(repeat):
        for kind, model in models.items():
            start, used = time.perf_counter(), time.process_time()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
            wall[kind].append((time.perf_counter() - start) / steps)
            cpu[kind].append((time.process_time() - used) / steps)
    return wall, cpu


def row(label, figures):
    ratios = [a / b for a, b in zip(figures["keras"], figures["fused"])]
    keras_s, fused_s = (statistics.median(figures[k]) for k in ("keras", "fused"))
    return [label, f"{keras_s:.3f}", f"{fused_s:.3f}", f"{keras_s / fused_s:.2f}",
            f"{min(ratios):.2f}-{max(ratios):.2f}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="resnet50")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    rows = []
    for policy in args.policies.split(","):
        wall, cpu = measure(args.name, args.size, policy, args.batch_size, args.steps,
                            args.repeat)
        rows.append(row(f"{policy}, CPU s per step", cpu))
        rows.append(row(f"{policy}, s per step", wall))
        print(rows[-2], rows[-1], flush=True)
    header = ["figure", "Keras BatchNormalization", "FusedBatchNorm", "Keras / fused",
              "pairs' range"]
    common.print_table("Keras's batch norm against the fused one", header, rows)
    common.write_section(
        "batch-norm", f"{args.name} training with Keras's batch norm against FusedBatchNorm",
        common.table(header, rows) + f"\n\n{args.name} at {args.size}x{args.size}, batch "
        f"{args.batch_size}, through fit: {args.repeat} pairs of {args.steps}-step epochs in "
        f"one process, after a warm-up epoch each; medians.")


if __name__ == "__main__":
    main()
