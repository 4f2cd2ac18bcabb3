"""Training throughput through ``fit``, ours against keras.applications, and the achieved
FLOP rate against this machine's measured matmul peak.

    python benchmarks/training.py [--names resnet50,mobilenet_v2,efficientnet_b0]
        [--sizes 64,224] [--policies float32,mixed_float16,mixed_bfloat16,auto]
        [--float16-sizes 64] [--batch-size 32] [--steps 8] [--repeat 3]
        [--torch-python PYTHON | --no-torch] [--section training]

Both models get the same in-memory tf.data pipeline, batch size, optimizer and loss. After
a warm-up epoch (excluded) the two models train one epoch of ``--steps`` steps in turns,
``--repeat`` times; the table reports the median images per second and the ratio. At
224x224 the steps are divided by 4 to keep the run to minutes on a small machine. On a CPU,
where float16 arithmetic is emulated (about 20x slower than float32), mixed_float16 is timed
only at ``--float16-sizes``, with a quarter of the steps and one timed epoch.

ResNet-50 has a third contender, trained in the same turns: a plain PyTorch ResNet-50
(``benchmarks/torch_resnet.py``: eager, channels_last, bfloat16 autocast for
mixed_bfloat16) in a worker process run by ``--torch-python`` (default: this Python, if
it has torch; ``pip install -e '.[bench]'``), under float32 and mixed_bfloat16. Its
columns are its images per second, ours over it, and the same ratio by the CPU seconds
each process used per image (on a machine shared with other work, the steadier figure).

Goals: ours at least 1.0x keras.applications (within noise) for the same network and
settings; ``auto`` (builder's measured precision choice, with its fused batch norm) at
least as fast as the best fixed policy within noise and never slower than float32.

Achieved FLOP rate = MACs (from builder's analysis) x 2 FLOPs x 3 (forward and backward)
x images per second, against the peak of a large matmul measured here in float32 and
bfloat16.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

import common

HERE = os.path.dirname(os.path.abspath(__file__))
#: The Keras policies the PyTorch peer trains under, and its dtype for each.
PEER_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16"}


def matmul_peak(dtype: str, n: int = 2048, repeat: int = 10) -> float:
    """FLOP/s of an n x n matmul in ``dtype`` (best of ``repeat``)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda x: tf.matmul(x, x))
    f(a).numpy()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def dataset(size: int, batch: int, classes: int):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((batch * 4, size, size, 3), dtype=np.float32)
    y = rng.integers(0, classes, batch * 4).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache().repeat().prefetch(2)


class Timer:
    def __init__(self):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.start, cb.cpu = time.perf_counter(), time.process_time()

            def on_epoch_end(cb, epoch, logs=None):
                self.last = (time.perf_counter() - cb.start, time.process_time() - cb.cpu)

        self.callback = Callback()
        self.last = None


def compile_model(model):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def resolve_policy(policy, name, size, classes, batch):
    """'auto' -> the policy ``builder train --precision auto`` would choose for this model:
    the same decision code, timing train_on_batch steps of this model on a batch of this
    size."""
    if policy != "auto":
        return policy, ""
    import numpy as np

    import builder
    from builder.training import precision

    bp = builder.load(name, input_shape=(size, size, 3), classes=classes)
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = rng.integers(0, classes, size=(batch,))

    def make_step(_policy):
        model = compile_model(builder.build(bp))
        return lambda: model.train_on_batch(x, y)

    decision = precision.decide("auto", make_step, batch, say=lambda line: None)
    return decision["policy"], decision.get("reason", "")


class TorchPeer:
    """The PyTorch ResNet-50 of ``torch_resnet.py``, training in a worker process (see
    there): it warms up while it starts; ``epoch()`` trains one timed epoch."""

    def __init__(self, python, size, batch, steps, dtype):
        # OpenMP threads spin while they wait by default: on a machine shared with other
        # work that made PyTorch up to 6x slower here; TensorFlow's thread pool does not spin.
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self.process = subprocess.Popen(
            [python, os.path.join(HERE, "torch_resnet.py"), "--size", str(size),
             "--batch-size", str(batch), "--steps", str(steps), "--dtype", dtype],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def _ask(self, command=None) -> str:
        if command:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the PyTorch worker ended (exit status {self.process.wait()})")
        return line.strip()

    def ready(self) -> None:
        if self._ask() != "ready":
            raise RuntimeError("the PyTorch worker did not start")

    def epoch(self) -> tuple[float, float]:
        wall, cpu = self._ask("epoch").split()
        return float(wall), float(cpu)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def measure(name, size, policy, batch, steps, repeat, classes=10, torch_python=None,
            fused=False):
    """Images per second of ours (``fused``: built with FusedBatchNorm, as ``train
    --precision auto`` builds on a CPU), keras.applications' and (``torch_python`` given)
    the PyTorch peer's model, timed in turns; and the network's MACs."""
    import keras

    import builder
    from builder.ops import fused_batch_norm

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    data = dataset(size, batch, classes)
    bp = builder.load(name, input_shape=(size, size, 3), classes=classes)
    peer = (TorchPeer(torch_python, size, batch, steps, PEER_DTYPES[policy])
            if torch_python and name == "resnet50" and policy in PEER_DTYPES else None)
    with fused_batch_norm(fused):
        ours = builder.build(bp)
    models = {"ours": compile_model(ours),
              "keras": compile_model(common.keras_app(name, input_shape=(size, size, 3),
                                                      classes=classes))}
    epochs = {key: fit_epoch(model, data, steps) for key, model in models.items()}
    for run in epochs.values():  # warm-up: tracing and compiling, excluded
        run()
    try:
        if peer:
            peer.ready()
            epochs["torch"] = peer.epoch
        seconds = {k: [] for k in epochs}
        for _ in range(repeat):
            for key, run in epochs.items():
                seconds[key].append(run())
    finally:
        if peer:
            peer.close()
    keras.mixed_precision.set_global_policy("float32")
    ips = {k: batch * steps / statistics.median(w for w, _ in v) for k, v in seconds.items()}
    cpu = {k: statistics.median(c for _, c in v) / (batch * steps) for k, v in seconds.items()}
    return ips, cpu, builder.analyze(bp).macs


def fit_epoch(model, data, steps):
    """A function that trains ``model`` one epoch through ``fit`` and returns its seconds
    and the CPU seconds of this process (from the epoch's start to its end, as Keras's
    callbacks see them)."""
    timer = Timer()

    def run() -> tuple[float, float]:
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer.callback])
        return timer.last

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="resnet50,mobilenet_v2,efficientnet_b0")
    parser.add_argument("--sizes", default="64,224")
    parser.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16,auto")
    parser.add_argument("--float16-sizes", default="64",
                        help="input sizes at which mixed_float16 is timed on a CPU (it is "
                             "emulated there, about 20x slower than float32)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--torch-python", metavar="PYTHON",
                        default=sys.executable if importlib.util.find_spec("torch") else None,
                        help="a Python with torch, to run the PyTorch ResNet-50 peer "
                             "(default: this one, if it has torch)")
    parser.add_argument("--no-torch", action="store_true", help="leave the PyTorch peer out")
    parser.add_argument("--section", default="training",
                        help="the section of BENCHMARKS.md to write (another name keeps the "
                             "full table when timing a few rows)")
    args = parser.parse_args()
    torch_python = None if args.no_torch else args.torch_python
    known = ("float32", "mixed_float16", "mixed_bfloat16", "auto")
    unknown = [p for p in args.policies.split(",") if p not in known]
    if unknown:
        parser.error(f"--policies: unknown {', '.join(unknown)}; choose from {', '.join(known)}")

    from builder.training.precision import gpu_visible

    gpu = gpu_visible()
    peaks = {d: matmul_peak(d) for d in ("float32", "bfloat16")}
    rows, notes = [], []
    for name in args.names.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            steps = max(2, args.steps // 4) if size >= 160 else args.steps
            best_fixed = {}
            for requested in args.policies.split(","):
                # float16 is emulated on a CPU (~20-100x slower): timed at --float16-sizes
                # only, with a quarter of the steps and one timed epoch (noise is small
                # beside such ratios); auto never chooses it there
                emulated = requested == "mixed_float16" and not gpu
                if emulated and str(size) not in args.float16_sizes.split(","):
                    notes.append(f"{name} {size}: mixed_float16 not timed on this CPU "
                                 f"(--float16-sizes {args.float16_sizes})")
                    continue
                policy, reason = resolve_policy(requested, name, size, 10, args.batch_size)
                ips, cpu, macs = measure(name, size, policy, args.batch_size,
                                    max(2, steps // 4) if emulated else steps,
                                    1 if emulated else args.repeat,
                                    torch_python=None if requested == "auto" else torch_python,
                                    fused=requested == "auto")
                peak = peaks["bfloat16" if "bfloat16" in policy else "float32"]
                flops = macs * 2 * 3 * ips["ours"]
                label = requested if requested == policy else f"{requested} -> {policy}"
                if requested == "auto":
                    label += ", fused BN"
                if requested != "auto":
                    best_fixed[requested] = ips["ours"]
                torch_ips = ips.get("torch")
                rows.append([name, f"{size}x{size}", label, f"{ips['ours']:.1f}",
                             f"{ips['keras']:.1f}", f"{ips['ours'] / ips['keras']:.2f}",
                             f"{torch_ips:.1f}" if torch_ips else "",
                             f"{ips['ours'] / torch_ips:.2f}" if torch_ips else "",
                             f"{cpu['torch'] / cpu['ours']:.2f}" if torch_ips else "",
                             f"{flops / 1e9:.1f}", f"{100 * flops / peak:.1f}%"])
                if requested == "auto" and best_fixed:
                    best = max(best_fixed.values())
                    notes.append(f"{name} {size}: auto ({policy}) {ips['ours']:.1f} img/s vs best "
                                 f"fixed {best:.1f} ({ips['ours'] / best:.2f}x), float32 "
                                 f"{best_fixed.get('float32', float('nan')):.1f}; auto's "
                                 f"reason: {reason}")
                print(rows[-1], flush=True)
    header = ["blueprint", "input", "precision", "ours img/s", "keras img/s", "ratio",
              "torch img/s", "ours/torch", "ours/torch by CPU time", "ours GFLOP/s",
              "of matmul peak"]
    if not torch_python:
        notes.append("PyTorch peer not run (no torch here: pip install -e '.[bench]', or "
                     "--torch-python PYTHON)")
    common.print_table("Training throughput (median of interleaved epochs)", header, rows)
    peak_line = (f"Matmul peak measured in this run (2048x2048): float32 "
                 f"{peaks['float32'] / 1e9:.0f} GFLOP/s, bfloat16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s. "
                 f"Batch {args.batch_size}, {args.steps} steps an epoch at 64x64 "
                 f"({max(2, args.steps // 4)} at 224x224), {args.repeat} timed epochs each; "
                 f"mixed_float16 on a CPU: a quarter of the steps, 1 timed epoch.")
    print(peak_line)
    for n in notes:
        print(n)
    title = "Training throughput against keras.applications" + (
        " and PyTorch" if torch_python else "")
    if args.section != "training":
        title += f" ({', '.join(args.names.split(','))}, {args.policies})"
    common.write_section(args.section, title,
                         common.table(header, rows) + "\n\n" + peak_line + "\n\n"
                         + "\n".join(f"- {n}" for n in notes))


if __name__ == "__main__":
    main()
