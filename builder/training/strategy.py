"""Data-parallel training over the devices of one machine.

TensorFlow backend: ``mirrored`` is ``tf.distribute.MirroredStrategy`` over the local
GPUs (over the logical CPUs when there is no GPU but several CPU devices are
configured, which is how the tests run it); ``auto`` mirrors when more than one GPU is
visible. Keras's ``steps_per_execution`` stays 1 under a mirrored strategy (larger
values fail there). ``MultiWorkerMirroredStrategy`` is not offered: ``fit`` with it is
broken in Keras 3.15; several hosts train on the JAX backend instead (docs/distributed.md).

JAX backend: ``mirrored`` (and ``auto`` with several devices) sets
``keras.distribution.DataParallel`` over the local devices. A job of several processes
(cluster.py) sets it over every device of every process, whatever ``--strategy`` says.

Under DataParallel every batch splits over the devices: ``split_batches`` gives each
process its shard and its part of the global batch, and cuts each last batch to a
multiple of the process's devices (so training, validation and test all run to their
last partial batch on any device count).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..data import Shard
from ..errors import ArgumentError
from .cluster import Cluster


@dataclass
class Placement:
    """Where the model lives: ``scope()`` is entered while building and compiling."""

    name: str                    # "none" or "mirrored"
    devices: list[str] = field(default_factory=list)   # of the whole job
    strategy: object = None      # the tf.distribute strategy, if any
    cluster: Cluster = Cluster()

    def scope(self):
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()

    @property
    def replicas(self) -> int:
        return max(1, len(self.devices))

    @property
    def local_replicas(self) -> int:
        """The devices of this process."""
        return max(1, len(self.devices) // self.cluster.processes)

    def describe(self) -> dict:
        return {"strategy": self.name, "devices": self.devices,
                "devices_per_process": self.local_replicas, **self.cluster.describe()}


def place(requested: str, cluster: Cluster = Cluster(), say=print) -> Placement:
    """The placement for ``--strategy`` (``auto``, ``none`` or ``mirrored``); a job of
    several processes is data-parallel over all their devices."""
    import keras

    backend = keras.backend.backend()
    if cluster.multi:
        devices = keras.distribution.list_devices()  # every process's (cluster.join first)
        # Each process gives its own part of every batch (split_batches).
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=False))
        return Placement("multi-process", [str(d) for d in devices], cluster=cluster)
    placement = _local(requested, backend)
    if requested == "mirrored" and placement.replicas < 2:
        say(f"warning: strategy='mirrored' found one device, so it trains on one; "
            f"{_more_devices(backend)}")
    return placement


def _more_devices(backend: str) -> str:
    if backend == "jax":
        return ("on a CPU set XLA_FLAGS=--xla_force_host_platform_device_count=N for N "
                "devices, or train on several processes (docs/distributed.md)")
    return ("on a CPU-only TensorFlow host configure logical CPUs "
            "(tf.config.set_logical_device_configuration), or use KERAS_BACKEND=jax with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N")


def _local(requested: str, backend: str) -> Placement:
    if requested == "none":
        return Placement("none")
    if backend == "tensorflow":
        return _tensorflow(requested)
    if backend == "jax":
        return _jax(requested)
    if requested == "mirrored":
        raise ArgumentError(f"strategy='mirrored' needs the tensorflow or jax backend, "
                            f"not {backend}", arguments=("strategy",))
    return Placement("none")


def _tensorflow(requested: str) -> Placement:
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    if requested == "auto" and len(gpus) < 2:
        return Placement("none")
    devices = gpus or cpus
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    return Placement("mirrored", devices, strategy)


def _jax(requested: str) -> Placement:
    import keras

    devices = keras.distribution.list_devices()
    if requested == "auto" and len(devices) < 2:
        return Placement("none")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return Placement("mirrored", [str(d) for d in devices])


def split_batches(placement: Placement, splits, batch_size: int) -> int:
    """Under JAX data parallelism every batch must split evenly over the devices: check
    the (global) batch size, give each split's dataset this process's shard and part of
    the batch, and cut the last batch of each split; returns the examples left out."""
    import keras

    if placement.replicas < 2 or keras.backend.backend() != "jax":
        return 0
    cluster = placement.cluster
    if batch_size % placement.replicas:
        where = (f"the {placement.replicas} devices" if not cluster.multi else
                 f"{cluster.processes} processes x {placement.local_replicas} devices")
        raise ArgumentError(f"batch_size={batch_size} (the global batch) does not split over "
                            f"{where}; use a multiple of {placement.replicas}",
                            arguments=("batch_size",))
    shard = Shard(cluster.process_id, cluster.processes)
    left_out = splits.left_out  # by equal shards (tf.data in a job of several processes)
    for name in ("train", "validation", "test"):
        dataset = getattr(splits, name)
        if dataset is None:
            continue
        if hasattr(dataset, "share"):  # the numpy pipeline shards and cuts its own batches
            dataset.share(shard, batch_size // cluster.processes, placement.local_replicas)
            left_out += dataset.examples_left_out()
        else:  # tf.data: opened for this process's equal shard, in its part of the batch
            setattr(splits, name, _cut_batches(dataset, placement.local_replicas))
            size = getattr(splits, f"num_{name}")  # the job's: every process cuts alike
            left_out += size % batch_size % placement.replicas
    return left_out


def _cut_batches(dataset, replicas: int):
    """A tf.data pipeline whose batches are cut to a multiple of ``replicas`` (a batch
    left empty is dropped)."""
    import tensorflow as tf

    def cut(x, y):
        keep = tf.shape(y)[0] // replicas * replicas
        return x[:keep], y[:keep]

    return dataset.map(cut).filter(lambda x, y: tf.shape(y)[0] > 0)
