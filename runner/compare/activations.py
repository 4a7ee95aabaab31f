"""The images CKA is measured on, and the measured layers' Gram matrices computed on them.

Both models see the same images, each decoded at its own input size. A forward hook turns each
layer's output (a conv's map, an attention layer's output averaged over positions: measured.py)
into its (batch x batch) Gram at once: memory holds one batch's Grams, never the activations of
all images, and a following in-place ReLU cannot change what was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from runner.compare.cka import MinibatchCKA, gram
from runner.compare.measured import MeasuredLayer
from runner.data import PACS_MEAN, PACS_STD, normalize
from runner.data.validation import ImageSet

# Images per batch. Memory holds one batch's activations of one layer and its Grams; the
# estimate's spread shrinks with the batch (within 0.01 of the full-set value at 128, tested).
BATCH = 128


def layer_modules(model: nn.Module, layers: Sequence[MeasuredLayer]) -> list[nn.Module]:
    return [model.get_submodule(m.path) for m in layers]  # the layer itself, not its block


@torch.no_grad()
def layer_grams(
    model: nn.Module,
    layers: Sequence[MeasuredLayer],
    modules: Sequence[nn.Module],
    x: torch.Tensor,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
) -> list[torch.Tensor]:
    """The Gram of each layer's measured output on the batch `x` (uint8, model's input size)."""
    grams: dict[int, torch.Tensor] = {}

    def keep(i: int, layer: MeasuredLayer):
        return lambda module, inputs, out: grams.__setitem__(i, gram(layer.features(out)))

    hooks = [
        m.register_forward_hook(keep(i, layer))
        for i, (layer, m) in enumerate(zip(layers, modules, strict=True))
    ]
    try:
        model(normalize(x, mean, std))
    finally:
        for h in hooks:
            h.remove()
    missing = [layers[i].name for i in range(len(modules)) if i not in grams]
    if missing:  # a layer the forward pass never ran: a model that does not match its spec
        raise RuntimeError(f"the forward pass did not run {', '.join(missing)}")
    return [grams[i] for i in range(len(modules))]


@dataclass(frozen=True)
class Probe:
    """One model to measure: the model (eval mode) and its conv and attention layers."""

    model: nn.Module
    layers: Sequence[MeasuredLayer]
    size: tuple[int, int]  # its input (H, W)
    channels: int = 3  # its input channels: RGB or grayscale
    mean: tuple[float, ...] = PACS_MEAN  # the normalisation it was trained with
    std: tuple[float, ...] = PACS_STD


def cka_matrices(
    reference: Probe,
    others: Sequence[Probe],
    images: ImageSet,
    batch: int = BATCH,
    device: torch.device | None = None,
) -> list[list[list[float]]]:
    """For each of `others`: [i][j] = CKA of the reference's layer i and that model's layer j."""
    device = device or torch.device("cpu")
    probes = [reference, *others]
    decoded = {(p.size, p.channels): images.decoded(p.size, p.channels) for p in probes}
    modules = [layer_modules(p.model.to(device).eval(), p.layers) for p in probes]
    sums = [MinibatchCKA(len(reference.layers), len(p.layers)) for p in others]
    n = len(images.paths)
    for index in torch.arange(n).tensor_split(max(1, -(-n // batch))):  # batches of >= batch/2
        grams = [
            layer_grams(
                p.model, p.layers, m, decoded[p.size, p.channels][index].to(device), p.mean, p.std
            )
            for p, m in zip(probes, modules, strict=True)
        ]
        for s, g in zip(sums, grams[1:], strict=True):
            s.add(grams[0], g)
    return [s.result() for s in sums]
