"""``train``: a blueprint, data and options in; a finished run directory out.

Read as a list, it is the design: plan (every check, nothing written) -> own the run
directory -> start the session (place, precision, build or restore, compile, record) ->
train its phases -> finish (save, test, metrics, curves). The run directory is written
beside its final place and moved into it only when finished (``RunDir.guard``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import FULL, ArgumentError, DiskFull, UserError
from .cluster import Cluster, barrier, join, resolve, settle, share, watch
from .finish import TrainingStopped, final_paragraph, finish, stopped_error
from .options import TrainOptions
from .plan import plan_new, plan_resume
from .rundir import Follower, RunDir, default_out, has_checkpoint
from .session import start, train_phases

__all__ = ["TrainingStopped", "train"]


def train(spec=None, options: TrainOptions | None = None, *, out=None, resume: bool = False,
          input_shape=None, classes=None, epochs: int | None = None, edits: dict | None = None,
          say=print, verbose: int | str = "auto", processes: int | None = None,
          process_id: int | None = None, coordinator: str | None = None) -> dict:
    """Train a blueprint and write a run directory; returns metrics.json's content plus
    ``run`` (the run directory).

    ``spec`` is anything ``builder.load`` takes, or a blueprint; ``edits`` are
    ``builder.edit`` changes applied to it. With ``resume`` the run at ``out`` continues
    from its last completed epoch with its own options (``epochs`` may extend it).
    ``processes``, ``process_id`` and ``coordinator`` (else the environment: cluster.py)
    make this process one of a job that trains together; process 0 writes the run.
    Raises ``UserError`` subclasses for bad input, before anything is written.
    """
    cluster = resolve(processes, process_id, coordinator)
    join(cluster)  # before anything else touches JAX
    if resume:
        run = _existing(out, cluster)
    else:
        options = options or TrainOptions()
        options = options.replace(epochs=epochs) if epochs is not None else options
        plan = plan_new(spec, options, input_shape=input_shape, classes=classes, edits=edits,
                        say=say)
        run = _new(out if out is not None else default_out(plan.blueprint.name), cluster)
    verbose = verbose if verbose != "auto" else (1 if sys.stdout.isatty() else 2)
    stop_watching = watch(cluster, f"`--resume --out {run.final}` on every process continues it")
    try:
        with run.guard():
            if resume:
                plan = _resumed_plan(run, epochs, cluster)
                say(f"resuming {run.final} after epoch {plan.resumed.state.epochs_completed} "
                    f"of {plan.options.epochs}")
            try:
                session = start(plan, run, say, cluster)
                train_phases(session, verbose, say)
                metrics = finish(session)
            except UserError:
                raise
            except Exception:
                settle(cluster)  # a lost peer ends the process there, with its own line
                raise
            stop_watching()
            barrier(cluster, "finished")
    except KeyboardInterrupt:
        raise _interrupted(run) from None
    except DiskFull as e:
        raise _disk_full(run, e.path) from None
    except OSError as e:  # a full disk where no `writing` block named the file
        if e.errno not in FULL:
            raise
        raise _disk_full(run, e.filename or run.path) from None
    finally:
        stop_watching()
    if session.nan is not None:
        raise stopped_error(session)
    say(final_paragraph(session, metrics))
    return {**metrics, "run": str(run.final)}


def _new(out, cluster: Cluster) -> RunDir:
    """A new run at ``out``: the chief's, locked; the others follow it."""
    return _owned(cluster, lambda: RunDir.new(out))


def _existing(out, cluster: Cluster) -> RunDir:
    """The run at ``out`` to continue: the chief's, locked; the others follow it."""
    return _owned(cluster, lambda: RunDir.existing(out))


def _owned(cluster: Cluster, make) -> RunDir:
    runs = []

    def own() -> str:
        runs.append(make())
        return json.dumps([str(runs[0].final), str(runs[0].path)])

    final, path = json.loads(share(cluster, "run", own))
    return runs[0] if cluster.chief else Follower(Path(final), Path(path))


def _resumed_plan(run: RunDir, epochs, cluster: Cluster):
    """The plan of a resumed run; every process of a job must see the same epoch."""
    plan = plan_resume(run, epochs)
    done = plan.resumed.state.epochs_completed
    chief = int(share(cluster, "resumed_epoch", lambda: str(done)))
    if chief != done:
        raise ArgumentError(f"process {cluster.process_id} finds epoch {done} in {run.path} "
                            f"where process 0 finds epoch {chief}: `out` must be one folder "
                            f"that every process reads", arguments=("out",))
    return plan


def _disk_full(run: RunDir, path) -> DiskFull:
    if has_checkpoint(run.partial):
        return DiskFull(path, f"the run is kept in {run.partial}: free some space, then "
                              f"resume=True with out={str(run.final)!r} continues it",
                        arguments=("resume", "out"))
    return DiskFull(path, "nothing was kept; free some space and train again")


def _interrupted(run: RunDir) -> KeyboardInterrupt:
    if run.partial.exists():
        error = KeyboardInterrupt(f"the run is kept in {run.partial}; resume=True with "
                                  f"out={str(run.final)!r} continues it")
        error.arguments = ("resume", "out")
        return error
    return KeyboardInterrupt("")
