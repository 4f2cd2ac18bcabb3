"""Model build time, ours against keras.applications, for the same network.

    python benchmarks/build.py [--names resnet50,mobilenet_v2,efficientnet_b0,densenet121,vgg16] [--repeat 5]

Goal: our build time is at most 1.1x keras.applications'. Ours includes loading the
blueprint, lowering and shape-checking it; both build at the default input with the top.
"""

import argparse

import common


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="resnet50,mobilenet_v2,efficientnet_b0,densenet121,vgg16")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import keras

    import builder

    rows = []
    for name in args.names.split(","):
        def ours():
            keras.backend.clear_session()
            return builder.build(builder.load(name))

        def theirs():
            keras.backend.clear_session()
            return common.keras_app(name)

        assert ours().count_params() == theirs().count_params(), name  # same network
        times = common.interleaved({"ours": ours, "keras": theirs}, args.repeat)
        ratio = times["ours"] / times["keras"]
        rows.append([name, f"{times['ours']:.2f}", f"{times['keras']:.2f}", f"{ratio:.2f}",
                     "yes" if ratio <= 1.1 else "NO"])
    header = ["blueprint", "ours s", "keras.applications s", "ratio", "<= 1.1x"]
    common.print_table("Build time, median of interleaved runs", header, rows)
    common.write_section("build", "Model build time against keras.applications",
                         common.table(header, rows))


if __name__ == "__main__":
    main()
