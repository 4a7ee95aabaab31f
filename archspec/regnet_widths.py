"""RegNet's widths and depths from its four numbers (Radosavovic et al., 2020), as torchvision's
BlockParams.from_init_params computes them: the functions `regnet_width` and `regnet_depth` of
the expression grammar (params.py), so a RegNet spec is one spec with torchvision's parameters.

Block j of `depth` has the width w_0 + w_a * j, quantized in log space to w_0 * w_m^k and then
to a multiple of 8; a stage is a run of blocks of one width. A stage's width is then made
divisible by its group width (the smaller of group_width and the width). torchvision computes
in float32 tensors; each step here is rounded to float32 as it is, so the rounding agrees.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

QUANT = 8  # widths are multiples of 8


class RegNetError(ValueError):
    """Parameters that make no RegNet, or a stage it does not have; `hint` says what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


SETTINGS = "torchvision's RegNetX-400MF has depth 22, w_0 24, w_a 24.48, w_m 2.54"


def _f32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


@lru_cache(maxsize=64)
def _stages(depth: int, w_0: float, w_a: float, w_m: float) -> tuple[tuple[int, int], ...]:
    """(width, blocks) of each stage, before the group-width adjustment."""
    if not (isinstance(depth, int) and 0 < depth <= 10_000):
        raise RegNetError(f"depth must be a positive whole number of blocks, got {depth}", SETTINGS)
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
        raise RegNetError(
            f"w_0 = {w_0}, w_a = {w_a}, w_m = {w_m} make no RegNet: it needs w_a >= 0, w_m > 1 "
            "and w_0 a positive multiple of 8",
            SETTINGS,
        )
    log_m = _f32(math.log(w_m))
    stages: list[list[int]] = []
    for j in range(depth):
        width = _f32(_f32(j * _f32(w_a)) + w_0)
        capacity = round(_f32(_f32(math.log(_f32(width / w_0))) / log_m))
        block = round(_f32(_f32(w_0 * _f32(_f32(w_m) ** capacity)) / QUANT)) * QUANT
        if stages and stages[-1][0] == block:
            stages[-1][1] += 1
        else:
            stages.append([block, 1])
    return tuple((width, blocks) for width, blocks in stages)


def _stage(stage: int, stages: int, depth: int, w_0: float, w_a: float, w_m: float) -> tuple:
    found = _stages(depth, w_0, w_a, w_m)
    if len(found) != stages:
        raise RegNetError(
            f"depth = {depth}, w_0 = {w_0}, w_a = {w_a}, w_m = {w_m} give {len(found)} stages, "
            f"and the spec writes {stages}",
            f"choose numbers that give {stages} stages (a smaller depth or a larger w_m gives "
            f"fewer), or write a spec with {len(found)}",
        )
    if not (isinstance(stage, int) and 1 <= stage <= stages):
        raise RegNetError(f"stage must be 1 to {stages}, got {stage}", "number stages from 1")
    return found[stage - 1]


def regnet_width(
    stage: int, stages: int, depth: int, w_0: float, w_a: float, w_m: float, group_width: int
) -> int:
    """The width of stage `stage` (from 1) of `stages`, divisible by its group width."""
    from archspec.params import make_divisible

    width, _ = _stage(stage, stages, depth, w_0, w_a, w_m)
    if not (isinstance(group_width, int) and group_width > 0):
        raise RegNetError(
            f"group_width must be a positive whole number, got {group_width}",
            "torchvision's RegNets take group widths from 8 to 264",
        )
    return make_divisible(width, min(group_width, width))


def regnet_depth(stage: int, stages: int, depth: int, w_0: float, w_a: float, w_m: float) -> int:
    """How many blocks stage `stage` (from 1) of `stages` has."""
    return _stage(stage, stages, depth, w_0, w_a, w_m)[1]
