"""Which layers CKA measures, and what of their output: every conv by its whole output map, and
every attention layer by its output averaged over the positions (tokens, or the cells of a map
or of its windows), which leaves one feature vector an image.

Averaging is what makes attention layers comparable at all: a Swin or MaxViT layer's positions
come in window order, a ViT's include the class token, and two runs need not agree on either;
the mean over positions does not depend on their order. A conv's map keeps where each feature is,
as it always has here, so the numbers of convnets do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from archspec.layers.base import CHANNEL_AXIS, layout_of
from archspec.shapes import ResolvedLayer, resolve
from archspec.spec import Spec
from runner.visualize.layers import CONV_KIND


@dataclass(frozen=True)
class MeasuredLayer:
    name: str  # Conv2d-4, MultiheadAttention-8: the model's own numbering
    path: str  # the module whose output is measured: features.0, encoder.layers.0.attn
    channel_axis: int | None  # None: the whole output; else average over every other axis

    @property
    def pooled(self) -> bool:
        return self.channel_axis is not None

    def features(self, output: torch.Tensor) -> torch.Tensor:
        """(batch, ...) output -> what CKA compares: (batch, features)."""
        if self.channel_axis is None:
            return output.flatten(1)
        axis = self.channel_axis + 1  # after the batch
        others = [d for d in range(1, output.ndim) if d != axis]
        return output.mean(dim=others) if others else output


def measured_layer(r: ResolvedLayer) -> MeasuredLayer | None:
    if r.layer.kind() == CONV_KIND:
        return MeasuredLayer(r.name, r.path, None)
    if type(r.layer).attends:
        return MeasuredLayer(r.name, r.path, CHANNEL_AXIS.get(layout_of(r.out_shape), 0))
    return None


def measured_layers(spec: Spec, num_classes: int) -> list[MeasuredLayer]:
    """The conv and attention layers of the spec's model, in the order they run."""
    chosen = (measured_layer(r) for r in resolve(spec, num_classes).layers)
    return [m for m in chosen if m is not None]


def pooled_names(layers: Sequence[MeasuredLayer]) -> tuple[str, ...]:
    """The averaged layers' names, each once (two runs of one spec share them)."""
    return tuple(dict.fromkeys(m.name for m in layers if m.pooled))
