"""How far each attention head looks: the mean attention distance of a ViT's self-attention
layers (Dosovitskiy et al., 2021, fig. 7), what its filter pictures are to a convnet.

For a query patch, the distance is the sum over the other patches of its attention weight times
the distance between the two patches' positions in input pixels; a head's value is the mean
over queries and images. Weights to the class token, which has no position, are left out and
the rest renormalized. Small: the head looks at its neighbourhood, as a conv does; near the
uniform value (every patch weighted alike): it looks at the whole image.

The tokens' positions are read from the spec: the tokens are the patches of the map that a
`Flatten: {start_dim: 2}` turned into a sequence, row by row, after the tokens put before them
(ViT's class token); an attention layer whose sequence is not that has no figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from archspec.layers.base import TOKEN_AXIS, layout_of
from archspec.shapes import ResolvedSpec
from runner.data import PACS_MEAN, PACS_STD, normalize

ATTENTION_KIND = "MultiheadAttention"


@dataclass(frozen=True)
class TokenGrid:
    """Where an attention layer's tokens lie: `front` tokens without a position, then an
    h x w grid of patches `step` input pixels apart (height, width)."""

    height: int
    width: int
    front: int
    step: tuple[int, int]

    def distances(self) -> torch.Tensor:
        """(P, P) distance in input pixels between every two patches, P = height * width."""
        rows, cols = torch.meshgrid(
            torch.arange(self.height), torch.arange(self.width), indexing="ij"
        )
        at = torch.stack([rows.flatten() * self.step[0], cols.flatten() * self.step[1]], 1)
        return torch.cdist(at.double(), at.double())


@dataclass(frozen=True)
class AttentionLayer:
    name: str  # MultiheadAttention-8
    path: str  # encoder.layers.encoder_layer_0.self_attention
    heads: int
    grid: TokenGrid


def attention_layers(resolved: ResolvedSpec) -> tuple[list[AttentionLayer], list[str]]:
    """The self-attention layers whose tokens are a patch grid, and the names of those whose
    tokens are not (their figure is left out)."""
    grid: tuple[int, int, int] | None = None  # height, width, tokens before the patches
    step: tuple[int, int] = (1, 1)
    found, without = [], []
    for r in resolved.layers:
        kind, shape = r.layer.kind(), r.in_shape
        if kind == "Flatten" and getattr(r.layer, "start_dim", 1) == 2 and len(shape) == 3:
            grid = (shape[1], shape[2], 0)
            continue
        if r.jump is not None:
            step = r.jump  # the input pixels between two positions of the latest map
        if kind == "ClassToken" and grid is not None:
            grid = (grid[0], grid[1], grid[2] + 1)
        elif kind == ATTENTION_KIND:
            if grid is not None and shape[0] == grid[0] * grid[1] + grid[2]:
                tokens = TokenGrid(grid[0], grid[1], grid[2], step)
                found.append(AttentionLayer(r.name, r.path, r.layer.num_heads, tokens))
            else:
                without.append(r.name)
        elif grid is not None and _tokens(r.out_shape) != _tokens(r.in_shape):
            grid = None  # the sequence changed length: its tokens are no longer the patches
    return found, without


def _tokens(shape: tuple) -> int | None:
    """How many tokens a shape holds (NxD or DxN); None for maps and vectors."""
    axis = TOKEN_AXIS.get(layout_of(shape))
    return None if axis is None else shape[axis]


@dataclass(frozen=True)
class AttentionDistance:
    layer: str
    heads: tuple[float, ...]  # mean distance of each head, in input pixels
    uniform: float  # the same with every patch weighted alike


@torch.no_grad()
def attention_distances(
    model: nn.Module,
    layers: Sequence[AttentionLayer],
    images: torch.Tensor,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
    batch: int = 32,
) -> list[AttentionDistance]:
    """Mean attention distance of every head of `layers` over `images` (uint8, N x C x H x W at
    the model's input size)."""
    totals = [torch.zeros(layer.heads, dtype=torch.float64) for layer in layers]
    tables = [layer.grid.distances() for layer in layers]

    def measure(i: int, layer: AttentionLayer):
        def hook(module: nn.MultiheadAttention, inputs: tuple, out: torch.Tensor) -> None:
            x = inputs[0]
            _, weights = nn.MultiheadAttention.forward(
                module, x, x, x, need_weights=True, average_attn_weights=False
            )
            front = layer.grid.front
            patches = weights[:, :, front:, front:].double()  # (B, heads, P, P)
            patches = patches / patches.sum(-1, keepdim=True).clamp_min(1e-12)
            totals[i] += (patches * tables[i]).sum(-1).mean(-1).sum(0)

        return hook

    model.eval()
    hooks = [
        model.get_submodule(layer.path).register_forward_hook(measure(i, layer))
        for i, layer in enumerate(layers)
    ]
    try:
        for chunk in images.split(batch):
            model(normalize(chunk, mean, std))
    finally:
        for h in hooks:
            h.remove()
    return [
        AttentionDistance(
            layer.name,
            tuple((total / len(images)).tolist()),
            float(table.mean()),  # uniform weights: the mean distance to every patch
        )
        for layer, total, table in zip(layers, totals, tables, strict=True)
    ]
