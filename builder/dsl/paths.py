"""Blueprints by path: the paths ``builder summary`` prints, mapped back to the tree.

Every blueprint reports the blueprints it holds with ``children()``: each child's path
segment (its name, else a default such as ``conv2d1``, ``branch2``, ``block3``; an
unnamed Sequence adds none) and the field that holds it. Lowering names graph nodes from
the same ``children()``, so a path here is a path of the summary.

What a path reaches:

- every blueprint written in the tree: the layers and blocks of Sequences, Parallels,
  Residuals, Repeats, a Network's body and head;
- a Block's own fields (``stage2/block1.filters``), but not the parts its expansion
  makes (``stage2/block1/conv2`` of a Bottleneck): those are not fields of any
  blueprint, and naming one is an error that lists the Block's fields. The stage blocks
  ``StridedRepeat`` and ``DropPathSchedule`` are the exception: their parts are the
  blueprints of their fields, and their paths lead there;
- the copies of a ``Repeat`` (``middle_flow/middle3``) are one blueprint, its ``block``:
  an edit through any copy changes every copy;
- through a ``Choice`` of blocks, its default (the model a search space is at its
  defaults); ``builder.edit`` refuses to edit through it (it would edit one candidate
  of a search space), while a field that holds a marker can be set like any other.

Several blueprints can share one path (a Network and its unnamed body at ``""``; a
SideOutput and its head): ``at`` returns the outermost, and a field is looked up from
the outermost in.
"""

from __future__ import annotations

import dataclasses

from ..errors import BlueprintError, did_you_mean
from .base import Block, Blueprint, Child, Layer


# Layers that combinators add under their own path (Parallel's merge, Residual's add,
# activation and drop; the network's input): in the summary, not in the tree.
ADDED = ("input", "concat", "add", "multiply", "out", "drop")


@dataclasses.dataclass(frozen=True)
class Place:
    """A blueprint at ``path`` and the way to it from the root: ``trail`` is the
    ``(parent, child)`` steps, the root's first."""

    path: str
    blueprint: Blueprint
    trail: tuple[tuple[Blueprint, Child], ...]

    @property
    def marker_path(self) -> str | None:
        """The path of the field that holds a marker this place is the default of."""
        at = ""
        for parent, child in self.trail:
            if child.marker is not None:
                return f"{at}.{child.field}" if at else child.field
            at = join(at, child.segment)
        return None


def join(path: str, segment: str) -> str:
    if not segment:
        return path
    return f"{path}/{segment}" if path else segment


def root_path(bp: Blueprint) -> str:
    """The path of the top blueprint (``Blueprint.root_path``)."""
    return bp.root_path()


def places(bp: Blueprint) -> dict[str, list[Place]]:
    """Every blueprint of the tree by path, the outermost first at each path."""
    found: dict[str, list[Place]] = {}

    def visit(node, path, trail):
        found.setdefault(path, []).append(Place(path, node, trail))
        for child in node.children():
            visit(child.blueprint, join(path, child.segment), trail + ((node, child),))

    visit(bp, root_path(bp), ())
    return found


def normal(path: str) -> str:
    return path.strip().strip("/")


def at(bp: Blueprint, path: str) -> Blueprint:
    """The blueprint at ``path`` (the outermost where several share it); raises
    ``BlueprintError`` naming the valid paths."""
    index = places(bp)
    path = normal(path)
    if path not in index:
        raise unknown_path(path, index)
    return index[path][0].blueprint


def fields_of(stack) -> list[str]:
    names = []
    for place in stack:
        names += [f.name for f in dataclasses.fields(place.blueprint) if f.name not in names]
    return names


def child_fields(stack) -> set[str]:
    return {child.field for place in stack for child in place.blueprint.children()}


def describe_stack(stack) -> str:
    """``the Bottleneck at 'stage2/block1'`` (``at the top`` for ``""``)."""
    kinds = " in ".join(p.blueprint.kind for p in stack)
    where = f"at {stack[0].path!r}" if stack[0].path else "at the top"
    return f"the {kinds} {where}"


def unknown_path(path: str, index: dict) -> BlueprintError:
    """The error for a path that leads to no blueprint of the tree: inside a Block's
    expansion, below a layer, or unknown (with the paths that are there)."""
    segments = path.split("/")
    prefix = ""
    for i in range(len(segments) - 1, -1, -1):
        candidate = "/".join(segments[:i])
        if candidate in index:
            prefix = candidate
            break
    stack = index.get(prefix, [])
    inner = stack[-1].blueprint if stack else None
    if isinstance(inner, Block) and not inner.children():
        fields = fields_of(stack)
        example = next(f for f in fields + ["name"] if f != "name")
        return BlueprintError(
            f"{path!r} is a part that {describe_stack(stack)} makes when it expands, not a "
            f"field of any blueprint; edit the {inner.kind}'s own fields instead: "
            f"{', '.join(fields)} (e.g. '{prefix}.{example}')")
    if isinstance(inner, Layer):
        return BlueprintError(f"no blueprint at {path!r}: {describe_stack(stack)} is a layer "
                              f"with no parts; its fields: {', '.join(fields_of(stack))}")
    depth = prefix.count("/") + 1 if prefix else 0
    below = [p for p in index if p and p.count("/") == depth
             and (not prefix or p.startswith(prefix + "/"))]
    where = f"under {prefix!r}" if prefix else "at the top level"
    made = ""
    own = [f for f in fields_of(stack) if f != "name" and f not in child_fields(stack)]
    if own and len(segments) == depth + 1 and segments[-1] in ADDED:
        made = (f"; a layer that {describe_stack(stack)} adds itself (a merge, an "
                f"activation, the input) is set by its fields: {', '.join(own)}")
    return BlueprintError(f"no blueprint at {path!r}{did_you_mean(path, list(index))}; "
                          f"{where}: {', '.join(below) or '(none)'}{made}")
