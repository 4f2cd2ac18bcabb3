"""Errors a user can cause, and how the command line reports them.

A ``UserError`` means the input was wrong (a blueprint, an argument, a file, the data):
the command line prints it as one line ``error: ...`` and exits with status 2. Any other
exception is a fault of the program itself (exit status 1).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
from typing import Iterable


class UserError(Exception):
    """Base class for mistakes in what the user gave us.

    The message names function arguments as Python spells them, either with a value
    (``out='runs/x'``, ``resume=True``) or alone in backquotes (`` `learning_rate` ``);
    ``arguments`` lists the ones it names, so that the command line can write them as its
    flags (``--out runs/x``, ``--resume``, ``--learning-rate``) while Python callers read
    the names they passed.
    """

    def __init__(self, message: str = "", *, arguments: tuple[str, ...] = ()):
        super().__init__(message)
        self.arguments = tuple(arguments)


class BlueprintError(UserError, ValueError):
    """A blueprint is invalid: a wrong field, an impossible shape, an unknown name.

    ``path`` names where in the blueprint (``body/stage2/block1/conv2``) or which file.
    """

    def __init__(self, message: str, path: str | None = None, *,
                 arguments: tuple[str, ...] = ()):
        self.path = path
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message, arguments=arguments)


class DataError(UserError):
    """The data cannot be read or does not fit the blueprint."""


class ArgumentError(UserError):
    """A command-line option or a function argument has a bad value."""


class DiskFull(UserError):
    """The disk (or the user's quota) filled up while ``path`` was written."""

    def __init__(self, path, detail: str = "", *, arguments: tuple[str, ...] = ()):
        self.path = str(path)
        super().__init__(f"no space left on the device to write {self.path}"
                         + (f"; {detail}" if detail else ""), arguments=arguments)


#: errno values of a full disk or quota.
FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def writing(path):
    """Run the block that writes ``path``; a full disk or quota there raises ``DiskFull``
    naming the file (an OSError of a failed write carries no file name)."""
    try:
        yield
    except OSError as e:
        if e.errno not in FULL:
            raise
        raise DiskFull(e.filename or path) from e


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_of(choices: Iterable[str]) -> str:
    """Format valid choices for a message: ``one of 'a', 'b', 'c'``."""
    return "one of " + ", ".join(repr(c) for c in choices)
