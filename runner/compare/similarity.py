"""How alike two sets of conv filters are, and how far one moved from another: pure tensor math.

Every function takes conv weights of one shape, (out, in, kh, kw), and compares filter by filter,
each flattened over input channels x kernel, in float64.
"""

from __future__ import annotations

import torch


def _flat(w: torch.Tensor) -> torch.Tensor:
    return w.detach().to(torch.float64).flatten(1)  # (out, in, kh, kw) -> (out, in*kh*kw)


def _check_shapes(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"filters of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")


def corresponding_cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(out,) cosine of filter i of `a` with filter i of `b`; 0 where either filter is all zero."""
    _check_shapes(a, b)
    return torch.nn.functional.cosine_similarity(_flat(a), _flat(b), dim=1, eps=1e-300)


def filter_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean cosine similarity of corresponding filters: 1 identical, -1 negated, 0 orthogonal."""
    return float(corresponding_cosines(a, b).mean())


def cross_similarity(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Mean cosine similarity over all non-corresponding pairs (filter i of a, filter j of b,
    i != j): what unrelated filters of these two sets reach. None for a single filter."""
    _check_shapes(a, b)
    n = a.shape[0]
    if n < 2:
        return None
    unit_a = torch.nn.functional.normalize(_flat(a), dim=1, eps=1e-300)
    unit_b = torch.nn.functional.normalize(_flat(b), dim=1, eps=1e-300)
    cosines = unit_a @ unit_b.T  # (n, n): [i, j] = cos(a_i, b_j)
    return float((cosines.sum() - cosines.trace()) / (n * (n - 1)))


def relative_change(w: torch.Tensor, w0: torch.Tensor) -> float:
    """Mean over filters of ||w_i - w0_i|| / ||w0_i||; filters that start all zero are left out."""
    _check_shapes(w, w0)
    start = _flat(w0).norm(dim=1)
    moved = (_flat(w) - _flat(w0)).norm(dim=1)
    keep = start > 0
    return float((moved[keep] / start[keep]).mean()) if keep.any() else float("nan")
