"""``builder.load``: a blueprint from a registered name, a Python file or a JSON file."""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback

from .dsl.base import Blueprint
from .dsl.combinators import ClassifierHead, Network
from .errors import BlueprintError
from . import registry
from .serialize import from_json
from .text import brief

OPTIONS = ("input_shape", "classes", "include_top", "dropout")


def load(spec: str, **options):
    """A blueprint from ``spec``: a registered name (``"resnet50"``), a Python file with an
    optional attribute (``"nets.py:mynet"``; default attribute ``blueprint``), or a
    ``.json`` file. ``options`` (``input_shape``, ``classes``, ``include_top``,
    ``dropout`` ...) go to a registered variant or a factory function; on a finished
    Network they are applied with ``with_options``.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if spec.endswith(".json"):
        try:
            with open(spec, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise BlueprintError(f"cannot read the blueprint file: {e.strerror}", path=spec) from None
        except UnicodeDecodeError as e:
            raise BlueprintError(f"not UTF-8 text (byte {e.object[e.start]:#04x} at offset "
                                 f"{e.start}); JSON files are UTF-8", path=spec) from None
        return with_options(from_json(text, source=spec), spec, **options)
    file, _, attr = spec.partition(":") if ".py" in spec else (spec, "", "")
    if file.endswith(".py"):
        return _from_python(file, attr or "blueprint", spec, options)
    if os.path.sep in spec or os.path.exists(spec):
        raise BlueprintError("not a registered name, a .py file or a .json file", path=spec)
    return registry.create(spec, **options)


# Modules run from the user's files: realpath -> (the source run, the module).
_MODULES: dict = {}


def python_module(file: str):
    """The module of the Python file ``file``, run once: run again only where the file
    has changed since (``tune`` reads the blueprint and the ``training`` space from the
    same run). Raises ``BlueprintError`` naming the file where running it fails."""
    try:
        with open(file, "rb") as f:
            source = f.read()
    except OSError as e:
        raise BlueprintError(f"cannot read it: {e.strerror}", path=file) from None
    key = os.path.realpath(file)
    if key in _MODULES and _MODULES[key][0] == source:
        return _MODULES[key][1]
    name = "_builder_user_" + os.path.splitext(os.path.basename(file))[0]
    module_spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:  # no __pycache__ left beside the user's file
        module_spec.loader.exec_module(module)
    except BlueprintError as e:
        raise BlueprintError(e.detail, path=f"{file}: {e.path}" if e.path else file) from None
    except SyntaxError as e:
        raise BlueprintError(f"syntax error at line {e.lineno}: {e.msg}", path=file) from None
    except ImportError as e:
        raise BlueprintError(f"import failed: {e}", path=file) from None
    except (Exception, SystemExit) as e:  # the file is the user's code: its fault is theirs
        raise BlueprintError(_failure(e, file, "running it"), path=file) from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    _MODULES[key] = (source, module)
    return module


def _from_python(file, attr, spec, options):
    if not os.path.isfile(file):
        raise BlueprintError("no such file", path=file)
    module = python_module(file)
    name = module.__name__
    if not hasattr(module, attr):
        found = [k for k, v in vars(module).items()
                 if isinstance(v, Blueprint) or (callable(v) and getattr(v, "__module__", None) == name)]
        raise BlueprintError(
            f"has no attribute {attr!r}"
            + (f"; it defines {', '.join(sorted(found))}" if found else "")
            + ("; name one as FILE.py:NAME" if found else ""), path=file)
    value = getattr(module, attr)
    if isinstance(value, Blueprint):
        return with_options(value, spec, **options)
    if callable(value):
        entry = registry.Entry(attr, value, "", "")
        try:
            bp = entry.create(**options)
        except BlueprintError:
            raise
        except (Exception, SystemExit) as e:
            raise BlueprintError(_failure(e, file, f"{attr}()"), path=spec) from None
        if not isinstance(bp, Blueprint):
            raise BlueprintError(f"{attr}() returned {type(bp).__name__}, not a blueprint", path=spec)
        return bp
    raise BlueprintError(f"{attr} is a {type(value).__name__}, not a blueprint", path=spec)


def _failure(error: BaseException, file: str, doing: str) -> str:
    """One line for an exception raised by the user's Python file, with its line there."""
    if isinstance(error, SystemExit):
        return f"{doing} called sys.exit({brief(error.code)}); a blueprint file must not exit"
    here = os.path.abspath(file)
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if os.path.abspath(frame.filename) == here]
    where = f" at line {lines[-1]}" if lines else ""
    message = " ".join(str(error).split())  # one line, as every error the CLI prints
    return f"{doing} raised {type(error).__name__}{where}: {message[:200]}"


def with_options(bp, source: str = "", *, input_shape=None, classes=None, include_top=None,
                 dropout=None, **unknown):
    """Apply the common options to a finished Network blueprint."""
    if unknown:
        key = next(iter(unknown))
        raise BlueprintError(f"takes no option {key!r}; options: {', '.join(OPTIONS)}", path=source)
    if all(v is None for v in (input_shape, classes, include_top, dropout)):
        return bp
    if not isinstance(bp, Network):
        raise BlueprintError(f"options apply to a Network, and this is a {bp.kind}", path=source)
    if input_shape is not None:
        bp = bp.replace(input_shape=tuple(input_shape))
    if include_top is False:
        bp = bp.replace(head=None)
    head = bp.head
    if classes is not None or dropout is not None:
        if not isinstance(head, ClassifierHead):
            raise BlueprintError("classes and dropout need a ClassifierHead head", path=source)
        changes = {k: v for k, v in (("classes", classes), ("dropout", dropout)) if v is not None}
        bp = bp.replace(head=head.replace(**changes))
    return bp
