"""The streaming input pipeline: images per second against keras's own, and the peak
memory of ``builder train`` as the folder grows.

    python benchmarks/data.py [--images 2000] [--size 224] [--batch-size 64] [--repeat 3]
        [--train-images 3000,30000] [--train-size 224] [--cache none] [--folder DIR]

1. Throughput: one generated folder of JPEGs (400x320, ``--images`` of them). Ours is
   the training pipeline of ``load_data("folder:...")`` (decode, resize to ``--size``,
   flip; nothing cached); keras's is ``keras.utils.image_dataset_from_directory`` with
   the same decode and resize and an equivalent map (scale to [0, 1], RandomFlip),
   prefetched; both again without the flip (decode and resize alone). One epoch each,
   in turns, ``--repeat`` times; the table reports the median images per second and
   the ratio. Goal: ours at least 1.0x.
2. Memory: ``python -m builder train`` for one epoch of a small blueprint at
   ``--train-size`` on folders of each of ``--train-images`` JPEGs (400x320), with
   ``--cache`` (none: the rule for data that does not fit; ``auto`` would cache the
   smaller folder in memory and so compare caches, not streams). Peak resident memory
   is the child's ``ru_maxrss``. Goal: the largest folder uses less than 300 MB more
   than the smallest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
from images import write_jpeg_folder

SMALL_NET = """
from builder import *
blueprint = Network(
    input_shape=({size}, {size}, 3), name="small_stream",
    body=Sequence((Conv2D(8, 7, strides=4, name="stem"), Activation("relu", name="relu"),
                   MaxPool2D(4, name="pool"), Conv2D(16, 3, name="conv"))),
    head=ClassifierHead(classes={classes}))
"""


def ours(folder: Path, size: int, batch_size: int, classes: int, augment: tuple):
    from builder.data import load_data

    return load_data(f"folder:{folder}", input_shape=(size, size, 3), classes=classes,
                     batch_size=batch_size, augment=augment, cache="none",
                     validation_split=0.0, test_split=0.0).train


def theirs(folder: Path, size: int, batch_size: int, augment: tuple):
    import keras
    import tensorflow as tf

    flip = keras.layers.RandomFlip("horizontal", seed=0)
    ds = keras.utils.image_dataset_from_directory(
        folder, image_size=(size, size), batch_size=batch_size, shuffle=True, seed=0,
        interpolation="bilinear", verbose=False)
    if augment:
        ds = ds.map(lambda x, y: (flip(x / 255.0, training=True), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y: (x / 255.0, y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def epoch(ds) -> int:
    count = 0
    for _, labels in ds:
        count += int(labels.shape[0])
    return count


def throughput(folder: Path, args) -> tuple[str, list[str]]:
    """Both pipelines with and without the flip, in turns."""
    pipelines = {}
    for augment in (("flip",), ()):
        pipelines["ours", augment] = ours(folder, args.size, args.batch_size, args.classes,
                                          augment)
        pipelines["keras", augment] = theirs(folder, args.size, args.batch_size, augment)
    counts = {k: epoch(ds) for k, ds in pipelines.items()}  # warm-up
    times = common.interleaved({k: (lambda ds=ds: epoch(ds)) for k, ds in pipelines.items()},
                               args.repeat)
    rate = {k: counts[k] / times[k] for k in pipelines}
    rows, notes = [], []
    for augment, steps in ((("flip",), "decode, resize, flip"), ((), "decode, resize")):
        mine, keras = rate["ours", augment], rate["keras", augment]
        rows.append([f"{args.images} JPEGs 400x320 -> {args.size}x{args.size}", steps,
                     f"{mine:.0f}", f"{keras:.0f}", f"{mine / keras:.2f}"])
        notes.append(f"throughput ({steps}): ours {mine:.0f} img/s, keras {keras:.0f} img/s, "
                     f"ratio {mine / keras:.2f}")
    table = common.table(["folder", "steps", "ours img/s", "keras img/s", "ratio"], rows)
    return table, notes


def peak_train(folder: Path, net: Path, cache: str, out: Path) -> tuple[float, float]:
    """(peak resident MB, seconds) of one ``builder train`` epoch in a child process."""
    script = ("import resource, subprocess, sys\n"
              "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    command = [sys.executable, "-c", script, sys.executable, "-m", "builder", "train",
               str(net), "--data", f"folder:{folder}", "--epochs", "1", "--precision",
               "float32", "--batch-size", "64", "--augment", "flip", "--cache", cache,
               "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=common.ROOT)
    shutil.rmtree(out, ignore_errors=True)  # the run of an earlier benchmark
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command[4:])} failed:\n{result.stderr[-2000:]}")
    return int(result.stdout.split()[-1]) / 1024, time.perf_counter() - start


def memory(work: Path, args) -> tuple[str, list[str]]:
    counts = [int(n) for n in args.train_images.split(",")]
    net = work / "small_stream.py"
    net.write_text(SMALL_NET.format(size=args.train_size, classes=args.classes))
    rows, peaks = [], []
    for n in counts:
        folder = write_jpeg_folder(work / f"train{n}", n, classes=args.classes)
        peak, seconds = peak_train(folder, net, args.cache, work / f"run{n}")
        peaks.append(peak)
        rows.append([f"{n:,}", f"{peak:,.0f}", f"{seconds:.0f}"])
        print(f"train on {n} images: peak {peak:.0f} MB, {seconds:.0f} s", flush=True)
    growth = peaks[-1] - peaks[0]
    table = common.table(["JPEGs (400x320)", "peak resident MB", "wall s"], rows)
    return table, [f"memory: {counts[-1]:,} images use {growth:+.0f} MB against {counts[0]:,} "
                   f"(goal < 300 MB)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--train-images", default="3000,30000")
    parser.add_argument("--train-size", type=int, default=224)
    parser.add_argument("--cache", default="none")
    parser.add_argument("--folder", help="keep the generated folders here (default: a "
                        "temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.folder or scratch)
        folder = write_jpeg_folder(work / "throughput", args.images, classes=args.classes)
        load = os.getloadavg()[0]
        speed, notes = throughput(folder, args)
        print(speed, flush=True)
        peaks, more = memory(work, args)
        print(peaks, flush=True)
        more.append(f"load average (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after, "
                    f"on {os.cpu_count()} cores: other work shared the machine")
    body = (f"Images per second of the training pipeline (batch {args.batch_size}, "
            f"nothing cached), ours against `keras.utils.image_dataset_from_directory` with "
            f"an equivalent map (scale to [0, 1]; `keras.layers.RandomFlip`), median of "
            f"{args.repeat} epochs in turns:\n\n{speed}\n\nPeak resident memory of "
            f"`python -m builder train` (a small blueprint at {args.train_size}x"
            f"{args.train_size}, one epoch, `--cache {args.cache}`):\n\n{peaks}\n\n"
            + "\n".join(f"- {n}" for n in notes + more) + "\n")
    common.write_section("data", "Streaming input pipeline", body)
    print("\n".join(notes + more))


if __name__ == "__main__":
    main()
