"""The per-layer table `archspec build` prints, in the study's naming (Conv2d-1, ReLU-2, ...).

Every number comes from the resolved shapes alone: no weight is allocated and nothing runs, so
a spec with a trillion parameters prints its table at once. The counts follow torchinfo's
conventions (the tests check them against torchinfo on every shipped spec).
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.layers import format_shape
from archspec.layers.base import pair
from archspec.shapes import MergeRow, ResolvedLayer, ResolvedSpec

WINDOW_FIELDS = ("kernel_size", "padding", "stride", "dilation")
HEADER = (
    "Layer (type)",
    "Kernel",
    "Padding",
    "Stride",
    "Dilation",
    "Output shape",
    "RF",
    "Jump",
    "Param #",
    "Module",
)


@dataclass(frozen=True)
class LayerRow:
    name: str  # Conv2d-1, or `add` / `concat` / `sum` where paths merge
    section: str
    window: tuple[str, str, str, str]  # kernel, padding, stride, dilation ("-" where none)
    output_shape: tuple[int, ...]  # per sample
    receptive_field: str  # in input pixels, "11" or "11x7"; "-" once flattened
    jump: str  # effective stride: input pixels between neighbouring outputs
    params: int | None  # None on merge rows
    mult_adds: int
    module: str  # features.0, layer1.0.conv1, or a merge's note


@dataclass(frozen=True)
class ModelSummary:
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    total_mult_adds: int  # per image
    activation_bytes: int  # per image, float32 outputs of every layer

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        body = [
            (
                r.name,
                *r.window,
                format_shape(r.output_shape),
                r.receptive_field,
                r.jump,
                "" if r.params is None else f"{r.params:,}",
                r.module,
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [HEADER, *body]) for i in range(len(HEADER))]

        def line(cells: tuple[str, ...]) -> str:
            left = "  ".join(c.ljust(w) for c, w in zip(cells[:-2], widths[:-2], strict=True))
            return f"{left}  {cells[-2].rjust(widths[-2])}  {cells[-1]}".rstrip()

        rule = "-" * max(len(line(HEADER)), *(len(line(cells)) for cells in body))
        return "\n".join(
            [
                rule,
                line(HEADER),
                "=" * len(rule),
                *(line(cells) for cells in body),
                "=" * len(rule),
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Mult-adds per image: {self.total_mult_adds:,} "
                f"({self.total_mult_adds / 1e9:.2f} G)",
                f"Activations per image: {format_bytes(self.activation_bytes)} (float32 outputs "
                "of every layer)",
                f"Weights: {format_bytes(4 * self.total_params)} (float32)",
                "RF: receptive field, Jump: effective stride (both in input pixels)",
                rule,
            ]
        )


def format_bytes(count: int) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count} B"


def _pair_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    a, b = pair(value)  # type: ignore[arg-type]
    return f"{a}x{b}"


def _window(r: ResolvedLayer) -> tuple[str, str, str, str]:
    if r.layer.window(r.in_shape) is None or r.layer.kind().startswith("Adaptive"):
        return ("-", "-", "-", "-")
    fields = r.layer.model_dump()
    cells = [_pair_text(fields[name]) if name in fields else "-" for name in WINDOW_FIELDS]
    if (
        "stride" in fields and fields["stride"] is None
    ):  # pooling: the stride defaults to the kernel
        cells[2] = cells[0]
    return tuple(cells)  # type: ignore[return-value]


def _axes(value: tuple[int, int] | None) -> str:
    if value is None:
        return "-"
    return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"


def _row(r: ResolvedLayer | MergeRow) -> LayerRow:
    if isinstance(r, MergeRow):
        return LayerRow(
            r.what,
            r.path.split(".")[0],
            ("-", "-", "-", "-"),
            r.out_shape,
            _axes(r.rf),
            _axes(r.jump),
            None,
            0,
            f"{r.path} ({r.note})",
        )
    return LayerRow(
        r.name,
        r.section,
        _window(r),
        r.out_shape,
        _axes(r.rf),
        _axes(r.jump),
        r.params,
        r.mult_adds,
        r.path,
    )


def summarize(model: object, resolved: ResolvedSpec) -> ModelSummary:
    """The table of `resolved`; `model` is not needed (kept for callers that pass it)."""
    return summarize_resolved(resolved)


def summarize_resolved(resolved: ResolvedSpec) -> ModelSummary:
    return ModelSummary(
        rows=tuple(_row(r) for r in resolved.rows),
        total_params=resolved.total_params,
        trainable_params=resolved.total_params,
        total_mult_adds=resolved.total_mult_adds,
        activation_bytes=resolved.activation_bytes,
    )
