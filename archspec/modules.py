"""The few PyTorch modules and tensors archspec writes itself, where torch and torchvision have
none for what a layer kind does: self-attention called on one input, selecting a token, and
the learnable tensors of layers/learned.py with the operation each applies."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention run as self-attention on batch-first tokens, without returning
    the weights (ViT's `self_attention(x, x, x, need_weights=False)`). It prints, and its
    state_dict reads, as torch's MultiheadAttention."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True)

    def _get_name(self) -> str:
        return "MultiheadAttention"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out, _ = super().forward(x, x, x, need_weights=False)
        return out


class SelectToken(nn.Module):
    """x[:, index]: one token of each sequence, as a vector."""

    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index

    def extra_repr(self) -> str:
        return f"index={self.index}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]


def class_token(embed_dim: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(1, 1, embed_dim))


def position_embedding(num_tokens: int, embed_dim: int, std: float = 0.02) -> nn.Parameter:
    return nn.Parameter(torch.empty(1, num_tokens, embed_dim).normal_(std=std))


def layer_scale(shape: tuple[int, ...], init: float) -> nn.Parameter:
    return nn.Parameter(torch.full(shape, init))


def _prepend(x: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    return torch.cat([token.expand(x.shape[0], -1, -1), x], dim=1)


# How each learnable tensor acts on the input, by kind.
APPLY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ClassToken": _prepend,
    "PositionEmbedding": lambda x, embedding: x + embedding,
    "LayerScale": lambda x, scale: scale * x,
}
