"""The command line: ``python -m builder COMMAND ...`` (also installed as ``builder``).

Each command is a module of this package with ``add(subparsers)``; it sets ``run`` on its
parser. A ``UserError`` ends in one line ``error: ...`` and exit status 2; any other
exception is an internal fault (exit status 1). ``--debug`` shows the traceback.

The library names arguments as Python spells them (``learning_rate``, ``out='runs/x'``,
``resume=True``); ``flag`` is the one rule that turns a name into its flag, and
``in_flags`` rewrites an error's message with them.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
import traceback

from ..edit import edit, parse_set, split_key
from ..errors import ArgumentError, UserError
from ..loader import load

# Modules of builder.cli, one per command, in the order `--help` lists them.
COMMANDS = ("inspect", "plot", "diff", "profile", "train", "tune", "export")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2, as for every user error
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def parser() -> Parser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    top = Parser(prog="builder", parents=[common],
                 description="Describe, analyze, build, train, tune and export Keras networks.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                             parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add(sub, common)
    return top


def quiet_backend_import() -> None:
    """Import Keras and its backend with stderr closed.

    TensorFlow prints start-up notes (oneDNN, no CUDA driver) before its logging is set
    up, so no environment variable silences them; they would precede every command's
    output. Errors raised later still reach stderr.
    """
    if "keras" in sys.modules or os.environ.get("BUILDER_VERBOSE_BACKEND"):
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401

        # TensorFlow is imported later on other backends too (tf.data, TensorBoard
        # logs) when it is installed: take its start-up notes here as well.
        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe prints here, once
            tf.constant(0)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parser().parse_args(argv)
    try:
        if getattr(args, "needs_backend", True):
            quiet_backend_import()
        return args.run(args) or 0
    except UserError as e:
        if args.debug:
            traceback.print_exc()
        message = " ".join(str(e).splitlines())  # always one line
        print(f"error: {in_flags(message, e.arguments)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        detail = in_flags(str(e), getattr(e, "arguments", ()))
        print(f"error: interrupted{'; ' + detail if detail else ''}", file=sys.stderr)
        return 130
    except Exception as e:  # an internal fault, not the user's
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


#: Arguments whose command-line form is not ``--`` + the name with hyphens.
SPELLED = {"spec": "SPEC", "run": "RUN", "run_dir": "RUN", "files": "FILE", "sets": "--set"}


def flag(name: str) -> str:
    """The flag of a Python argument: ``learning_rate`` -> ``--learning-rate``."""
    return SPELLED.get(name) or "--" + name.replace("_", "-")


def in_flags(message: str, arguments) -> str:
    """``message`` with the arguments it names written as flags: ``resume=True`` ->
    ``--resume``, ``out='runs/x'`` -> ``--out runs/x``, `` `learning_rate` `` ->
    ``--learning-rate`` (the library's spellings, see ``builder.errors.UserError``)."""
    for name in arguments:
        word = flag(name)
        message = message.replace(f"`{name}`", word)
        message = re.sub(rf"(?<![\w.-]){name}=True\b", word, message)
        message = re.sub(rf"(?<![\w.-]){name}=(?:'([^']*)'|([^\s,;:)]+))",
                         lambda m: f"{word} {m.group(1) if m.group(1) is not None else m.group(2)}",
                         message)
    return message


def shape_arg(text: str) -> tuple[int, ...]:
    """``"224,224,3"`` -> ``(224, 224, 3)``, for ``--input-shape``."""
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 224,224,3") from None
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 224,224,3")
    return dims


def whole_number(minimum: int | None = None):
    """An argparse type: a whole number (of at least ``minimum``, where given; a value
    out of range is otherwise left to the library's checks, which name the argument)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value

    return parse


positive_int = whole_number(1)
whole = whole_number()


def real(text: str) -> float:
    """An argparse type: a number."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def add_spec_options(p, spec: bool | str = True) -> None:
    """The arguments that choose a blueprint and its options, shared by commands
    (``spec=False``: the options without the SPEC argument, for a command that takes
    several; ``spec="optional"``: SPEC may be left out, as with ``train --resume``)."""
    if spec:
        optional = spec == "optional"
        p.add_argument("spec", metavar="SPEC", nargs="?" if optional else None,
                       help="a registered name (resnet50), FILE.py[:NAME] or FILE.json"
                            + (" (not needed with --resume)" if optional else ""))
    p.add_argument("--input-shape", type=shape_arg, metavar="H,W,C",
                   help="input shape without the batch axis")
    p.add_argument("--classes", type=positive_int, metavar="N", help="number of classes")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE",
                   help="edit the blueprint: PATH as summary prints it, a field after the "
                        "dot, a Python literal or a bare word as the value "
                        "(stage2/block1.filters=64, head.dropout=0.2); repeatable")


def load_spec(args, spec: str | None = None, sets=None):
    """The blueprint of ``spec`` (default ``args.spec``) with ``--input-shape``,
    ``--classes`` and the ``--set`` edits (``sets``, default ``args.sets``) applied."""
    bp = load(spec or args.spec, input_shape=args.input_shape, classes=args.classes)
    return apply_sets(bp, getattr(args, "sets", []) if sets is None else sets)


def apply_sets(bp, texts, flag: str = "--set"):
    """``bp`` edited by ``--set PATH=VALUE`` texts; a bad one is an ``ArgumentError``
    naming its text (a shape the edits make impossible names them all)."""
    if not texts:
        return bp
    edits, origin = {}, {}
    for text in texts:
        try:
            key, value = parse_set(text)
            split_key(bp, key)
        except UserError as e:
            raise ArgumentError(f"{flag} {text!r}: {_detail(e)}") from None
        edits[key], origin[key] = value, text
    try:
        return edit(bp, edits)
    except UserError as e:
        if getattr(e, "path", None) in origin:
            raise ArgumentError(f"{flag} {origin[e.path]!r}: {_detail(e)}") from None
        given = " ".join(f"{flag} {t!r}" for t in texts)
        raise ArgumentError(f"with {given}: {e}") from None


def _detail(error) -> str:
    return getattr(error, "detail", None) or str(error)
