"""Linear CKA (Kornblith et al., 2019) with the unbiased minibatch estimator (Nguyen et al., 2021).

CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), K = X X^T and L = Y Y^T the linear Gram
matrices of two layers' activations on the same n images. HSIC_1 is unbiased, so summing it over
minibatches estimates the full-set value while memory stays at one batch's (n x n) Grams.
"""

from __future__ import annotations

import math

import torch


def gram(features: torch.Tensor) -> torch.Tensor:
    """(n, ...) activations -> (n, n) linear Gram matrix in float64, diagonal zeroed for HSIC_1."""
    x = features.detach().flatten(1).to(torch.float64)  # (n, C, H, W) -> (n, C*H*W)
    return (x @ x.T).fill_diagonal_(0)


def hsic1(k: torch.Tensor, m: torch.Tensor) -> float:
    """Unbiased HSIC (Song et al., 2012) of two zero-diagonal Grams of n >= 4 images."""
    n = k.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 images, got {n}")
    cross = k.sum(0) @ m.sum(0)  # 1^T K M 1 (both symmetric)
    value = (k * m).sum() + k.sum() * m.sum() / ((n - 1) * (n - 2)) - 2 * cross / (n - 2)
    return float(value / (n * (n - 3)))


def cka_from_sums(kl: float, kk: float, ll: float) -> float:
    """CKA from (summed) HSIC_1 values; NaN where a layer's activations do not vary at all."""
    return kl / math.sqrt(kk * ll) if kk > 0 and ll > 0 else math.nan


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two layers' activations on the same images, all in one batch."""
    k, m = gram(x), gram(y)
    return cka_from_sums(hsic1(k, m), hsic1(k, k), hsic1(m, m))


class MinibatchCKA:
    """CKA between every layer of A and every layer of B, accumulated batch by batch."""

    def __init__(self, layers_a: int, layers_b: int):
        self.kl = torch.zeros(layers_a, layers_b, dtype=torch.float64)
        self.kk = torch.zeros(layers_a, dtype=torch.float64)
        self.ll = torch.zeros(layers_b, dtype=torch.float64)

    def add(self, grams_a: list[torch.Tensor], grams_b: list[torch.Tensor]) -> None:
        """One batch: the Grams of A's layers and B's layers on the same images."""
        for i, k in enumerate(grams_a):
            self.kk[i] += hsic1(k, k)
            for j, m in enumerate(grams_b):
                self.kl[i, j] += hsic1(k, m)
        for j, m in enumerate(grams_b):
            self.ll[j] += hsic1(m, m)

    def result(self) -> list[list[float]]:
        """[i][j]: CKA of A's layer i and B's layer j."""
        return [
            [
                cka_from_sums(float(self.kl[i, j]), float(kk), float(ll))
                for j, ll in enumerate(self.ll)
            ]
            for i, kk in enumerate(self.kk)
        ]
