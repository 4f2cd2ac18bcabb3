"""Several processes training one model: who they are, joining them, and losing one.

A job of N processes (one per host, or several on one host) runs the same ``builder
train`` command in each; process 0 is the chief. Where they meet is given by arguments
(``processes``, ``process_id``, ``coordinator``), else by the environment:

- ``BUILDER_PROCESSES``, ``BUILDER_PROCESS_ID``, ``BUILDER_COORDINATOR`` (HOST:PORT);
- under SLURM (``srun``): ``SLURM_NTASKS`` and ``SLURM_PROCID``, the coordinator at
  ``BUILDER_COORDINATOR`` or else ``SLURM_LAUNCH_NODE_IPADDR`` on port ``BUILDER_PORT``
  (default 12321).

The job runs on the JAX backend: ``join`` connects this process to JAX's distributed
runtime (as ``keras.distribution.initialize`` does, with a heartbeat timeout of ours), and the
model trains under ``keras.distribution.DataParallel`` over every device of every
process (strategy.py). The chief's decisions (the run directory, the precision) reach the
others through the coordinator's key-value store (``share``).

A process that dies poisons the job: JAX's runtime cannot go on without it (its own
reaction is an abort, exit 134). ``watch`` starts a thread that asks the coordinator which
processes are alive; when one is missing it prints one line and ends this process with
``PEER_LOST`` (3) at once, leaving the run directory as a kill would (resumable from its
last epoch). JAX serves its coordinator inside process 0, so that a dead chief would take
it along and abort the others before any check of ours; here the chief serves it from a
process of its own (coordinator.py), which outlives the chief long enough for the others
to see it gone.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Callable

from ..errors import ArgumentError, UserError

#: Exit status of a process whose job lost a peer.
PEER_LOST = 3
#: Seconds between two liveness checks, and after which JAX's runtime itself declares a
#: silent process dead (its default, 100 s, is past the 60 s we promise); the latter can
#: be set with BUILDER_HEARTBEAT_SECONDS (longer for a slow network, shorter in tests).
WATCH_SECONDS = 2
HEARTBEAT_SECONDS = 20
#: How long a process waits for the chief's word (the chief may be measuring precision).
WAIT_SECONDS = 600
DEFAULT_PORT = 12321


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in the job; ``Cluster()`` is a job of one."""

    processes: int = 1
    process_id: int = 0
    coordinator: str | None = None
    origin: str = "arguments"      # where it was read: arguments, BUILDER_*, SLURM
    heartbeat: int = HEARTBEAT_SECONDS  # seconds of silence after which a process is lost

    @property
    def linger(self) -> int:
        """How long the coordinator outlives a chief that died (the others see it gone
        and end), at most."""
        return self.heartbeat + 5 * WATCH_SECONDS

    @property
    def multi(self) -> bool:
        return self.processes > 1

    @property
    def chief(self) -> bool:
        return self.process_id == 0

    def describe(self) -> dict:
        return {"processes": self.processes, "coordinator": self.coordinator,
                "cluster_from": self.origin}


def resolve(processes=None, process_id=None, coordinator=None, environ=None) -> Cluster:
    """The cluster from the arguments given, else from the environment (see the module);
    checked: ``ArgumentError`` names the argument at fault."""
    env = os.environ if environ is None else environ
    origin = "arguments"
    if processes is None and process_id is None and coordinator is None:
        if "BUILDER_PROCESSES" in env:
            origin = "BUILDER_*"
            processes, process_id = env["BUILDER_PROCESSES"], env.get("BUILDER_PROCESS_ID")
            coordinator = env.get("BUILDER_COORDINATOR")
        elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
            origin = "SLURM"
            processes, process_id = env["SLURM_NTASKS"], env["SLURM_PROCID"]
            coordinator = env.get("BUILDER_COORDINATOR") or (
                f"{env['SLURM_LAUNCH_NODE_IPADDR']}:{env.get('BUILDER_PORT', DEFAULT_PORT)}"
                if "SLURM_LAUNCH_NODE_IPADDR" in env else None)
    processes = _count("processes", 1 if processes is None else processes, 1)
    process_id = _count("process_id", 0 if process_id is None else process_id, 0)
    if process_id >= processes:
        raise ArgumentError(f"process_id={process_id} must be below processes={processes}",
                            arguments=("process_id", "processes"))
    if processes > 1:
        _check_address(coordinator)
    heartbeat = HEARTBEAT_SECONDS
    if processes > 1 and "BUILDER_HEARTBEAT_SECONDS" in env:  # a variable, not an argument
        heartbeat = _count("BUILDER_HEARTBEAT_SECONDS", env["BUILDER_HEARTBEAT_SECONDS"], 2,
                           argument=False)
    return Cluster(processes, process_id, coordinator if processes > 1 else None, origin,
                   heartbeat)


def _count(name: str, value, least: int, argument: bool = True) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < least or str(value).strip() != str(number):
        raise ArgumentError(f"{name}={value!r} must be a whole number of at least {least}",
                            arguments=(name,) if argument else ())
    return number


def _check_address(coordinator) -> None:
    host, _, port = (coordinator or "").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ArgumentError(f"coordinator={coordinator!r}: several processes need "
                            f"`coordinator`, the chief's HOST:PORT (a free port)",
                            arguments=("coordinator",))


def join(cluster: Cluster) -> None:
    """Join the job (no-op for a job of one, or when already joined). Before any other
    JAX call of this process."""
    if not cluster.multi:
        return
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        raise ArgumentError(
            f"processes={cluster.processes} needs the JAX backend: run with KERAS_BACKEND=jax "
            f"(TensorFlow's MultiWorkerMirroredStrategy does not train with fit in Keras "
            f"{keras.__version__}; see docs/distributed.md)", arguments=("processes",))
    import jax
    from jax._src import distributed  # the runtime's client: key-value store, liveness
    from jax._src.lib import _jax

    state = distributed.global_state
    if state.client is not None:
        return
    if cluster.chief:
        _serve(cluster)
    # What jax.distributed.initialize (and keras.distribution.initialize) does in a process
    # other than 0; in process 0 it would also start the service, which runs apart here.
    state.coordinator_address = cluster.coordinator
    state.process_id, state.num_processes = cluster.process_id, cluster.processes
    state.client = _jax.get_distributed_runtime_client(
        cluster.coordinator, cluster.process_id, init_timeout=WAIT_SECONDS,
        heartbeat_timeout=cluster.heartbeat, use_compression=True)
    state.client.connect()
    state.initialize_preemption_sync_manager()
    jax.devices()  # every process starts its backend now: they meet there


#: The chief's coordinator process (coordinator.py).
_SERVICE: list = []


def _serve(cluster: Cluster) -> None:
    """Start the job's coordination service in a process of its own (coordinator.py)."""
    port = int(cluster.coordinator.rpartition(":")[2])
    _wait_for_port(cluster, port)
    service = subprocess.Popen(
        [sys.executable, "-m", "builder.training.coordinator", cluster.coordinator,
         str(cluster.processes), str(cluster.heartbeat), str(cluster.linger)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    said = service.stdout.readline().strip()
    if said != "ready":
        service.wait()
        raise ArgumentError(f"coordinator={cluster.coordinator!r}: the job's coordinator "
                            f"cannot serve there ({said or f'exit {service.returncode}'})",
                            arguments=("coordinator",))
    _SERVICE.append(service)  # its input stays open while this process lives


def _wait_for_port(cluster: Cluster, port: int) -> None:
    """A port still served (by the coordinator of a job that just ended, at most
    ``cluster.linger``) is waited for; one served longer is refused. Two services on one
    port would both answer (gRPC shares ports), so this is asked before serving."""
    deadline = time.monotonic() + cluster.linger + 10
    while _answers(port):
        if time.monotonic() > deadline:
            raise ArgumentError(f"coordinator={cluster.coordinator!r}: port {port} is in "
                                f"use on this host; give the job a free port",
                                arguments=("coordinator",))
        time.sleep(1)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _client():
    from jax._src import distributed

    return distributed.global_state.client


#: Marks a shared value that is the chief's error instead.
_FAILED = "\0failed: "


def share(cluster: Cluster, key: str, make) -> str:
    """The chief's ``make()`` (a string), given to every process of the job; where the
    chief's ``make`` raises a ``UserError``, the others raise it too."""
    if not cluster.multi:
        return make()
    key = f"builder/{key}"
    if cluster.chief:
        try:
            value = make()
        except UserError as e:
            _client().key_value_set(key, _FAILED + str(e), allow_overwrite=True)
            raise
        _client().key_value_set(key, value, allow_overwrite=True)
        return value
    value = _client().blocking_key_value_get(key, WAIT_SECONDS * 1000)
    if value.startswith(_FAILED):
        raise ArgumentError(f"process 0 stopped: {value[len(_FAILED):]}")
    return value


def gather(cluster: Cluster, key: str, value: str) -> list[str]:
    """Every process's ``value``, in process order, for the chief (each of the others
    gets its own alone). Each ``key`` is used once per job."""
    if not cluster.multi:
        return [value]
    key = f"builder/{key}"
    _client().key_value_set(f"{key}/{cluster.process_id}", value, allow_overwrite=True)
    if not cluster.chief:
        return [value]
    return [value] + [_client().blocking_key_value_get(f"{key}/{i}", WAIT_SECONDS * 1000)
                      for i in range(1, cluster.processes)]


def barrier(cluster: Cluster, name: str) -> None:
    """Wait until every process of the job gets here."""
    if cluster.multi:
        _client().wait_at_barrier(f"builder/{name}", WAIT_SECONDS * 1000)


def lost(detail: str, resume: str) -> None:
    """End this process: a peer is gone (one line, exit ``PEER_LOST``)."""
    print(f"error: {detail}; the job cannot go on without it. {resume}", file=sys.stderr,
          flush=True)
    sys.stdout.flush()
    os._exit(PEER_LOST)  # JAX's runtime would abort (or hang at exit) on a dead peer


def watch(cluster: Cluster, resume: str) -> Callable[[], None]:
    """Check the job's processes every ``WATCH_SECONDS`` in a daemon thread; ``lost``
    when one is gone. The returned function stops the watch (the job is done, or this
    process ends) and waits for its thread: a thread still inside a call of JAX's client
    when the interpreter exits aborts the process ("exception not rethrown")."""
    done = threading.Event()
    if not cluster.multi:
        return done.set
    client, everyone = _client(), list(range(cluster.processes))

    def run():
        while not done.wait(WATCH_SECONDS):
            try:
                alive = client.get_live_nodes(everyone)
            except Exception as e:  # the coordinator itself is gone
                if not done.is_set():
                    lost(f"lost the coordinator {cluster.coordinator} "
                         f"({str(e).splitlines()[0][:80]})", resume)
                return
            missing = sorted(set(everyone) - set(alive) - {cluster.process_id})
            if len(alive) < len(everyone) and not done.is_set():
                lost(f"lost process {', '.join(map(str, missing))} of {cluster.processes}"
                     if missing else "the job's runtime failed", resume)

    thread = threading.Thread(target=run, name="builder-peer-watch", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        if thread is not threading.current_thread():
            thread.join(timeout=WATCH_SECONDS + 30)

    return stop


def settle(cluster: Cluster) -> None:
    """After an error in a job of several processes, before it is reported: a collective
    step fails as soon as a peer dies, the runtime tells a dead peer some seconds later;
    wait that long, so that ``watch`` reports the cause (and ends the process) where
    there is one."""
    if cluster.multi:
        time.sleep(cluster.heartbeat + 3 * WATCH_SECONDS)
