"""Shared by the benchmark scripts: side-by-side timing, and writing BENCHMARKS.md.

Speed is compared, never quoted alone: each script times ours and keras.applications in
the same run, interleaved, and reports the ratio of medians. Each script owns one section
of BENCHMARKS.md (between markers) and rewrites only that section.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(ROOT, "BENCHMARKS.md")
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> str:
    import keras

    parts = [f"Python {platform.python_version()}", f"Keras {keras.__version__}",
             f"backend {keras.backend.backend()}"]
    try:
        import tensorflow as tf

        parts.append(f"TensorFlow {tf.__version__}")
    except ImportError:
        pass
    return ", ".join(parts)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict, repeat: int) -> dict:
    """Median seconds of each callable, run in turns so that load on the machine falls
    on all of them alike."""
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for h in header:
        t.add_column(h)
    for row in rows:
        t.add_row(*[str(c) for c in row])
    Console().print(t)


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or add) the section ``name`` of BENCHMARKS.md."""
    command = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"<!-- {name}:start -->\n## {title}\n\n"
               f"`{command}` on {stamp}; {machine()}; {versions()}.\n\n{body.strip()}\n"
               f"<!-- {name}:end -->")
    text = ""
    if os.path.exists(REPORT):
        with open(REPORT, encoding="utf-8") as f:
            text = f.read()
    if not text:
        text = ("# Benchmarks\n\nWritten by the scripts in `benchmarks/`; each compares builder "
                "with keras.applications side by side in one run (ratios of medians), since "
                "these machines are shared and noisy.\n")
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    tmp = REPORT + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, REPORT)


# keras.applications twins of our registered blueprints
KERAS_TWINS = {
    "vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101",
    "resnet152": "ResNet152", "resnet50_v2": "ResNet50V2", "resnet101_v2": "ResNet101V2",
    "resnet152_v2": "ResNet152V2", "inception_v3": "InceptionV3", "xception": "Xception",
    "mobilenet": "MobileNet", "mobilenet_v2": "MobileNetV2", "densenet121": "DenseNet121",
    "densenet169": "DenseNet169", "densenet201": "DenseNet201",
    **{f"efficientnet_b{i}": f"EfficientNetB{i}" for i in range(8)},
    "efficientnet_v2_s": "EfficientNetV2S",
}


def keras_app(name: str, **kwargs):
    import keras

    return getattr(keras.applications, KERAS_TWINS[name])(weights=None, **kwargs)
