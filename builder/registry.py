"""The registry of named blueprints.

A variant is a function that returns a blueprint, registered with ``@register``; its
keyword arguments (``input_shape``, ``classes``, ``include_top``, ``dropout`` ...) are the
options ``builder.load(name, **options)`` accepts.

Packages of blueprints announce themselves in the entry-point group
``builder.blueprints`` (a module, or a package whose modules are all imported); they are
imported on first use. The canonical networks (the top-level ``blueprints`` package) are
one such package, so the core never imports the layer above it, and another package can
register its own networks the same way::

    [options.entry_points]
    builder.blueprints =
        mynets = mypackage.networks
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import pkgutil
from typing import Callable

from . import blocks  # noqa: F401  (registers the block types, for JSON)
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

#: The entry-point group that packages of blueprints register under.
GROUP = "builder.blueprints"


def register(name: str | None = None, *, family: str = "", reference: str = "",
             tags: tuple[str, ...] = (), notes: str = ""):
    """Decorator: register a variant function under ``name`` (default: its own name)."""

    def wrap(factory):
        key = name or factory.__name__
        old = _ENTRIES.get(key)
        if old is not None and _origin(old.factory) != _origin(factory):
            raise ValueError(f"blueprint {key!r} is registered twice: by "
                             f"{'.'.join(_origin(old.factory))} and {'.'.join(_origin(factory))}")
        module_family = factory.__module__.rsplit(".", 1)[-1]
        _ENTRIES[key] = Entry(key, factory, family or module_family, reference, tuple(tags),
                              notes)
        return factory

    return wrap


def _origin(factory) -> tuple[str, str]:
    # A module imported again (after a failed first import) registers the same names.
    return factory.__module__, factory.__qualname__


def load_all() -> None:
    """Import every package of blueprints registered under ``GROUP`` (once it worked;
    a failed import is tried again on the next call)."""
    global _loaded
    if _loaded:
        return
    for point in importlib.metadata.entry_points(group=GROUP):
        try:
            module = point.load()
            for sub in pkgutil.iter_modules(getattr(module, "__path__", [])):
                importlib.import_module(f"{module.__name__}.{sub.name}")
        except Exception as error:
            raise BlueprintError(f"the blueprints of {point.value!r} (entry point "
                                 f"{point.name!r} of {GROUP!r}) failed to import: "
                                 f"{type(error).__name__}: {error}") from error
    _loaded = True


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
