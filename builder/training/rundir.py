"""The run directory: owned by one process, written beside its final place, renamed into
it when finished.

A run works in a hidden sibling ``.NAME.partial``, renamed to ``NAME`` only when the run
has finished (``model.keras`` and ``metrics.json`` written), so a directory named ``NAME``
is always a usable run. A run that fails or is interrupted keeps ``.NAME.partial`` when it
has a completed epoch (``--resume --out NAME`` continues it) and removes it otherwise, so
a run that fails before its first epoch leaves nothing behind; ``guard()`` does this in
one place. A run killed outright (SIGKILL, power loss) leaves the partial directory: with
a completed epoch ``--resume`` finishes it (also when the kill came after the last epoch),
without one the next run on the same ``--out`` replaces it.

In a job of several processes (cluster.py) the run is the chief's: it locks and writes
it; the other processes see it as a ``Follower`` and write nothing in it.

While a process uses a run it holds an OS lock on ``.NAME.lock`` beside it (``flock``; the
kernel releases it when the process dies, however it dies): a second ``train`` or
``--resume`` on the same run is refused with the owner's pid and touches nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from pathlib import Path

from ..errors import ArgumentError, writing
from .state import STATE

CHECKPOINTS = "checkpoints"
BLUEPRINT = "blueprint.json"
CONFIG = "config.json"
METRICS = "metrics.json"
MODEL = "model.keras"
HISTORY = "history.csv"
CURVES = "curves.png"
SUMMARY = "summary.txt"
LOGS = "logs"
SKIPPED = "skipped.txt"           # unreadable data files, one path a line (if any)
RUN_FILES = (CONFIG, BLUEPRINT)


def default_out(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def partial_of(final: Path) -> Path:
    return final.parent / f".{final.name}.partial"


def is_run(folder) -> bool:
    return all((Path(folder) / f).is_file() for f in RUN_FILES)


def is_finished(folder) -> bool:
    return is_run(folder) and all((Path(folder) / f).is_file() for f in (MODEL, METRICS))


def has_checkpoint(folder) -> bool:
    return (Path(folder) / CHECKPOINTS / STATE).is_file()


class RunDir:
    """``final`` is where the run ends up, ``partial`` where it is written meanwhile and
    ``path`` where its files are now. Make one with ``new`` or ``existing``; ``guard()``
    ends it."""

    def __init__(self, final: Path, resumed: bool = False):
        self.final = Path(final)
        self.partial = partial_of(self.final)
        self.path = self.partial
        self.resumed = resumed
        self._lock = None
        self._made: list[Path] = []  # parent folders made for the run, deepest last

    @classmethod
    def new(cls, out) -> "RunDir":
        """A fresh run at ``out``, locked; nothing is created but the lock."""
        final = Path(out)
        _check_writable(final)
        run = cls(final)
        run._acquire()
        try:
            if final.exists():
                raise ArgumentError(f"out={str(final)!r} already exists; resume=True "
                                    f"continues that run, or choose another `out`",
                                    arguments=("out", "resume"))
            if has_checkpoint(run.partial):
                raise ArgumentError(f"an unfinished run of out={str(final)!r} is in "
                                    f"{run.partial}; resume=True continues it, or delete it",
                                    arguments=("out", "resume"))
            # A run killed before its first epoch completed: nothing there to resume.
            shutil.rmtree(run.partial, ignore_errors=True)
        except BaseException:
            run.release(tidy=True)
            raise
        return run

    @classmethod
    def existing(cls, out) -> "RunDir":
        """The run at ``out`` (finished, or left unfinished as ``.NAME.partial``), locked;
        nothing is moved until ``create()``."""
        if out is None:
            raise ArgumentError("resume=True needs `out`, the run directory to continue",
                                arguments=("resume", "out"))
        run = cls(Path(out), resumed=True)
        run._acquire()
        try:
            run.path = run._resumable()
        except BaseException:
            run.release()
            raise
        return run

    def _resumable(self) -> Path:
        final, partial = self.final, self.partial
        if partial.exists() and final.exists():
            raise ArgumentError(f"both {final} and {partial} exist; remove the one not to "
                                f"continue")
        where = partial if partial.exists() else final
        if not where.exists():
            raise ArgumentError(f"resume=True: there is no run at {final}",
                                arguments=("resume",))
        if not is_run(where):
            raise ArgumentError(f"resume=True: {where} is not a run directory (no config.json "
                                f"and blueprint.json)", arguments=("resume",))
        if not has_checkpoint(where):
            again = ("train again without resume=True (that replaces it)" if where == partial
                     else "delete it and train again")
            raise ArgumentError(f"resume=True: {where} has no completed epoch to continue "
                                f"from; {again}", arguments=("resume",))
        if not os.access(where, os.W_OK):
            raise ArgumentError(f"resume=True: cannot write in {where}", arguments=("resume",))
        return where

    def create(self) -> None:
        """Start writing: make the partial directory (a resumed run moves there)."""
        try:
            if self.path == self.final:
                os.rename(self.final, self.partial)  # work beside, as a new run does
            else:
                self.partial.mkdir(parents=True, exist_ok=self.resumed)
        except OSError as e:
            raise ArgumentError(f"out={str(self.final)!r}: cannot create {self.partial}: "
                                f"{e.strerror}", arguments=("out",)) from None
        self.path = self.partial

    def file(self, name: str) -> Path:
        """A file of the run, where it is now."""
        return self.path / name

    @contextlib.contextmanager
    def guard(self):
        """The run's life: moved into place when the block ends normally; on any failure
        (an error, Ctrl-C, NaN) a partial directory is kept when it has a completed epoch
        to resume from, else removed; a finished run not yet moved stays as it was. The
        lock is released either way."""
        try:
            yield self
        except BaseException:
            if self.path == self.partial and not has_checkpoint(self.path):
                shutil.rmtree(self.path, ignore_errors=True)
                self.release(tidy=True)
            self.release()
            raise
        try:
            if self.path == self.partial:
                os.rename(self.partial, self.final)
                self.path = self.final
        finally:
            self.release()

    # --- the lock ------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.final.parent / f".{self.final.name}.lock"

    def _acquire(self) -> None:
        missing = self.final.parent
        while not missing.exists():
            self._made.insert(0, missing)
            missing = missing.parent
        with writing(self.final.parent):
            self.final.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another"
                os.close(fd)
                raise ArgumentError(f"out={str(self.final)!r} is in use by process {owner} "
                                    f"(a run belongs to one process at a time)",
                                    arguments=("out",)) from None
            # The file may have been removed by its last owner after we opened it.
            if _same_file(fd, self.lock_path):
                break
            os.close(fd)
        try:
            with writing(self.lock_path):  # a full disk fails here first
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
        except BaseException:
            self._lock = fd
            self.release(tidy=True)
            raise
        self._lock = fd

    def release(self, tidy: bool = False) -> None:
        """Give up the lock; ``tidy`` also removes the parent folders made for the run
        where they are still empty (a run that wrote nothing leaves nothing)."""
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
            os.close(self._lock)  # closing releases the flock
            self._lock = None
        if tidy:
            for folder in reversed(self._made):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty
            self._made = []


class Follower(RunDir):
    """The run of a job of several processes as the others than its chief see it: they
    read it (a resumed run's config and checkpoint) but never write, lock or move it."""

    def __init__(self, final: Path, path: Path):
        super().__init__(final, resumed=True)
        self.path = Path(path)

    def create(self) -> None:
        self.path = self.partial  # where the chief now writes

    @contextlib.contextmanager
    def guard(self):
        yield self

    def release(self, tidy: bool = False) -> None:
        pass


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _check_writable(final: Path) -> None:
    parent = final.parent if str(final.parent) else Path(".")
    probe = parent
    while not probe.exists():  # the first folder that exists must be writable
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ArgumentError(f"out={str(final)!r}: cannot write in {probe}", arguments=("out",))
