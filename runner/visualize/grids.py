"""Conv weights -> normalised cells ready to draw: pure tensor functions, no plotting.

A conv weight is (out_channels, in_channels_per_group, kh, kw). The grid view shows one 2-D
kernel per cell, rows = input channels, columns = output channels, each kernel stretched to
[0, 1] on its own (the study's helper did the same), so every cell uses the whole grey range.
The RGB view shows each filter of an RGB-input conv as one colour patch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

CONSTANT_VALUE = 0.5  # what a constant kernel (max == min) shows as: mid grey, not 0/0


def minmax_normalize(values: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Stretch `values` to [0, 1] over `dims`, separately for every index of the other dims."""
    values = values.detach().float()
    low = values.amin(dim=dims, keepdim=True)
    span = values.amax(dim=dims, keepdim=True) - low
    stretched = (values - low) / span.clamp_min(torch.finfo(values.dtype).tiny)
    return torch.where(span > 0, stretched, torch.full_like(values, CONSTANT_VALUE))


def kernel_grid(weight: torch.Tensor, max_in: int, max_out: int) -> torch.Tensor:
    """(out, in, kh, kw) -> (rows, cols, kh, kw): the first max_in inputs x first max_out outputs.

    Cell [i, o] is the kernel that output channel o applies to input channel i, normalised alone.
    """
    shown = weight[:max_out, :max_in]  # (out, in, kh, kw), the ones shown
    return minmax_normalize(shown, dims=(2, 3)).transpose(0, 1)  # -> (in, out, kh, kw)


def mosaic_shape(count: int) -> tuple[int, int]:
    """(rows, cols) of the most nearly square grid holding `count` cells (cols >= rows)."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def rgb_filters(weight: torch.Tensor) -> torch.Tensor:
    """(out, 3, kh, kw) -> (out, kh, kw, 3): each filter as an RGB patch, normalised alone."""
    if weight.shape[1] != 3:
        raise ValueError(f"RGB patches need 3 input channels, the weight has {weight.shape[1]}")
    return minmax_normalize(weight, dims=(1, 2, 3)).permute(0, 2, 3, 1)


def rgb_mosaic(weight: torch.Tensor) -> torch.Tensor:
    """(out, 3, kh, kw) -> (rows, cols, kh, kw, 3), ALL filters in a near-square mosaic.

    Cells past the last filter are NaN (drawn as background).
    """
    patches = rgb_filters(weight)
    rows, cols = mosaic_shape(len(patches))
    cells = torch.full((rows * cols, *patches.shape[1:]), float("nan"))
    cells[: len(patches)] = patches
    return cells.reshape(rows, cols, *patches.shape[1:])


def tile(cells: torch.Tensor, pad: int = 1) -> np.ndarray:
    """(rows, cols, h, w[, 3]) -> one image with `pad` NaN pixels around and between cells."""
    rows, cols, h, w = cells.shape[:4]
    tail = tuple(cells.shape[4:])  # () for grey, (3,) for RGB
    image = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *tail), np.nan)
    for r in range(rows):
        for c in range(cols):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            image[top : top + h, left : left + w] = cells[r, c].numpy()
    return image


def tile_pad(kernel_height: int) -> int:
    """Separator width in pixels: visible next to big kernels, not dominating 3x3 ones."""
    return max(1, kernel_height // 8)
