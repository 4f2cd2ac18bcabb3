"""Static analysis time of the largest blueprints against building their Keras model.

    python benchmarks/analysis.py [--names resnet152,efficientnet_b7,densenet201] [--repeat 5]

Goal: analysing any registered blueprint takes under 50 ms. Also times every registered
blueprint once and reports the slowest.
"""

import argparse
import time

import common


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="resnet152,efficientnet_b7,densenet201")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import keras

    import builder

    rows = []
    for name in args.names.split(","):
        bp = builder.load(name)
        builder.analyze(bp)  # warm caches (type hints) once
        analyze = common.median_time(lambda: builder.analyze(bp), args.repeat)
        load_and_analyze = common.median_time(lambda: builder.analyze(builder.load(name)), args.repeat)

        def build():
            keras.backend.clear_session()
            builder.build(bp)

        build_time = common.median_time(build, max(1, args.repeat // 2))
        rows.append([name, len(builder.analyze(bp).nodes), f"{analyze * 1e3:.1f}",
                     f"{load_and_analyze * 1e3:.1f}", f"{build_time * 1e3:.0f}",
                     f"{build_time / analyze:.0f}x", "yes" if analyze < 0.05 else "NO"])
    slowest = []
    for name in builder.registry.names():
        bp = builder.load(name)
        start = time.perf_counter()
        builder.analyze(bp)
        slowest.append((time.perf_counter() - start, name))
    worst_time, worst = max(slowest)
    header = ["blueprint", "nodes", "analyze ms", "load+analyze ms", "Keras build ms",
              "build / analyze", "< 50 ms"]
    common.print_table("Static analysis against building the Keras model", header, rows)
    note = (f"Slowest analysis over all {len(slowest)} registered blueprints (first call, cold): "
            f"{worst} in {worst_time * 1e3:.1f} ms.")
    print(note)
    common.write_section("analysis", "Static analysis time", common.table(header, rows) + "\n\n" + note)


if __name__ == "__main__":
    main()
