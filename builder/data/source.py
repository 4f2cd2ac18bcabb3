"""Data source strings: ``digits``, ``synthetic``, ``folder:PATH``, ``npz:PATH``,
``tfds:NAME[:SPLIT]``.

``parse_source`` checks a source string and normalizes it (paths made absolute, the
tfds split made explicit) without reading any data.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from builder.errors import DataError, did_you_mean, one_of

#: The kinds of data source, in the order the help text lists them.
SOURCES: tuple[str, ...] = ("digits", "synthetic", "folder", "npz", "tfds")

#: How each kind is written, for messages and help text.
SOURCE_FORMS: dict[str, str] = {
    "digits": "digits",
    "synthetic": "synthetic",
    "folder": "folder:PATH",
    "npz": "npz:PATH",
    "tfds": "tfds:NAME[:SPLIT]",
}

_NEEDS_ARGUMENT = {"folder": "a directory", "npz": "an .npz file", "tfds": "a dataset name"}
# A tfds version such as 3.0.1 or 3.*.* may follow the name: tfds:mnist:3.0.1:train.
_VERSION = re.compile(r"^\d+\.(\d+|\*)\.(\d+|\*)$")


@dataclass(frozen=True)
class Source:
    """A parsed data source.

    ``kind`` is one of ``SOURCES``; ``arg`` the absolute path (folder, npz) or the
    dataset name (tfds, possibly ``name/config:version``); ``split`` the tfds split
    used for training (``train`` unless given).
    """

    kind: str
    arg: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        if self.kind == "tfds":
            return f"tfds:{self.arg}:{self.split}"
        return f"{self.kind}:{self.arg}" if self.arg is not None else self.kind


def parse_source(source: str) -> Source:
    """Check and normalize a data source string; raise ``DataError`` if it is not one."""
    if not isinstance(source, str) or not source.strip():
        raise DataError(f"the data source must be {_forms()}, not {source!r}")
    text = source.strip()
    kind, colon, arg = text.partition(":")
    kind = kind.lower()

    if kind not in SOURCES:
        raise DataError(f"unknown data source {text!r}: use {_forms()}"
                        f"{_suggest(text, kind, arg, colon)}")

    if kind in ("digits", "synthetic"):
        if colon and arg:
            raise DataError(f"data source {kind!r} takes no argument (got {text!r})")
        return Source(kind)

    if not arg.strip():
        raise DataError(
            f"data source {kind!r} needs {_NEEDS_ARGUMENT[kind]}: write {SOURCE_FORMS[kind]!r}"
        )
    arg = arg.strip()
    if kind in ("folder", "npz"):
        return Source(kind, os.path.abspath(os.path.expanduser(arg)))

    # tfds:NAME[:VERSION][:SPLIT]; a split may itself hold colons ("train[:10%]").
    name, _, rest = arg.partition(":")
    version, _, split_rest = rest.partition(":")
    if _VERSION.match(version):
        name, rest = f"{name}:{version}", split_rest
    split = rest.strip() or "train"
    return Source("tfds", name.strip(), split)


def _forms() -> str:
    return one_of(SOURCE_FORMS[k] for k in SOURCES)


def _suggest(text: str, kind: str, arg: str, colon: str) -> str:
    """A "did you mean" for a mistyped kind, or for a bare path that names real data."""
    hint = did_you_mean(kind, SOURCES)
    if hint and colon and arg.strip():
        close = next(k for k in SOURCES if did_you_mean(kind, [k]) == hint)
        return f" (did you mean {close + ':' + arg.strip()!r}?)"
    if text.lower().endswith(".npz"):
        return f" (did you mean {'npz:' + text!r}?)"
    if os.path.isdir(os.path.expanduser(text)):
        return f" (did you mean {'folder:' + text!r}?)"
    return hint
