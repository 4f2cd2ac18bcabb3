"""Data-parallel training over the devices of one machine.

TensorFlow backend: ``mirrored`` is ``tf.distribute.MirroredStrategy`` over the local
GPUs (over the logical CPUs when there is no GPU but several CPU devices are
configured, which is how the tests run it); ``auto`` mirrors when more than one GPU is
visible. Keras's ``steps_per_execution`` stays 1 under a mirrored strategy (larger
values fail there). ``MultiWorkerMirroredStrategy`` is not offered: ``fit`` with it is
broken in Keras 3.15; several hosts train on the JAX backend instead (docs/distributed.md).

JAX backend: ``mirrored`` (and ``auto`` with several devices) sets
``keras.distribution.DataParallel`` over the local devices.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..errors import ArgumentError


@dataclass
class Placement:
    """Where the model lives: ``scope()`` is entered while building and compiling."""

    name: str                    # "none" or "mirrored"
    devices: list[str] = field(default_factory=list)
    strategy: object = None      # the tf.distribute strategy, if any

    def scope(self):
        if self.strategy is not None:
            return self.strategy.scope()
        return contextlib.nullcontext()

    @property
    def replicas(self) -> int:
        return max(1, len(self.devices))

    def describe(self) -> dict:
        return {"strategy": self.name, "devices": self.devices}


def place(requested: str) -> Placement:
    """The placement for ``--strategy`` (``auto``, ``none`` or ``mirrored``)."""
    import keras

    backend = keras.backend.backend()
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


def shard_evenly(placement: Placement, splits, batch_size: int) -> int:
    """Under JAX data parallelism every batch must split evenly over the devices: check
    the batch size and cut the last batch of each split; returns the examples left out."""
    import keras

    if placement.name != "mirrored" or keras.backend.backend() != "jax":
        return 0
    if batch_size % placement.replicas:
        raise ArgumentError(f"batch_size={batch_size} does not split over the "
                            f"{placement.replicas} devices; use a multiple of {placement.replicas}",
                            arguments=("batch_size",))
    replicas = placement.replicas
    left_out = 0
    for name in ("train", "validation", "test"):
        dataset = getattr(splits, name)
        if dataset is None:
            continue
        if hasattr(dataset, "multiple_of"):  # the numpy pipeline cuts its own batches
            dataset.multiple_of = replicas
            left_out += dataset.examples_left_out()
        else:
            setattr(splits, name, _cut_batches(dataset, replicas))
            size = getattr(splits, f"num_{name}")
            left_out += size % batch_size % replicas
    return left_out


def _cut_batches(dataset, replicas: int):
    """A tf.data pipeline whose batches are cut to a multiple of ``replicas`` (a batch
    left empty is dropped)."""
    import tensorflow as tf

    def cut(x, y):
        keep = tf.shape(y)[0] // replicas * replicas
        return x[:keep], y[:keep]

    return dataset.map(cut).filter(lambda x, y: tf.shape(y)[0] > 0)
