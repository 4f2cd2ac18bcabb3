"""Data source strings: ``digits``, ``synthetic``, ``folder:PATH``, ``npz:PATH``,
``tfds:NAME[:SPLIT]``; the one place that switches on the kind of a source.

``parse_source`` checks a source string and gives the source of its kind (paths made
absolute, the tfds split made explicit) without reading any data.
"""

from __future__ import annotations

import os

from ..errors import DataError, did_you_mean, one_of
from .digits import Digits
from .folder import Folder
from .npz import Npz
from .protocol import Source
from .synthetic import Synthetic
from .tfds_source import Tfds

#: Every kind of source, in the order the help text lists them.
KINDS: dict[str, type[Source]] = {cls.kind: cls for cls in (Digits, Synthetic, Folder, Npz, Tfds)}
SOURCES: tuple[str, ...] = tuple(KINDS)
#: How each kind is written, for messages and help text.
SOURCE_FORMS: dict[str, str] = {kind: cls.form for kind, cls in KINDS.items()}


def parse_source(source: str) -> Source:
    """Check and normalize a data source string; raise ``DataError`` if it is not one."""
    if not isinstance(source, str) or not source.strip():
        raise DataError(f"the data source must be {_forms()}, not {source!r}")
    text = source.strip()
    kind, colon, arg = text.partition(":")
    kind = kind.lower()
    if kind not in KINDS:
        raise DataError(f"unknown data source {text!r}: use {_forms()}"
                        f"{_suggest(text, kind, arg, colon)}")
    cls = KINDS[kind]
    if cls.argument is None:
        if colon and arg:
            raise DataError(f"data source {kind!r} takes no argument (got {text!r})")
        return cls()
    if not arg.strip():
        raise DataError(f"data source {kind!r} needs {cls.argument}: write {cls.form!r}")
    return cls.parse(arg.strip())


def _forms() -> str:
    return one_of(SOURCE_FORMS.values())


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
