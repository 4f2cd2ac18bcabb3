"""A run directory belongs to one process, and no kill or full disk leaves a dead end.

Two real processes on one ``--out``: the second is refused with the owner's pid and
changes nothing. A run SIGKILLed at any point of its life ends, through ``--resume`` (or a
fresh start where nothing resumable was kept), in a run that ``evaluate`` accepts. A full
disk names the file and says whether the run can be resumed.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from builder.cli import main
from conftest import cli_env, start_cli

QUICK = ["--precision", "float32", "--strategy", "none", "--augment", "none"]
# A small network on the digits at their own 8x8: an epoch takes a fraction of a second.
TINY = {"type": "Network", "name": "tiny", "input_shape": [8, 8, 1],
        "body": {"type": "Sequence", "layers": [{"type": "Conv2D", "filters": 8,
                                                 "kernel_size": 3, "name": "conv"}]},
        "head": {"type": "ClassifierHead", "classes": 10}}


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return str(path)


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.is_dir() or p.read_bytes())
                  for p in folder.rglob("*"))


def wait_for(condition, process, seconds=240):
    deadline = time.time() + seconds
    while not condition():
        assert process.poll() is None, "the run ended before the test could catch it"
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def run_main(args) -> int:
    try:
        return main(args)
    except SystemExit as e:
        return e.code


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# ------------------------------------------------------------------ one process per run

@pytest.mark.slow
def test_a_second_process_on_a_running_run_is_refused_and_changes_nothing(tmp_path, spec,
                                                                          capsys):
    """The first run trains in a process of its own; this test's process is the second."""
    out = tmp_path / "R"
    first = start_cli("train", spec, *QUICK, "--epochs", "3", "--out", out)
    lock = tmp_path / ".R.lock"
    try:
        wait_for(lambda: lock.exists() and lock.read_text() == str(first.pid), first)
        os.kill(first.pid, signal.SIGSTOP)  # it holds the run while the second tries
        try:
            before = snapshot(tmp_path)
            capsys.readouterr()
            codes = [run_main(["train", spec, *QUICK, "--out", str(out)]),
                     run_main(["train", "--resume", "--out", str(out)])]
            printed = capsys.readouterr()
            after = snapshot(tmp_path)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert codes == [2, 2] and printed.out == ""
    refusal = f"error: --out {out} is in use by process {first.pid} "
    assert [line[:len(refusal)] for line in printed.err.splitlines()] == [refusal] * 2
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R", "tiny.json"]
    assert run_main(["evaluate", str(out)]) == 0


# ------------------------------------------------------------------ kills at any point

# Runs `builder` in a process that SIGKILLs itself at POINT (argv[1]) of the run's life.
KILLER = textwrap.dedent("""
    import os, signal, sys

    from builder.training import callbacks, finish, session, state, trainer

    point = sys.argv[1]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(module, name, when=lambda *a: True):
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            if when(*args):
                die()
            return result
        setattr(module, name, wrapped)

    def before(module, name, when=lambda *a: True):
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            if when(*args):
                die()
            return original(*args, **kwargs)
        setattr(module, name, wrapped)

    epochs_done = lambda self, *a: self.state.epochs_completed
    if point == "record":            # config.json, blueprint.json written; no epoch
        after(trainer, "start")
    elif point == "first-epoch":     # in the middle of epoch 1
        callbacks.Throughput.on_train_batch_end = lambda self, *a, **k: die()
    elif point == "second-epoch":    # in the middle of epoch 2, after checkpoint 1
        callbacks.Throughput.on_train_batch_end = (
            lambda self, *a, **k: die() if self.state.epochs_completed == 1 else None)
    elif point == "checkpoint":      # epoch-2.keras written, state.json not yet
        before(state.TrainState, "save", lambda self, *a: self.epochs_completed == 2)
    elif point == "last-checkpoint": # checkpoint 2 complete, model.keras not yet
        after(callbacks.EpochCheckpoint, "on_epoch_end",
              lambda self, *a: self.state.epochs_completed == 2)
    elif point == "history":         # checkpoint 2 complete, history.csv has epoch 1
        before(session, "write_history", lambda path, rows: len(rows) == 2)
    elif point == "model":           # model.keras written, metrics.json not yet
        before(finish, "write_json")
    elif point == "finished":        # every file written, not yet moved into place
        after(trainer, "finish")
    from builder.cli import main
    sys.exit(main(sys.argv[2:]))
""")

POINTS = ["record", "first-epoch", "second-epoch", "checkpoint", "history", "last-checkpoint",
          "model", "finished"]


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_resume_after_a_kill_at_any_point_ends_in_a_usable_run(tmp_path, spec, point, capsys):
    out, partial = tmp_path / "R", tmp_path / ".R.partial"
    train = ["train", spec, *QUICK, "--epochs", "2", "--batch-size", "64", "--out", str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLER, point, *train], env=cli_env(),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert partial.is_dir() and not out.exists()
    resumable = (partial / "checkpoints" / "state.json").exists()
    assert resumable == (point not in ("record", "first-epoch"))

    capsys.readouterr()
    if resumable:
        assert run_main(["train", "--resume", "--out", str(out)]) == 0
    else:  # nothing to resume: --resume says so, and a fresh start replaces the remains
        assert run_main(["train", "--resume", "--out", str(out)]) == 2
        assert "train again without --resume" in one_line(capsys.readouterr().err)
        assert run_main(train) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R", "tiny.json"]
    history = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2"]
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 2
    assert {"model.keras", "curves.png", "config.json", "blueprint.json"} <= \
        {p.name for p in out.iterdir()}
    assert run_main(["evaluate", str(out)]) == 0
    assert run_main(["train", "--resume", "--out", str(out)]) == 2  # finished: nothing to do


# ------------------------------------------------------------------ a full disk

def _full_disk_at(monkeypatch, module, name, calls: int):
    """``module.name`` raises ENOSPC from its ``calls``-th call on, as a full disk does."""
    original, count = getattr(module, name), []

    def full(*args, **kwargs):
        count.append(1)
        if len(count) >= calls:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, full)


@pytest.mark.slow
def test_a_full_disk_names_the_file_and_keeps_a_resumable_run(tmp_path, spec, monkeypatch,
                                                              capsys):
    from builder.training.state import TrainState

    out = tmp_path / "R"
    _full_disk_at(monkeypatch, TrainState, "save", calls=2)  # epoch 2's state.json
    assert run_main(["train", spec, *QUICK, "--epochs", "3", "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    partial = tmp_path / ".R.partial"
    assert (f"no space left on the device to write {partial / 'checkpoints' / 'state.json'}; "
            f"the run is kept in {partial}") in line
    assert f"--resume with --out {out} continues it" in line
    monkeypatch.undo()  # space freed
    assert run_main(["train", "--resume", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 3


@pytest.mark.slow
def test_a_full_disk_before_the_first_epoch_keeps_nothing(tmp_path, spec, monkeypatch, capsys):
    from builder.training import session

    _full_disk_at(monkeypatch, session, "write_json", calls=1)  # config.json
    out = tmp_path / "deeper" / "R"
    assert run_main(["train", spec, *QUICK, "--epochs", "1", "--out", str(out)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"to write {tmp_path / 'deeper' / '.R.partial' / 'config.json'}" in line
    assert "nothing was kept" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json"]
