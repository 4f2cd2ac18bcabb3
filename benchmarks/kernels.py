"""TensorFlow's kernels for ResNet-50's training step in float32 and bfloat16, one by one:
where bfloat16 gains and where it does not.

    python benchmarks/kernels.py [--batch-size 16] [--size 64] [--calls 20]

For the convolutions of ResNet-50's stages at ``--size`` input (one 1x1 and the 3x3 of each
stage), the three kernels of a training step (forward, the gradient for the input, the
gradient for the filter), and for batch normalization (Keras 3's way and the fused kernel,
forward and backward) and the casts mixed precision adds, the CPU milliseconds per call
in float32 and in bfloat16 (process CPU time, steadier than the clock on a shared
machine), each ``tf.function``-compiled and called ``--calls`` times after a warm-up, the
two dtypes in turns. The ratio is float32 over bfloat16: above 1, bfloat16 is faster.
"""

import argparse
import time

import common

# (name, spatial size at a 64x64 input, input channels, output channels, kernel) of the
# convolutions that dominate each stage of ResNet-50 (bottleneck 1x1 and 3x3).
CONVS = [("stage1", 16, 64, 64, 3), ("stage1", 16, 64, 256, 1),
         ("stage2", 8, 128, 128, 3), ("stage2", 8, 128, 512, 1),
         ("stage3", 4, 256, 256, 3), ("stage3", 4, 256, 1024, 1),
         ("stage4", 2, 512, 512, 3), ("stage4", 2, 512, 2048, 1)]


def conv_calls(batch, hw, cin, cout, k, dtype):
    import tensorflow as tf

    x = tf.cast(tf.random.normal((batch, hw, hw, cin)), dtype)
    w = tf.cast(tf.random.normal((k, k, cin, cout)) * 0.05, dtype)
    dy = tf.cast(tf.random.normal((batch, hw, hw, cout)), dtype)
    forward = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    grad_input = tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=[1, 1, 1, 1],
        padding="SAME"))
    grad_filter = tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(w), out_backprop=dy, strides=[1, 1, 1, 1],
        padding="SAME"))
    return {"forward": forward, "grad input": grad_input, "grad filter": grad_filter}


def norm_calls(batch, hw, channels, dtype):
    """Batch norm forward and backward, Keras 3's ops and the fused kernel, and the casts
    Keras 3's layer makes around it under mixed precision."""
    import tensorflow as tf

    x = tf.cast(tf.random.normal((batch, hw, hw, channels)), dtype)
    scale, offset = tf.ones(channels), tf.zeros(channels)

    def keras3():
        with tf.GradientTape() as tape:
            tape.watch(x)
            xf = tf.cast(x, "float32")
            mean, variance = tf.nn.moments(xf, [0, 1, 2])
            y = tf.cast(tf.nn.batch_normalization(xf, mean, variance, offset, scale, 1e-3),
                        dtype)
        return tape.gradient(y, x)

    def fused():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3,
                                                 is_training=True)[0]
        return tape.gradient(y, x)

    calls = {"batch norm, Keras 3 (fwd+bwd)": tf.function(keras3),
             "batch norm, fused (fwd+bwd)": tf.function(fused)}
    if dtype != "float32":
        calls["casts to float32 and back"] = tf.function(
            lambda: tf.cast(tf.cast(x, "float32"), dtype))
    return calls


def cpu_ms(fn, calls: int) -> float:
    fn()
    fn()
    start = time.process_time()
    for _ in range(calls):
        out = fn()
    out.numpy()
    return (time.process_time() - start) / calls * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    scale = args.size // 64
    rows = []
    for name, hw, cin, cout, k in CONVS:
        made = {d: conv_calls(args.batch_size, hw * scale, cin, cout, k, d)
                for d in ("float32", "bfloat16")}
        for kernel in made["float32"]:
            rows.append([f"Conv2D {name} {k}x{k} {cin}->{cout} at {hw * scale}x{hw * scale}",
                         kernel, made["float32"][kernel], made["bfloat16"][kernel]])
    norms = {d: norm_calls(args.batch_size, 16 * scale, 256, d) for d in ("float32", "bfloat16")}
    for kernel, fn in norms["bfloat16"].items():
        rows.append([f"16x16x256 ({kernel})", "", norms["float32"].get(kernel), fn])
    table = []
    for what, kernel, f32, bf16 in rows:
        a = cpu_ms(f32, args.calls) if f32 else None
        b = cpu_ms(bf16, args.calls)
        table.append([what, kernel, f"{a:.2f}" if a else "", f"{b:.2f}",
                      f"{a / b:.2f}" if a else ""])
        print(table[-1], flush=True)
    header = ["kernel", "part", "float32 CPU ms", "bfloat16 CPU ms", "float32 / bfloat16"]
    common.print_table("TensorFlow kernels, float32 against bfloat16", header, table)
    common.write_section("kernels", "TensorFlow kernels of ResNet-50 training, float32 "
                         "against bfloat16", common.table(header, table) + "\n\n"
                         f"Batch {args.batch_size}, ResNet-50's shapes at a "
                         f"{args.size}x{args.size} input; CPU milliseconds per call, "
                         f"{args.calls} calls after a warm-up.")


if __name__ == "__main__":
    main()
