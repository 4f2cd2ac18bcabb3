"""GPU training throughput where only JAX (or PyTorch) is installed beside Keras.

    KERAS_BACKEND=jax python benchmarks/gpu.py [--names resnet50,efficientnet_b0]
        [--policies float32,mixed_float16,mixed_bfloat16] [--batch-size 64] [--steps 20]

(``bash benchmarks/gpu.sh`` sets the backend and installs Keras if needed.) Trains ours and
keras.applications side by side at 224x224 with XLA (``jit_compile=True``) on in-memory
random data, per precision policy, warm-up excluded, median of ``--repeat`` epochs. No
TensorFlow is imported.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import common  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="resnet50,efficientnet_b0")
    parser.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import keras
    import numpy as np

    import builder

    devices = keras.distribution.list_devices()
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    x = rng.random((n, args.size, args.size, 3), dtype=np.float32)
    y = rng.integers(0, 1000, n).astype("int32")

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    rows = []
    for name in args.names.split(","):
        for policy in args.policies.split(","):
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy(policy)
            shape = (args.size, args.size, 3)
            models = {"ours": builder.build(builder.load(name, input_shape=shape)),
                      "keras": common.keras_app(name, input_shape=shape)}
            ips = {}
            for key, model in models.items():
                model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                              loss="sparse_categorical_crossentropy", jit_compile=True)
                timer = Timer()
                timer.seconds = []
                model.fit(x, y, batch_size=args.batch_size, epochs=1 + args.repeat, verbose=0,
                          callbacks=[timer])
                ips[key] = n / statistics.median(timer.seconds[1:])  # first epoch: compile
            rows.append([name, policy, f"{ips['ours']:.0f}", f"{ips['keras']:.0f}",
                         f"{ips['ours'] / ips['keras']:.2f}"])
            print(rows[-1], flush=True)
            keras.mixed_precision.set_global_policy("float32")
    header = ["blueprint", "precision", "ours img/s", "keras img/s", "ratio"]
    common.print_table(f"GPU training throughput ({devices})", header, rows)
    from builder.training.precision import gpu_visible

    if not gpu_visible():
        print("No GPU visible: these figures are not written to BENCHMARKS.md.")
        return
    common.write_section("gpu", "GPU training throughput (JAX backend, XLA)",
                         f"Devices: {', '.join(map(str, devices))}; batch {args.batch_size}, "
                         f"{args.size}x{args.size}.\n\n" + common.table(header, rows))


if __name__ == "__main__":
    main()
