"""Measured time per block on this machine's device (``builder profile``).

How a block is timed: each row of the block table (``report.blocks(depth)``, as
``summary`` prints it) is made a Keras model of its own (``compiler.part_model``), fed
random tensors of its inputs' shapes and of the dtypes they have in the whole model
(bfloat16 inside a mixed_bfloat16 model), and compiled once (``tf.function`` /
``jax.jit``). Two calls are timed:

- *forward*: the inference call (``training=False``);
- *train*: the call with ``training=True`` and the gradients of a stand-in loss (the
  mean of each output, which costs next to nothing) with respect to the block's weights
  and to its inputs, as backpropagation through the block computes them; no optimizer
  update.

Each call is warmed up (tracing, memory), then timed as N calls in a row with one
synchronization at the end (TensorFlow: ``sync_devices``; JAX: ``block_until_ready``),
divided by N; N is chosen once so that a timing lasts ``min_seconds``. The whole model is
timed the same way, and every row and the whole model take turns in each of ``repeats``
rounds, so that a change in the machine's load falls on all alike; the figures are
medians over the rounds. The blocks' times add up to the whole model's, less what a
model does across the cuts (fusion, the data staying in cache), plus one call's
overhead per block: ``Profile.coverage`` says how closely.

GFLOP/s count 2 FLOPs per multiply-add; a train step counts 3 times the forward's
(the backward pass computes two products per multiply-add of the forward).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import platform
import statistics
import time

from .analysis import report as make_report
from .compiler import part_model
from .errors import ArgumentError
from .graph import lower

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
BACKENDS = ("tensorflow", "jax")
WARMUP_CALLS = 2
MIN_STEPS = 3  # calls per timing, at least (one synchronization for all of them)
TRAIN_FLOPS_PER_MAC = 6  # forward 2, backward 4


@dataclasses.dataclass
class Timing:
    """The measured times of one row (or of the whole model), in seconds per step."""

    path: str
    kind: str
    output_shape: tuple
    params: int
    macs: int  # per example
    forward: float
    train: float

    def gflops(self, batch_size: int, train: bool = False) -> float:
        seconds = self.train if train else self.forward
        flops = self.macs * batch_size * (TRAIN_FLOPS_PER_MAC if train else 2)
        return flops / seconds / 1e9 if seconds else 0.0

    def to_dict(self, batch_size: int, train_total: float | None = None) -> dict:
        out = {"path": self.path, "kind": self.kind, "output_shape": list(self.output_shape),
               "params": self.params, "macs": self.macs,
               "forward_ms": round(self.forward * 1e3, 4), "train_ms": round(self.train * 1e3, 4),
               "forward_gflops": round(self.gflops(batch_size), 2),
               "train_gflops": round(self.gflops(batch_size, train=True), 2)}
        if train_total is not None:
            out["train_share"] = round(self.train / train_total, 4) if train_total else 0.0
        return out


@dataclasses.dataclass
class Profile:
    name: str
    backend: str
    device: str
    precision: str
    batch_size: int
    input_shape: tuple
    depth: int
    repeats: int
    rows: list[Timing]
    whole: Timing
    # The blocks' summed time over the whole model's, {"forward", "train"}: each round's
    # ratio, the median over rounds.
    coverage: dict
    call_overhead: float  # seconds a compiled call of nothing takes (in every row's time)

    def by_kind(self) -> list[dict]:
        """The rows' times summed by kind, the most train time first: at a depth that
        reaches the layers, time by op kind (Conv2D, BatchNorm, Activation ...). Each
        ``{"kind", "rows", "macs", "forward_ms", "train_ms", "train_share"}``."""
        groups: dict[str, dict] = {}
        for row in self.rows:
            group = groups.setdefault(row.kind, {"kind": row.kind, "rows": 0, "macs": 0,
                                                 "forward": 0.0, "train": 0.0})
            group["rows"] += 1
            group["macs"] += row.macs
            group["forward"] += row.forward
            group["train"] += row.train
        total = sum(g["train"] for g in groups.values()) or 1.0
        return [{"kind": g["kind"], "rows": g["rows"], "macs": g["macs"],
                 "forward_ms": round(g["forward"] * 1e3, 4), "train_ms": round(g["train"] * 1e3, 4),
                 "train_share": round(g["train"] / total, 4)}
                for g in sorted(groups.values(), key=lambda g: -g["train"])]

    def to_dict(self) -> dict:
        """The JSON form ``builder profile --json`` prints (see docs/workbench.md)."""
        coverage = self.coverage
        train_total = sum(r.train for r in self.rows)
        return {"name": self.name, "backend": self.backend, "device": self.device,
                "precision": self.precision, "batch_size": self.batch_size,
                "input_shape": list(self.input_shape), "depth": self.depth,
                "repeats": self.repeats, "method": METHOD,
                "call_overhead_ms": round(self.call_overhead * 1e3, 4),
                "whole": self.whole.to_dict(self.batch_size),
                "blocks": [r.to_dict(self.batch_size, train_total) for r in self.rows],
                "by_kind": self.by_kind(),
                "blocks_sum": {"forward_ms": round(sum(r.forward for r in self.rows) * 1e3, 4),
                               "train_ms": round(train_total * 1e3, 4),
                               "forward_ratio": round(coverage["forward"], 4),
                               "train_ratio": round(coverage["train"], 4)}}


METHOD = ("each block row is a Keras model of its own fed random inputs of its shapes and "
          "dtypes; forward = inference call, train = training call and the gradients of a "
          "stand-in loss for its weights and inputs (no optimizer); N calls timed with one "
          "synchronization, divided by N; rows and the whole model take turns; medians")


def profile(bp, *, batch_size: int = 32, precision: str = "float32", depth: int = 1,
            repeats: int = 5, min_seconds: float = 0.05, input_shape=None,
            say=None) -> Profile:
    """Time each block row at ``depth`` of ``bp`` and the whole model on this machine's
    device (see the module docstring for how). ``say(text)`` hears the progress.
    Raises ``ArgumentError`` for an unknown precision or backend, ``BlueprintError`` for
    a blueprint that cannot be built."""
    import keras

    if precision not in PRECISIONS:
        raise ArgumentError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                            f"{precision!r}")
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ArgumentError(f"profiling runs on the {' and '.join(BACKENDS)} backends, not "
                            f"{backend}")
    if batch_size < 1 or repeats < 1:
        raise ArgumentError("batch_size and repeats must be at least 1")
    graph = lower(bp, input_shape)
    report = make_report(graph)
    rows = [r for r in report.blocks(depth) if any(n.inputs for n in graph.nodes[r.start:r.end])]
    say = say or (lambda text: None)
    with _quiet(backend):
        return _profile(graph, report, rows, batch_size, precision, depth, repeats,
                        min_seconds, backend, say, bp.kind)


def _profile(graph, report, rows, batch_size, precision, depth, repeats, min_seconds,
             backend, say, kind) -> Profile:
    import keras

    keras.config.set_dtype_policy(precision)  # layers take the policy in force when made
    try:
        whole_part = _part(graph, 0, len(graph.nodes), None)
        dtypes = {path: str(t.dtype) for path, t in whole_part[2].items()}
        say(f"compiling {len(rows)} block(s) and the whole model")
        parts = [_calls(whole_part, batch_size, backend, graph)]
        parts += [_calls(_part(graph, r.start, r.end, dtypes), batch_size, backend, graph)
                  for r in rows]
    finally:
        keras.config.set_dtype_policy("float32")
    times, coverage, overhead = _measure(parts, repeats, min_seconds, backend, say)
    whole = Timing("(whole model)", kind, report.output_shape, report.total_params,
                   report.macs, *times[0])
    timed = [Timing(r.path, r.kind, r.output_shape, r.params, r.macs, *t)
             for r, t in zip(rows, times[1:])]
    return Profile(report.name, backend, device_name(backend), precision, batch_size,
                   report.input_shape, depth, repeats, timed, whole, coverage, overhead)


@contextlib.contextmanager
def _quiet(backend: str):
    """TensorFlow warns when many functions are traced, which is the point here."""
    if backend != "tensorflow":
        yield
        return
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _part(graph, start, end, dtypes):
    return part_model(graph, start, end, dtypes)


def _calls(part, batch_size: int, backend: str, graph):
    """(forward, train): functions of no argument that run one step of the part."""
    import keras

    model, sources, tensors = part
    inputs = [keras.random.normal((batch_size,) + tuple(tensors[p].shape[1:]),
                                  dtype=str(tensors[p].dtype), seed=i)
              for i, p in enumerate(sources)]
    # The network's own input needs no gradient; a block's input does (backpropagation
    # goes on through it to the blocks before).
    wanted = [i for i, p in enumerate(sources) if p != graph.nodes[0].path]
    make = _tensorflow_calls if backend == "tensorflow" else _jax_calls
    return make(model, inputs, wanted)


def _stand_in_loss(outputs):
    import keras

    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return sum(keras.ops.mean(keras.ops.cast(y, "float32")) for y in flat)


def _tensorflow_calls(model, inputs, wanted):
    import tensorflow as tf

    args = inputs[0] if len(inputs) == 1 else list(inputs)

    @tf.function(reduce_retracing=True)
    def forward(x):
        return model(x, training=False)

    @tf.function(reduce_retracing=True)
    def train(x):
        flat = [x] if len(inputs) == 1 else list(x)
        with tf.GradientTape() as tape:
            for i in wanted:
                tape.watch(flat[i])
            loss = _stand_in_loss(model(x, training=True))
        return tape.gradient(loss, list(model.trainable_variables) + [flat[i] for i in wanted])

    return (lambda: forward(args)), (lambda: train(args))


def _jax_calls(model, inputs, wanted):
    import jax

    trainable = [v.value for v in model.trainable_variables]
    other = [v.value for v in model.non_trainable_variables]
    single = len(inputs) == 1

    def call(weights, state, xs, training):
        return model.stateless_call(weights, state, xs[0] if single else xs, training=training)

    forward = jax.jit(lambda weights, state, xs: call(weights, state, xs, False)[0])

    def loss(weights, watched, state, rest):
        xs = list(rest)
        for i, x in zip(wanted, watched):
            xs[i] = x
        outputs, new_state = call(weights, state, xs, True)
        return _stand_in_loss(outputs), new_state

    gradients = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))
    watched = [inputs[i] for i in wanted]
    return (lambda: forward(trainable, other, inputs),
            lambda: gradients(trainable, watched, other, inputs))


def _sync(result, backend: str) -> None:
    if backend == "jax":
        import jax

        jax.block_until_ready(result)
    else:
        import tensorflow as tf

        tf.test.experimental.sync_devices()


def _unsynced(backend: str):
    """A context in which calls return before their work is done (JAX's dispatch is so
    already; TensorFlow's eager calls wait for their work unless in an async scope)."""
    if backend == "jax":
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.experimental.async_scope()


def _measure(parts, repeats: int, min_seconds: float, backend: str, say):
    """Median seconds per step of each part's (forward, train) over ``repeats`` rounds
    (``parts[0]`` is the whole model, the others the rows), and the coverage: the
    median over rounds of the rows' summed time over the whole model's.

    In a round, the whole model is timed in slices between the rows (its steps spread
    over the round), so that it meets the same changes of the machine's load as they do.
    """
    steps = [[_steps(call, min_seconds, backend) for call in pair] for pair in parts]
    empty = _empty_call(backend)
    empty_steps = _steps(empty, min_seconds / 10, backend)
    rows = range(1, len(parts))
    # The whole model's steps of a round, in slices before evenly spaced rows.
    slices = [_slices(steps[0][k], len(rows)) for k in (0, 1)]
    samples = [([], []) for _ in parts]
    overhead = []
    for r in range(repeats):
        say(f"round {r + 1} of {repeats}")
        overhead.append(_timed(empty, empty_steps, backend))
        whole = [[0.0, 0], [0.0, 0]]  # seconds and steps of the whole model this round
        for i in rows:
            for k in (0, 1):
                n = slices[k].get(i - 1, 0)
                if n:
                    whole[k][0] += _timed(parts[0][k], n, backend) * n
                    whole[k][1] += n
                samples[i][k].append(_timed(parts[i][k], steps[i][k], backend))
        for k in (0, 1):
            samples[0][k].append(whole[k][0] / whole[k][1])
    medians = [tuple(statistics.median(t) for t in pair) for pair in samples]
    # Row by row against the whole model of the same round, then the median of rounds:
    # a change of load between rounds cancels.
    coverage = {name: statistics.median(
        sum(samples[i][k][r] for i in rows) / samples[0][k][r] for r in range(repeats))
        for k, name in enumerate(("forward", "train"))}
    return medians, coverage, statistics.median(overhead)


def _slices(steps: int, rows: int) -> dict[int, int]:
    """``{row index: steps}``: ``steps`` spread over at most ``rows`` evenly spaced slots."""
    slots = min(steps, rows)
    each = max(1, round(steps / slots))
    return {round(j * rows / slots): each for j in range(slots)}


def _empty_call(backend: str):
    """A compiled call that does nothing: what a call costs by itself."""
    import keras

    x = keras.ops.zeros(())
    if backend == "jax":
        import jax

        function = jax.jit(lambda value: value + 1)
    else:
        import tensorflow as tf

        function = tf.function(lambda value: value + 1)
    return lambda: function(x)


def _steps(call, min_seconds: float, backend: str) -> int:
    """Warm ``call`` up, then the number of calls that one timing of it makes."""
    for _ in range(WARMUP_CALLS):
        _sync(call(), backend)
    once = _timed(call, 1, backend)
    return max(MIN_STEPS, math.ceil(min_seconds / max(once, 1e-6)))


def _timed(call, steps: int, backend: str) -> float:
    start = time.perf_counter()
    with _unsynced(backend):
        for _ in range(steps):
            result = call()
    _sync(result, backend)
    return (time.perf_counter() - start) / steps


def device_name(backend: str) -> str:
    """The device the backend computes on, in words."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return f"CPU {_cpu_model()}"
        return f"{device.platform.upper()} {device.device_kind}"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU {details.get('device_name', gpus[0].name)}"
    return f"CPU {_cpu_model()}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def latency(bp, batch_size: int = 1, repeats: int = 5, min_seconds: float = 0.02) -> float:
    """Seconds of one inference step of ``bp`` at ``batch_size`` on this machine's device,
    under the dtype policy in force: the whole model's forward as ``profile`` times it
    (compiled, N calls per synchronization), the median of ``repeats`` timings."""
    import keras

    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ArgumentError(f"latency is measured on the {' and '.join(BACKENDS)} backends, "
                            f"not {backend}")
    graph = lower(bp)
    with _quiet(backend):
        forward, _ = _calls(_part(graph, 0, len(graph.nodes), None), batch_size, backend, graph)
        steps = _steps(forward, min_seconds, backend)
        return statistics.median(_timed(forward, steps, backend) for _ in range(repeats))
