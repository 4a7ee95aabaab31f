"""The per-layer table `archspec build` prints, in the study's naming (Conv2d-1, ReLU-2, ...).

torchinfo runs the model once and counts parameters and mult-adds; this module only lays its
numbers out beside each layer's window settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import torchinfo
from torch import nn

from archspec.layers import format_shape
from archspec.shapes import ResolvedSpec

WINDOW_FIELDS = ("kernel_size", "padding", "stride", "dilation")


@dataclass(frozen=True)
class LayerRow:
    name: str  # Conv2d-1
    section: str
    window: tuple[str, str, str, str]  # kernel, padding, stride, dilation ("-" where none)
    output_shape: tuple[int, ...]  # per sample, as torchinfo measured it
    params: int
    mult_adds: int


@dataclass(frozen=True)
class ModelSummary:
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    total_mult_adds: int  # per image

    def render(self) -> str:
        header = (
            "Layer (type)",
            "Kernel",
            "Padding",
            "Stride",
            "Dilation",
            "Output shape",
            "Param #",
        )
        body = [
            (r.name, *r.window, format_shape(r.output_shape), f"{r.params:,}") for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

        def line(cells: tuple[str, ...]) -> str:
            left = "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True))
            return f"{left}  {cells[-1].rjust(widths[-1])}"

        rule = "-" * len(line(header))
        return "\n".join(
            [
                rule,
                line(header),
                "=" * len(rule),
                *(line(cells) for cells in body),
                "=" * len(rule),
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Mult-adds per image: {self.total_mult_adds:,} "
                f"({self.total_mult_adds / 1e9:.2f} G)",
                rule,
            ]
        )


def _window(module: nn.Module) -> tuple[str, str, str, str]:
    cells = []
    for field in WINDOW_FIELDS:
        value = getattr(module, field, None)
        if value is None or isinstance(module, nn.ZeroPad2d):
            cells.append("-")
        elif isinstance(value, tuple):
            cells.append("x".join(str(v) for v in value))
        elif isinstance(value, int):
            cells.append(f"{value}x{value}")
        else:
            cells.append(str(value))
    return tuple(cells)  # type: ignore[return-value]


def summarize(model: nn.Module, resolved: ResolvedSpec) -> ModelSummary:
    """Run torchinfo on one input of the spec's shape; one row per layer, in model order."""
    was_training = model.training
    model.eval()  # one sample through BatchNorm in train mode would fail; eval is what we measure
    stats = torchinfo.summary(
        model, input_size=(1, *resolved.spec.input_shape), verbose=0, device="cpu"
    )
    model.train(was_training)
    leaves = [info for info in stats.summary_list if info.is_leaf_layer]
    rows = tuple(
        LayerRow(
            name=r.name,
            section=r.section,
            window=_window(info.module),
            output_shape=tuple(info.output_size[1:]),
            params=info.num_params,
            mult_adds=info.macs,
        )
        for r, info in zip(resolved.layers, leaves, strict=True)
    )
    return ModelSummary(
        rows=rows,
        total_params=stats.total_params,
        trainable_params=stats.trainable_params,
        total_mult_adds=stats.total_mult_adds,
    )
