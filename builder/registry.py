"""The registry of named blueprints.

A variant is a function that returns a blueprint, registered with ``@register``; its
keyword arguments (``input_shape``, ``classes``, ``include_top``, ``dropout`` ...) are the
options ``builder.load(name, **options)`` accepts. The ``blueprints`` package holds the
canonical networks, one module per family, and is imported on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Callable

from .errors import BlueprintError, did_you_mean


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable
    family: str
    reference: str  # the paper or model it reproduces
    tags: tuple[str, ...] = ()
    notes: str = ""  # what a user should know: departures from the paper, its errata

    @property
    def options(self) -> list[str]:
        return list(inspect.signature(self.factory).parameters)

    def create(self, **options):
        valid = self.options
        for key in options:
            if key not in valid:
                raise BlueprintError(
                    f"{self.name} takes no option {key!r}{did_you_mean(key, valid)}; "
                    f"options: {', '.join(valid)}")
        bp = self.factory(**options)
        return bp


_ENTRIES: dict[str, Entry] = {}
_loaded = False


def register(name: str | None = None, *, family: str = "", reference: str = "",
             tags: tuple[str, ...] = (), notes: str = ""):
    """Decorator: register a variant function under ``name`` (default: its own name)."""

    def wrap(factory):
        key = name or factory.__name__
        if key in _ENTRIES and _ENTRIES[key].factory is not factory:
            raise ValueError(f"blueprint {key!r} is registered twice")
        module_family = factory.__module__.rsplit(".", 1)[-1]
        _ENTRIES[key] = Entry(key, factory, family or module_family, reference, tuple(tags),
                              notes)
        return factory

    return wrap


def load_all() -> None:
    """Import every module of the ``blueprints`` package (and the block library)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import builder.blocks  # noqa: F401  (registers the block types for JSON)
    import blueprints

    for module in pkgutil.iter_modules(blueprints.__path__):
        importlib.import_module(f"blueprints.{module.name}")


def names() -> list[str]:
    load_all()
    return sorted(_ENTRIES)


def entries() -> list[Entry]:
    load_all()
    return [_ENTRIES[n] for n in sorted(_ENTRIES)]


def get(name: str) -> Entry:
    load_all()
    try:
        return _ENTRIES[name]
    except KeyError:
        raise BlueprintError(
            f"no registered blueprint {name!r}{did_you_mean(name, _ENTRIES)}; "
            "'python -m builder list' shows them") from None


def create(name: str, **options):
    return get(name).create(**options)
