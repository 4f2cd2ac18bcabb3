"""Jobs of several processes on 127.0.0.1 (JAX backend, CPU): the cluster read from
arguments and the environment, each process's shard of every epoch, the chief's one
record, a lost peer, and the commands of docs/distributed.md."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from builder.errors import ArgumentError
from builder.training.cluster import PEER_LOST, resolve

from conftest import ROOT, cli_env

JAX = {"KERAS_BACKEND": "jax", "XLA_FLAGS": ""}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the cluster

def test_cluster_from_arguments_then_builder_variables_then_slurm():
    assert resolve(2, 1, "h:1", environ={}).processes == 2
    assert not resolve(environ={}).multi
    env = {"BUILDER_PROCESSES": "4", "BUILDER_PROCESS_ID": "3", "BUILDER_COORDINATOR": "a:5",
           "SLURM_NTASKS": "8", "SLURM_PROCID": "1"}
    c = resolve(environ=env)
    assert (c.processes, c.process_id, c.coordinator, c.origin) == (4, 3, "a:5", "BUILDER_*")
    slurm = {"SLURM_NTASKS": "8", "SLURM_PROCID": "1", "SLURM_LAUNCH_NODE_IPADDR": "10.0.0.1"}
    c = resolve(environ=slurm)
    assert (c.processes, c.process_id, c.coordinator, c.origin) == (8, 1, "10.0.0.1:12321",
                                                                    "SLURM")
    assert resolve(environ={**slurm, "BUILDER_PORT": "999"}).coordinator == "10.0.0.1:999"
    # arguments win over the environment
    assert resolve(2, 0, "h:2", environ=env).coordinator == "h:2"
    # the heartbeat timeout (seconds of silence after which a process is lost)
    assert resolve(environ={}).heartbeat == 20
    assert resolve(2, 0, "h:1", environ={"BUILDER_HEARTBEAT_SECONDS": "6"}).heartbeat == 6
    with pytest.raises(ArgumentError, match="BUILDER_HEARTBEAT_SECONDS='1' must be a whole "
                                            "number of at least 2") as e:
        resolve(2, 0, "h:1", environ={"BUILDER_HEARTBEAT_SECONDS": "1"})
    assert e.value.arguments == ()   # a variable: the command line names no flag for it
    # a job of one never reads it
    assert resolve(environ={"BUILDER_HEARTBEAT_SECONDS": "x"}).heartbeat == 20


@pytest.mark.parametrize("args, named", [((2, 2, "h:1"), "process_id"),
                                         ((0, 0, "h:1"), "processes"),
                                         ((2, 0, None), "coordinator"),
                                         ((2, 0, "nohost"), "coordinator"),
                                         ((2, 0, "h:99999"), "coordinator")])
def test_a_bad_cluster_names_its_argument(args, named):
    with pytest.raises(ArgumentError) as e:
        resolve(*args, environ={})
    assert named in e.value.arguments


def test_several_processes_on_tensorflow_point_to_jax(cli, tmp_path):
    result = cli("train", "lenet5", "--processes", "2", "--process-id", "0", "--coordinator",
                 f"127.0.0.1:{free_port()}", "--out", tmp_path / "run",
                 env={"KERAS_BACKEND": "tensorflow"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "KERAS_BACKEND=jax" in lines[0] and "--processes" in lines[0]
    assert not (tmp_path / "run").exists()


def test_mirrored_on_one_device_warns_with_the_fix():
    import keras

    from builder.training.strategy import place

    said = []
    placement = place("mirrored", say=said.append)
    assert placement.replicas == 1 and keras.backend.backend() == "tensorflow"
    assert len(said) == 1 and said[0].startswith("warning: strategy='mirrored' found one device")
    assert "set_logical_device_configuration" in said[0] and "KERAS_BACKEND=jax" in said[0]


# --------------------------------------------------------------------------- the shards

def _dataset(n, batch, shuffle=True):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from builder.data.adapt import Plan
    from builder.data.py_dataset import ArrayDataset

    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return ArrayDataset(x, np.arange(n), Plan((1, 1, 1), (1, 1, 1), 1.0), batch_size=batch,
                        shuffle=shuffle, seed=3)


@pytest.mark.parametrize("n, processes, devices", [(101, 2, 1), (100, 4, 1), (103, 2, 2),
                                                   (97, 3, 2)])
def test_local_batches_together_are_the_global_batch(n, processes, devices):
    """Batch k of every process together is batch k of one process (the same examples),
    every process takes the same steps with batches of the same size, and each reads
    its own part: disjoint, about 1/processes of the examples."""
    from builder.data import Shard

    whole = _dataset(n, 8 * processes * devices)
    parts = []
    for i in range(processes):
        d = _dataset(n, 8 * processes * devices)
        d.share(Shard(i, processes), 8 * devices, devices)
        parts.append(d)
    assert len({len(d) for d in parts}) == 1
    for k in range(len(parts[0])):
        local = [d[k][1] for d in parts]
        assert len({len(b) for b in local}) == 1 and len(local[0]) % devices == 0
        together, expected = set(np.concatenate(local)), set(whole[k][1])
        # the same examples, but for the few the last batch leaves out
        assert together <= expected and len(expected - together) < processes * devices
    read = [np.concatenate([d[k][1] for k in range(len(d))]) for d in parts]
    assert len(np.unique(np.concatenate(read))) == sum(map(len, read))
    assert all(len(r) <= n // processes for r in read)
    left_out = parts[0].examples_left_out()
    assert left_out == n - sum(map(len, read)) and left_out < processes * devices + processes


def test_the_coordinator_counts_who_is_connected_and_a_busy_port_is_refused(monkeypatch):
    """The coordinator serves while a process is connected to it (coordinator.py); a
    chief finding its port served by something else waits, then names `coordinator`."""
    from builder.training import cluster, coordinator

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert coordinator.connections(port) == 0
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        assert coordinator.connections(port) == 1
        client.close()
        accepted.close()
        assert coordinator.connections(port) == 0
        monkeypatch.setattr(cluster, "WATCH_SECONDS", -10)  # no waiting for it to end
        with pytest.raises(ArgumentError, match=f"port {port} is in use") as e:
            cluster._serve(resolve(2, 0, f"127.0.0.1:{port}",
                                   environ={"BUILDER_HEARTBEAT_SECONDS": "2"}))
        assert e.value.arguments == ("coordinator",)


# --------------------------------------------------------------------------- jobs

DRIVER = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    import builder.training.trainer as trainer

    phases = trainer.train_phases

    def train_phases(session, verbose, say):
        phases(session, verbose, say)
        blob = b"".join(np.asarray(v.value.addressable_shards[0].data).tobytes()
                        for v in session.model.weights)
        data = session.plan.data.train
        read = sum(len(data[k][1]) for k in range(len(data)))
        print("REPORT", json.dumps({"weights": hashlib.sha256(blob).hexdigest(),
                                    "read": read, "vector": [float(v) for v in
                                    np.concatenate([np.ravel(np.asarray(
                                        w.value.addressable_shards[0].data))
                                        for w in session.model.trainable_weights])[:2000]]}),
              flush=True)

    trainer.train_phases = train_phases
    from builder.cli import main
    sys.exit(main(sys.argv[1:]))
""")

SMALL = ("--epochs", "2", "--batch-size", "64", "--augment", "none", "--precision", "float32")


def _job(tmp_path, processes, args, env=None, driver=True):
    """Start the processes of one job (each ``python DRIVER train ARGS``)."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    port = free_port()
    procs = []
    for i in range(processes):
        command = [sys.executable, "-u", str(script) if driver else "-m", *(
            [] if driver else ["builder"]), "train", *map(str, args)]
        if processes > 1:
            command += ["--processes", str(processes), "--process-id", str(i),
                        "--coordinator", f"127.0.0.1:{port}"]
        procs.append(subprocess.Popen(command, env=cli_env({**JAX, **(env or {})}),
                                      cwd=tmp_path, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def _finish(procs, timeout=900):
    out = [p.communicate(timeout=timeout) for p in procs]
    for p, (o, e) in zip(procs, out):
        assert p.returncode == 0, e[-3000:]
    return out


def _report(stdout: str) -> dict:
    return json.loads(re.search(r"^REPORT (.*)$", stdout, re.M).group(1))


@pytest.mark.slow
def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path):
    procs = _job(tmp_path, 2, ["lenet5", *SMALL, "--out", "two"])
    reports = [_report(o) for o, _ in _finish(procs)]
    # One process on the same pipeline (auto gives a job of several the numpy one).
    single = [_report(o) for o, _ in _finish(_job(tmp_path, 1, ["lenet5", *SMALL, "--pipeline",
                                                                "numpy", "--out", "one"]))][0]
    assert reports[0]["weights"] == reports[1]["weights"]           # identical weights
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    n = config["data"]["num_train"]
    assert reports[0]["read"] == reports[1]["read"] == n // 2        # half each per epoch
    assert single["read"] == n
    np.testing.assert_allclose(reports[0]["vector"], single["vector"], rtol=1e-4, atol=1e-5)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert abs(two["test_loss"] - one["test_loss"]) < 1e-3
    distribution = config["distribution"]
    assert (distribution["processes"], distribution["devices_per_process"],
            distribution["global_batch"], distribution["batch_per_process"]) == (2, 1, 64, 32)
    assert distribution["coordinator"].startswith("127.0.0.1:")
    # one record: nothing else was written beside the chief's run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driver.py", "one", "two"]


@pytest.mark.slow
def test_two_processes_of_two_devices_stream_their_own_shards_and_finish_evaluation(tmp_path):
    """A folder streams through tf.data in each process of 2 devices: its own equal shard,
    in its part of the global batch, every split to its last batch cut over the devices;
    a corrupt file in either shard keeps the processes in step (the same metrics in
    both) and is listed in the chief's skipped.txt; the precision is the chief's."""
    from test_streaming import write_folder

    data = write_folder(tmp_path / "pets", 101, corrupt=("c1/zz_bad.jpg",))
    procs = _job(tmp_path, 2, ["lenet5", "--data", f"folder:{data}", "--epochs", "1",
                               "--batch-size", "36", "--max-bad-files", "0.05", "--out", "run"],
                 env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, driver=False)
    outputs = _finish(procs)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["pipeline"] == "tf"
    assert config["data"]["num_train"] % 2 == 0                # equal shards
    distribution = config["distribution"]
    assert (distribution["devices_per_process"], len(distribution["devices"]),
            distribution["batch_per_process"]) == (2, 4, 18)
    assert "over 4 devices of 2 processes" in outputs[0][0]
    last = [re.findall(r"^.*step - accuracy.*$", o, re.M)[-1].split("step - ")[1]
            for o, _ in outputs]
    assert last[0] == last[1]                                  # in step, one model
    assert (tmp_path / "run" / "skipped.txt").read_text().split() == [
        str(data / "c1" / "zz_bad.jpg")]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["unreadable_files"] == 1 and "test_accuracy" in metrics
    assert sum("precision auto" in o + e for o, e in outputs) == 1  # said once


def _epochs_done(tmp_path) -> int:
    state = tmp_path / ".run.partial" / "checkpoints" / "state.json"
    try:
        return json.loads(state.read_text())["epochs_completed"]
    except (OSError, ValueError, KeyError):
        return 0


def _kill_after_epoch(tmp_path, procs, victim: int, epoch: int) -> str:
    """SIGKILL process ``victim`` once the run has checkpointed ``epoch``; the other ends
    within 60 s with one line naming the victim and exit ``PEER_LOST``: its stderr."""
    deadline = time.time() + 600
    while _epochs_done(tmp_path) < epoch and time.time() < deadline and all(
            p.poll() is None for p in procs):
        time.sleep(0.5)
    assert _epochs_done(tmp_path) >= epoch, procs[0].communicate()[1][-2000:]
    time.sleep(1)
    procs[victim].send_signal(signal.SIGKILL)
    killed = time.time()
    survivor = procs[1 - victim]
    _, err = survivor.communicate(timeout=120)
    procs[victim].communicate()
    assert time.time() - killed < 60
    assert survivor.returncode == PEER_LOST, err[-3000:]
    assert time.time() - killed < 40                          # the 6 s heartbeat
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and f"lost process {victim} of 2" in lines[0], err[-2000:]
    assert "--resume --out" in lines[0] and "internal error" not in err
    assert "Terminating process" not in err                   # not JAX's abort
    assert not (tmp_path / "run").exists()                    # no final run without metrics
    return err


@pytest.mark.slow
def test_a_lost_process_ends_the_job_clearly_and_resume_finishes_it(tmp_path):
    """A worker dies, then (in the resumed job) the chief: each time the other process
    ends with one line; a third start finishes the run."""
    args = ["lenet5", "--epochs", "4", "--batch-size", "64", "--precision", "float32",
            "--out", "run"]
    quick = {"BUILDER_HEARTBEAT_SECONDS": "6"}  # lost after 6 s of silence, not 20
    _kill_after_epoch(tmp_path, _job(tmp_path, 2, args, env=quick, driver=False), victim=1,
                      epoch=1)
    resumed = _epochs_done(tmp_path)
    procs = _job(tmp_path, 2, ["--resume", "--out", "run"], env=quick, driver=False)
    _kill_after_epoch(tmp_path, procs, victim=0, epoch=resumed + 1)
    outputs = _finish(_job(tmp_path, 2, ["--resume", "--out", "run"], env=quick, driver=False))
    assert all("resuming" in o for o, _ in outputs)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 4


# --------------------------------------------------------------------------- the docs

def doc_commands() -> list[str]:
    text = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def test_the_docs_have_commands():
    assert len(doc_commands()) >= 2


SRUN = """#!/bin/bash
# A stand-in for srun: --ntasks N COMMAND... runs N copies with SLURM's variables.
n=$2; shift 2; pids=()
for ((i = 0; i < n; i++)); do
  SLURM_NTASKS=$n SLURM_PROCID=$i SLURM_LAUNCH_NODE_IPADDR=127.0.0.1 "$@" & pids+=($!)
done
rc=0; for p in "${pids[@]}"; do wait $p || rc=$?; done; exit $rc
"""


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(doc_commands())))
def test_every_command_of_the_distributed_docs_runs(index, tmp_path):
    """Each bash block of docs/distributed.md, as written, with one epoch less, a free
    port, ``builder`` as this checkout's command line and a stand-in for ``srun``."""
    block = re.sub(r"--epochs (\d+)", lambda m: f"--epochs {int(m.group(1)) - 1}",
                   doc_commands()[index])
    port = free_port()
    block = block.replace("12321", str(port))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "builder").write_text(f"#!/bin/sh\nexec {sys.executable} -m builder \"$@\"\n")
    (shim / "srun").write_text(SRUN)
    for tool in shim.iterdir():
        tool.chmod(0o755)
    env = cli_env({"PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "XLA_FLAGS": "",
                   "BUILDER_PORT": str(port)})
    result = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()
