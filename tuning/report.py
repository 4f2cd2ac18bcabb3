"""What a sweep leaves in ``--out``: trials.csv, a table, frontier.png, best.json, best.py.

Records are made from keras-tuner's trials (which the oracle keeps, also for a
distributed sweep) and recomputed by resolving each trial's values again: analysis is
cheap and deterministic, so params, MACs and the reason for a rejection need not travel
between chief and workers. The time a trial took comes from the record the tuner that
ran it wrote, where that is on this machine.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
import math
import os

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from builder.dsl.base import Data, field_value
from builder.errors import BlueprintError
from builder.text import human

from .space import FixedValues, apply_training, hyperparameter_values, resolve


@dataclasses.dataclass
class TrialRecord:
    trial_id: str
    status: str  # completed, rejected, failed, running
    values: dict
    params: int | None
    macs: int | None
    objective: float | None
    seconds: float | None
    reason: str = ""
    blueprint: object = dataclasses.field(default=None, repr=False)
    training: object = dataclasses.field(default=None, repr=False)
    latency_ms: float | None = None  # measured in a sweep with a latency budget


def records(oracle, space, training_space, project_dir, max_params=None, max_macs=None):
    """A TrialRecord per trial of ``oracle``, in the order they were made."""
    from .search import RECORD, Rejected, check  # keras-tuner: see sweep._tuner

    out = []
    for trial in sorted(oracle.trials.values(), key=lambda t: int(t.trial_id)):
        values = hyperparameter_values(trial.hyperparameters.values)
        status = {"COMPLETED": "completed", "STOPPED": "rejected", "RUNNING": "running",
                  "IDLE": "running"}.get(trial.status, "failed")
        params = macs = bp = training = None
        reason = ""
        try:
            bp, training = resolve(FixedValues(values), space, training_space)
            bp = apply_training(bp, training)
            report = check(bp, max_params, max_macs)
            params, macs = report.total_params, report.macs
        except Rejected as e:
            reason, params, macs = e.reason, e.params, e.macs
        except BlueprintError as e:
            reason = f"invalid: {e}"
        side = _read(os.path.join(project_dir, f"trial_{trial.trial_id}", RECORD))
        if status == "failed":
            reason = side.get("reason") or _last_line(trial.message) or reason
        elif status != "rejected":
            reason = ""
        elif not reason:  # measured, not analyzed: the tuner that ran it recorded why
            reason = side.get("reason") or (trial.message or "").removeprefix("rejected: ")
        score = trial.score if status == "completed" else None
        out.append(TrialRecord(trial.trial_id, status, values, params, macs, score,
                               side.get("seconds"), reason, bp, training,
                               side.get("latency_ms")))
    return out


def _read(path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _last_line(message) -> str:
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def best(rows, direction: str):
    done = [r for r in rows if r.status == "completed" and r.objective is not None
            and not math.isnan(r.objective)]
    if not done:
        return None
    return (max if direction == "max" else min)(done, key=lambda r: r.objective)


def pareto(rows, direction: str):
    """Completed trials no other trial beats on both MACs (fewer) and the objective."""
    sign = 1 if direction == "max" else -1
    done = sorted((r for r in rows if r.status == "completed" and r.objective is not None),
                  key=lambda r: (r.macs, -sign * r.objective))
    front, top = [], -math.inf
    for r in done:
        if sign * r.objective > top:
            front.append(r)
            top = sign * r.objective
    return front


def hyperparameter_names(rows) -> list[str]:
    names = []
    for r in rows:
        for k in r.values:
            if k not in names:
                names.append(k)
    return names


def write_csv(rows, path, objective: str) -> None:
    names = hyperparameter_names(rows)
    # A column of latencies in a sweep that measured them (--max-latency-ms).
    latency = ["latency_ms"] if any(r.latency_ms is not None for r in rows) else []
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["trial", "status", objective, "params", "macs"] + latency
                   + ["seconds", "reason"] + names)
        for r in rows:
            measured = [_blank(r.latency_ms and round(r.latency_ms, 4))] if latency else []
            w.writerow([r.trial_id, r.status, _blank(r.objective), _blank(r.params),
                        _blank(r.macs)] + measured
                       + [_blank(r.seconds and round(r.seconds, 2)), r.reason]
                       + [r.values.get(n, "") for n in names])


def _blank(value):
    return "" if value is None else value


def print_table(rows, objective: str, best_row=None, console=None) -> None:

    console = console or Console()
    table = Table(title=f"{len(rows)} trials", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    # The figures keep their width on a narrow terminal; the hyperparameters wrap, and the
    # reasons of rejected or failed trials are listed under the table.
    for col, justify, width in (("trial", "right", 5), ("hyperparameters", "left", 20),
                                ("params", "right", 7), ("MACs", "right", 6),
                                (objective, "right", min(len(objective), 8)),
                                ("time", "right", 5), ("status", "left", 9)):
        wraps = col == "hyperparameters"
        table.add_column(col, justify=justify, overflow="fold", min_width=width,
                         no_wrap=not wraps, ratio=1 if wraps else None)
    for r in rows:
        values = escape("\n".join(f"{k}={_short(v)}" for k, v in r.values.items()))
        mark = " *" if best_row is not None and r is best_row else ""
        table.add_row(r.trial_id + mark, values, "" if r.params is None else f"{r.params:,}",
                      "" if r.macs is None else human(r.macs),
                      "" if r.objective is None else f"{r.objective:.4f}",
                      "" if r.seconds is None else f"{r.seconds:.1f}s", r.status)
    console.print(table)
    for r in rows:
        if r.reason:
            console.print(f"trial {r.trial_id} {r.status}: {escape(r.reason)}", highlight=False)


def _short(v):
    return f"{v:.3g}" if isinstance(v, float) else v


def plot_frontier(rows, path, objective: str, direction: str) -> None:
    """Objective against MACs for the completed trials, the Pareto frontier drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r.status == "completed" and r.objective is not None]
    front = pareto(rows, direction)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r.macs for r in done], [r.objective for r in done], color="tab:blue",
               alpha=0.6, label="trials")
    if front:
        ax.step([r.macs for r in front], [r.objective for r in front], where="post",
                color="tab:red", label="Pareto frontier")
        ax.scatter([r.macs for r in front], [r.objective for r in front], color="tab:red")
    for r in front:
        ax.annotate(r.trial_id, (r.macs, r.objective), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.set_xscale("log" if done and max(r.macs for r in done) > 10 * min(r.macs for r in done)
                  else "linear")
    ax.set_xlabel("multiply-adds (MACs)")
    ax.set_ylabel(objective)
    ax.set_title(f"{objective} against MACs ({len(done)} trials)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- best.py -----------------------------------------------------------------------------------


def python_source(bp, training=None, note: str = "") -> str:
    """A Python file that defines ``blueprint`` by constructor calls (and ``training``)."""
    imports: dict[str, set] = {}
    expr = _expr(bp, imports, 0)
    lines = ['"""' + (note or "A blueprint written by builder tune.") + '"""', ""]
    for module in sorted(imports):
        lines.append(f"from {module} import {', '.join(sorted(imports[module]))}")
    lines += ["", f"blueprint = {expr}", ""]
    if training is not None:
        fields = {f.name: getattr(training, f.name) for f in dataclasses.fields(training)}
        lines += ["# The training hyperparameters of the best trial.",
                  f"training = {fields!r}", ""]
    return "\n".join(lines)


def _module_of(cls) -> str:
    module = cls.__module__
    for public in ("builder.dsl", "builder.blocks"):
        if module.startswith(public + "."):
            if getattr(importlib.import_module(public), cls.__name__, None) is cls:
                return public
    return module


def _expr(value, imports, depth) -> str:
    pad = "    " * (depth + 1)
    if isinstance(value, Data):
        cls = type(value)
        imports.setdefault(_module_of(cls), set()).add(cls.__name__)
        args = []
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
            if default is not dataclasses.MISSING and _normal(cls, f.name, default) == v:
                continue
            args.append(f"{f.name}={_expr(v, imports, depth + 1)}")
        if not args:
            return f"{cls.__name__}()"
        one = f"{cls.__name__}({', '.join(args)})"
        if len(one) + len(pad) <= 96 and "\n" not in one:
            return one
        inner = ",\n".join(pad + a for a in args)
        return f"{cls.__name__}(\n{inner},\n{'    ' * depth})"
    if isinstance(value, tuple):
        items = [_expr(v, imports, depth + 1) for v in value]
        one = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if len(one) + len(pad) <= 96 and "\n" not in one:
            return one
        inner = ",\n".join(pad + i for i in items)
        return f"(\n{inner},\n{'    ' * depth})"
    return repr(value)


def _normal(cls, name, default):
    """A field's default as the checked value (``3`` on a pair field is ``(3, 3)``)."""
    try:
        return field_value(cls, name, default)
    except BlueprintError:
        return default


def write_best(row, out_dir, objective: str) -> None:
    note = (f"The best candidate of a sweep: trial {row.trial_id}, {objective} "
            f"{row.objective:.4f}, {row.params:,} params, {row.macs:,} MACs.")
    with open(os.path.join(out_dir, "best.json"), "w", encoding="utf-8") as f:
        f.write(row.blueprint.to_json())
    with open(os.path.join(out_dir, "best.py"), "w", encoding="utf-8") as f:
        f.write(python_source(row.blueprint, row.training, note))
