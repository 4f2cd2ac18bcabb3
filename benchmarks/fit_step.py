"""One network trained through ``fit`` in this process: the median CPU seconds and seconds
per step, to compare settings that only take effect at start-up (environment variables
such as ``ONEDNN_DEFAULT_FPMATH_MODE`` or ``TF_ENABLE_ONEDNN_OPTS``) by running it under
each in turns.

    [VAR=VALUE] python benchmarks/fit_step.py [--policy float32] [--name resnet50]
        [--size 64] [--batch-size 16] [--steps 4] [--repeat 4]

After a warm-up epoch, ``--repeat`` epochs of ``--steps`` steps; prints one line with the
policy, the oneDNN and TensorFlow variables set, and the two medians.
"""

import argparse
import os
import statistics
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="float32")
    parser.add_argument("--name", default="resnet50")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    import builder

    keras.config.set_dtype_policy(args.policy)
    rng = np.random.default_rng(0)
    n, size = args.batch_size * 4, args.size
    x = rng.random((n, size, size, 3), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).cache().repeat()
    model = builder.build(builder.load(args.name, input_shape=(size, size, 3), classes=10))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
    wall, cpu = [], []
    for _ in range(args.repeat):
        start, used = time.perf_counter(), time.process_time()
        model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
        wall.append((time.perf_counter() - start) / args.steps)
        cpu.append((time.process_time() - used) / args.steps)
    settings = {k: v for k, v in os.environ.items() if k.startswith(("ONEDNN", "TF_ENABLE"))}
    print(f"{args.name} {size}x{size} {args.policy} {settings or 'defaults'}: CPU s per step "
          f"{statistics.median(cpu):.4f}, s per step {statistics.median(wall):.4f}", flush=True)


if __name__ == "__main__":
    main()
