"""Epoch time of a job of N processes against one process, on this machine (JAX, CPU).

    python benchmarks/processes.py [--processes 2] [--epochs 4] [--batch-size 64]

Runs ``builder train lenet5 --data digits`` once as one process and once as a job of N
processes on 127.0.0.1 (same global batch, float32, no augmentation), and reads the
seconds of each epoch from Keras's progress lines (``20/20 - 8s - 398ms/step``). The
first epoch (compilation) is left out of the median. Prints one table row per setup.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^\s*(\d+)/\1 - (\d+)s - (\d+)(ms|s)/step", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job(processes: int, epochs: int, batch: int, folder: Path) -> tuple[list[float], float]:
    """(seconds per step of each epoch, wall seconds) of one job."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "builder", "train", "lenet5", "--epochs", str(epochs),
               "--batch-size", str(batch), "--precision", "float32", "--augment", "none",
               "--out", str(folder / f"p{processes}")]
    port = free_port()
    start = time.perf_counter()
    procs = [subprocess.Popen(command + ([] if processes == 1 else [
        "--processes", str(processes), "--process-id", str(i),
        "--coordinator", f"127.0.0.1:{port}"]), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True) for i in range(processes)]
    outputs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - start
    if any(p.returncode for p in procs):
        raise SystemExit(f"{processes} process(es) failed:\n{outputs[0][-2000:]}")
    steps = [int(a) / 1000 if unit == "ms" else float(a)
             for _, _, a, unit in STEP.findall(outputs[0])]
    return steps, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    print("| processes | global batch | batch per process | steps/epoch | median s/step "
          "(epochs 2+) | median s/epoch | wall s (incl. start-up) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for n in (1, args.processes):
            steps, wall = job(n, args.epochs, args.batch_size, Path(folder))
            per_step = statistics.median(steps[1:])
            count = -(-1258 // args.batch_size)  # digits: 1258 training examples
            print(f"| {n} | {args.batch_size} | {args.batch_size // n} | {count} | "
                  f"{per_step:.3f} | {per_step * count:.1f} | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
