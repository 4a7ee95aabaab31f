"""The few PyTorch modules and tensors archspec writes itself, where torch and torchvision have
none that runs on its input alone: self-attention called on one input, selecting a token,
MaxViT's window partitions with their sizes kept, and the learnable tensors of
layers/learned.py with the operation each applies."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision.models import maxvit as _maxvit


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


class WindowPartition(_maxvit.WindowPartition):
    """torchvision's WindowPartition with its partition size kept, so that it runs on x alone
    (torchvision passes it in forward). Prints as torchvision's."""

    def __init__(self, p: int):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, self.p)


class WindowDepartition(_maxvit.WindowDepartition):
    """torchvision's WindowDepartition with its sizes kept (see WindowPartition)."""

    def __init__(self, p: int, h_partitions: int, w_partitions: int):
        super().__init__()
        self.p, self.h_partitions, self.w_partitions = p, h_partitions, w_partitions

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, self.p, self.h_partitions, self.w_partitions)
