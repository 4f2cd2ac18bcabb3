"""The RegNet design-space rule (Radosavovic et al. 2020, "Designing Network Design
Spaces", section 3.3): a network's per-stage widths and depths from five numbers.

``regnet(w0=, wa=, wm=, depth=, group_width=)`` returns a ``RegNetDesign``: its stages
(width, depth, group width, bottleneck ratio, squeeze ratio of each), as the paper's
RegNetX and RegNetY models, pycls and keras.applications have them. It needs no Keras and
no blueprint: ``blueprints/regnet.py`` builds networks from it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from .errors import BlueprintError

__all__ = ["DesignStage", "RegNetDesign", "regnet"]


@dataclasses.dataclass(frozen=True)
class DesignStage:
    """One stage: ``depth`` blocks of ``width`` output channels; the 3x3 convolution of
    each block is split in groups of ``group_width`` channels."""

    width: int  # w_i: output channels of every block in the stage
    depth: int  # d_i: blocks in the stage
    group_width: int  # g_i: channels per group of the 3x3 convolution
    bottleneck_ratio: float  # b_i: inner width = width * b_i
    se_ratio: float  # squeeze width / block input channels; 0: no squeeze-and-excitation

    @property
    def inner_width(self) -> int:
        """Channels of the block's 3x3 convolution."""
        return int(round(self.width * self.bottleneck_ratio))

    @property
    def groups(self) -> int:
        return self.inner_width // self.group_width


@dataclasses.dataclass(frozen=True)
class RegNetDesign:
    """The stages the rule gives, and the per-block widths they come from."""

    stages: tuple[DesignStage, ...]
    block_widths: tuple[int, ...]  # w_j of each block, quantized, before adjustment

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(s.width for s in self.stages)

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(s.depth for s in self.stages)

    @property
    def group_widths(self) -> tuple[int, ...]:
        return tuple(s.group_width for s in self.stages)


def regnet(*, w0: int, wa: float, wm: float, depth: int, group_width: int,
           bottleneck_ratio: float = 1.0, se_ratio: float = 0.0,
           quantum: int = 8) -> RegNetDesign:
    """The stages of the RegNet with initial width ``w0``, slope ``wa``, width multiplier
    ``wm``, ``depth`` blocks in all, and groups of ``group_width`` channels.

    The paper's rule, for blocks j = 0 .. depth - 1:

    - u_j = w0 + wa * j: a linear ramp of widths (eq. 2);
    - s_j = round(log(u_j / w0) / log(wm)): its exponent in powers of wm (eq. 3);
    - w_j = w0 * wm ** s_j, quantized to the nearest multiple of ``quantum`` (8) (eq. 4);
    - a stage is a run of blocks of equal w_j: its width is that w_j, its depth the
      length of the run.

    Then, as pycls makes widths and groups compatible: the inner width v = w * b
    (``bottleneck_ratio``) of each stage, the group width g = min(g, v), and v rounded to
    the nearest multiple of g (at least g; of lcm(g, b) for a whole b > 1), so that the
    3x3 convolution splits into whole groups; the stage's width becomes v / b.

    ``se_ratio`` (RegNetY: 0.25) is carried to every stage. Returns a ``RegNetDesign``;
    raises ``BlueprintError`` naming the argument out of range.
    """
    _check(w0=w0, wa=wa, wm=wm, depth=depth, group_width=group_width,
           bottleneck_ratio=bottleneck_ratio, se_ratio=se_ratio, quantum=quantum)
    block_widths = []
    for j in range(depth):
        u = w0 + wa * j
        s = round(math.log(u / w0) / math.log(wm))
        block_widths.append(int(round(w0 * wm ** s / quantum) * quantum))
    stages = []
    for width, run in itertools.groupby(block_widths):
        width, group = _compatible(width, bottleneck_ratio, group_width)
        stages.append(DesignStage(width, len(list(run)), group, bottleneck_ratio, se_ratio))
    return RegNetDesign(tuple(stages), tuple(block_widths))


def _compatible(width, bottleneck_ratio, group_width):
    """(width, group width) adjusted so that the inner width splits into whole groups."""
    inner = int(max(1, width * bottleneck_ratio))
    group = min(group_width, inner)
    whole = float(bottleneck_ratio).is_integer() and bottleneck_ratio > 1
    multiple = math.lcm(group, int(bottleneck_ratio)) if whole else group
    inner = max(multiple, int(round(inner / multiple) * multiple))
    return int(inner / bottleneck_ratio), group


def _check(**arguments):
    rules = {
        "w0": (lambda v: v > 0, "> 0"),
        "wa": (lambda v: v >= 0, ">= 0"),
        "wm": (lambda v: v > 1, "> 1"),
        "depth": (lambda v: v >= 1, ">= 1"),
        "group_width": (lambda v: v >= 1, ">= 1"),
        "bottleneck_ratio": (lambda v: v > 0, "> 0"),
        "se_ratio": (lambda v: 0 <= v < 1, "in [0, 1)"),
        "quantum": (lambda v: v >= 1, ">= 1"),
    }
    whole = ("w0", "depth", "group_width", "quantum")
    for name, value in arguments.items():
        ok, bound = rules[name]
        kind_ok = (isinstance(value, int) if name in whole else isinstance(value, (int, float)))
        if isinstance(value, bool) or not kind_ok or not ok(value):
            kind = "a whole number" if name in whole else "a number"
            raise BlueprintError(f"regnet: {name} must be {kind} {bound}, got {value!r}")
