"""Choosing the numeric precision of a training run.

``auto`` takes ``mixed_float16`` when a GPU is visible (tensor cores; Keras wraps the
optimizer in a ``LossScaleOptimizer`` by itself under that policy). On a CPU it times a
few training steps of *this* model under float32 and mixed_bfloat16, in turns, and keeps
bfloat16 only when it is faster by more than the noise of that measurement (5%). On a
CPU with AMX, training through fit in bfloat16 was 1.07x float32 for ResNet-50 at 64x64
and 1.25x at 224x224, and 0.60-0.75x for MobileNetV2 and EfficientNet-B0 (depthwise
convolutions); see BENCHMARKS.md. It never picks mixed_float16 on a CPU, where float16
arithmetic is emulated (ResNet-50 trained ~100x slower than in float32).
The model's output activations stay float32 under every policy (see builder.ops).

On a CPU with the TensorFlow backend, ``auto`` also builds the model's batch norms as
``FusedBatchNorm`` (``builder.ops.fused_batch_norm``): one fused kernel each way instead
of Keras 3's casts, moments and normalization as separate ops: 2.2x (float32) to 4.6x
(bfloat16) faster for the layer, a quarter of ResNet-50's bfloat16 step (see
BENCHMARKS.md and docs/workbench.md). It measures both policies so built, and records
``"batch_norm": "fused"`` in the decision, which a resumed run builds with again.
"""

from __future__ import annotations

import statistics
import time

from ..ops import fused_batch_norm

#: bfloat16 must beat float32 by more than this fraction to be chosen (timing noise of
#: interleaved medians; within it either policy is as fast as the other).
NOISE_MARGIN = 0.05
WARMUP_STEPS = 2
TIMED_STEPS = 7


def gpu_visible() -> bool:
    """Whether the Keras backend sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def set_policy(name: str) -> None:
    import keras

    keras.config.set_dtype_policy(name)


def decide(requested: str, make_step, batch_size: int, say=print) -> dict:
    """The precision to train with, as a record for config.json.

    ``make_step(policy)`` builds and compiles the model under ``policy`` and returns a
    function that runs one training step. Returns ``{"policy", "requested", "reason",
    "images_per_second": {policy: figure}}``; figures only where ``auto`` measured.
    """
    if requested != "auto":
        return {"policy": requested, "requested": requested, "reason": "asked for",
                "images_per_second": {}}
    if gpu_visible():
        return {"policy": "mixed_float16", "requested": "auto", "reason": "a GPU is visible",
                "images_per_second": {}}
    fused = fusing_backend()
    with fused_batch_norm(fused):
        figures = measure(make_step, ("float32", "mixed_bfloat16"), batch_size)
    speedup = figures["mixed_bfloat16"] / figures["float32"]
    if speedup > 1 + NOISE_MARGIN:
        policy, why = "mixed_bfloat16", f"bfloat16 {speedup:.2f}x as fast as float32 on this CPU"
    else:
        policy, why = "float32", (f"bfloat16 {speedup:.2f}x as fast as float32 on this CPU "
                                  f"(needs > {1 + NOISE_MARGIN:.2f}x)")
    say(f"precision auto: {policy} ({why}; float32 {figures['float32']:.0f} images/s, "
        f"mixed_bfloat16 {figures['mixed_bfloat16']:.0f} images/s)")
    set_policy("float32")
    return {"policy": policy, "requested": "auto", "reason": why,
            "images_per_second": {k: round(v, 1) for k, v in figures.items()},
            "speedup_bfloat16": round(speedup, 3), "noise_margin": NOISE_MARGIN,
            "timed_steps": TIMED_STEPS, "batch_norm": "fused" if fused else "keras"}


def fusing_backend() -> bool:
    """Whether ``FusedBatchNorm`` has its fused kernel on this backend (TensorFlow)."""
    import keras

    return keras.backend.backend() == "tensorflow"


def building(decision: dict):
    """The context to build the run's model in: with ``FusedBatchNorm`` where the
    decision says so (``auto`` on a CPU)."""
    return fused_batch_norm(decision.get("batch_norm") == "fused")


def measure(make_step, policies, batch_size: int) -> dict:
    """Training images per second under each policy: one model per policy, built under
    it, then ``WARMUP_STEPS`` untimed steps each (tracing, memory allocation) and
    ``TIMED_STEPS`` timed steps taken in turns, so that a change in the machine's load
    falls on every policy alike; the median step of each."""
    steps = {}
    for policy in policies:
        set_policy(policy)  # layers take the policy in force when they are made
        try:
            steps[policy] = make_step(policy)
        finally:
            set_policy("float32")
    for policy in policies:
        for _ in range(WARMUP_STEPS):
            steps[policy]()
    times = {policy: [] for policy in policies}
    for _ in range(TIMED_STEPS):
        for policy in policies:
            start = time.perf_counter()
            steps[policy]()
            times[policy].append(time.perf_counter() - start)
    return {policy: batch_size / statistics.median(t) for policy, t in times.items()}
