"""Images per second of the training input pipeline with each transform, at 224x224.

    python benchmarks/transforms.py [--images 256] [--repeat 3]

One npz of random 320x400 RGB images (in memory, stored at their own size) is loaded by
``load_data`` for each setting: the simple transform (resize to the input) as the
baseline, then the imagenet transform (random-resized crop and flip, per example) alone
and with each batch augmentation (Keras's preprocessing layers). A pass reads every
training batch once; the figure is the median over ``--repeat`` passes, the settings in
turns. No model: this is the data pipeline's own rate, on this machine's CPU cores.
"""

import argparse
import os
import tempfile

import common

SETTINGS = [
    ("simple", ()),
    ("imagenet", ()),
    ("imagenet", ("jitter",)),
    ("imagenet", ("randaugment",)),
    ("imagenet", ("mixup", "cutmix")),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from builder.data import load_data

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "images.npz")
        rng = np.random.default_rng(0)
        np.savez(path, x=rng.integers(0, 256, (args.images, 320, 400, 3), dtype=np.uint8),
                 y=np.arange(args.images) % 10)
        splits = {setting: load_data(f"npz:{path}", input_shape=(224, 224, 3), classes=10,
                                     batch_size=32, validation_split=0.0, test_split=0.0,
                                     train_transform=setting[0], augment=setting[1])
                  for setting in SETTINGS}

        def reader(dataset):
            return lambda: sum(1 for _ in dataset)

        for data in splits.values():
            reader(data.train)()  # warm-up (tracing)
        times = common.interleaved({s: reader(d.train) for s, d in splits.items()},
                                   args.repeat)
    base = args.images / times[SETTINGS[0]]
    rows = []
    for (kind, augment), seconds in times.items():
        rate = args.images / seconds
        rows.append([kind, ",".join(augment) or "none", f"{rate:.0f}", f"{rate / base:.2f}"])
    header = ["train transform", "augment", "images/s", "of simple"]
    common.print_table("Training input pipeline at 224x224", header, rows)
    common.write_section("transforms", "Training input pipeline with each transform",
                         common.table(header, rows))


if __name__ == "__main__":
    main()
