"""The run directory, written beside its final place and renamed into it.

A run works in a hidden sibling ``.NAME.partial``. It is renamed to ``NAME`` when the
run finishes, or when it stops early (NaN, Ctrl-C, an error) with at least one usable
epoch checkpoint; otherwise it is removed, so a run that fails before its first epoch
leaves nothing behind. A run killed outright (SIGKILL, power loss) leaves the partial
directory, which ``--resume --out NAME`` continues.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..errors import ArgumentError
from .callbacks import STATE

CHECKPOINTS = "checkpoints"
RUN_FILES = ("config.json", "blueprint.json")


def default_out(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def partial_of(final: Path) -> Path:
    return final.parent / f".{final.name}.partial"


def is_run(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in RUN_FILES)


def has_checkpoint(folder: Path) -> bool:
    return (Path(folder) / CHECKPOINTS / STATE).is_file()


class RunDir:
    """``final`` is where the run ends up; ``path`` is where it is written meanwhile."""

    def __init__(self, final: Path, resumed: bool):
        self.final = Path(final)
        self.path = partial_of(self.final)
        self.resumed = resumed

    @classmethod
    def new(cls, out) -> "RunDir":
        """Check that a fresh run can be written at ``out`` (nothing is created yet)."""
        final = Path(out)
        if final.exists():
            raise ArgumentError(f"--out {final} already exists; pass --resume to continue "
                                f"that run, or choose another --out")
        if partial_of(final).exists():
            raise ArgumentError(f"an unfinished run of --out {final} is in "
                                f"{partial_of(final)}; pass --resume to continue it, or "
                                f"delete it")
        parent = final.parent if str(final.parent) else Path(".")
        probe = parent
        while not probe.exists():  # the first folder that exists must be writable
            probe = probe.parent
        if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            raise ArgumentError(f"--out {final}: cannot write in {probe}")
        return cls(final, resumed=False)

    @classmethod
    def existing(cls, out) -> "RunDir":
        """The run at ``out`` (finished, or left unfinished as ``.NAME.partial``)."""
        if out is None:
            raise ArgumentError("--resume needs --out RUN, the run directory to continue")
        final = Path(out)
        partial = partial_of(final)
        if partial.exists() and final.exists():
            raise ArgumentError(f"both {final} and {partial} exist; remove the one not to "
                                f"continue")
        where = partial if partial.exists() else final
        if not where.exists():
            raise ArgumentError(f"--resume: there is no run at {final}")
        if not is_run(where):
            raise ArgumentError(f"--resume: {where} is not a run directory (no config.json "
                                f"and blueprint.json)")
        if not has_checkpoint(where):
            raise ArgumentError(f"--resume: {where} has no completed epoch to continue from; "
                                f"delete it and start again")
        if not os.access(where, os.W_OK):
            raise ArgumentError(f"--resume: cannot write in {where}")
        run = cls(final, resumed=True)
        if where == final:
            os.rename(final, partial)  # work beside, as a new run does
        return run

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=self.resumed)
        except OSError as e:
            raise ArgumentError(f"--out {self.final}: cannot create {self.path}: "
                                f"{e.strerror}") from None

    def file(self, name: str) -> Path:
        return self.path / name

    def close(self, keep: bool) -> Path | None:
        """Rename into place (``keep``) or remove; returns the final path if kept."""
        if not self.path.exists():
            return None
        if keep:
            os.rename(self.path, self.final)
            return self.final
        shutil.rmtree(self.path, ignore_errors=True)
        return None
