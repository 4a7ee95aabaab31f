"""Shape inference: one fold over the layers, before any weight exists.

Each layer kind computes its own output shape (next to its schema); this module only walks the
sections in order, flattens where a spatial section meets a fully connected one, fills in the
input sizes, and turns a failure into a message with the sizes along the way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspec.errors import Problem, SpecError
from archspec.layers import NUM_CLASSES, LayerSpec, Shape, ShapeError, format_shape
from archspec.spec import Spec

# Class counts of the study's two tasks on PACS (4 domains, 7 object categories).
TASK_NUM_CLASSES = {"domain": 4, "category": 7}
# `archspec validate` with no task checks the structure with num_classes standing for this.
PLACEHOLDER_NUM_CLASSES = 7


@dataclass(frozen=True)
class ResolvedLayer:
    """A layer with every size known, and its name for humans (`Conv2d-1`, `ReLU-2`, ...)."""

    section: str
    index: int  # position in its section
    number: int  # 1-based position in the whole model
    layer: LayerSpec
    in_shape: Shape
    out_shape: Shape

    @property
    def name(self) -> str:
        return f"{self.layer.kind()}-{self.number}"


@dataclass(frozen=True)
class ResolvedSpec:
    spec: Spec
    num_classes: int
    layers: tuple[ResolvedLayer, ...]
    flatten_before: tuple[str, ...]  # sections whose input the model flattens first

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape

    def section_layers(self, section: str) -> tuple[ResolvedLayer, ...]:
        return tuple(r for r in self.layers if r.section == section)


def num_classes_for(task: str | None = None, num_classes: int | None = None) -> int | None:
    """The class count a task (or an explicit count) binds `num_classes` to."""
    if num_classes is not None:
        return num_classes
    return TASK_NUM_CLASSES[task] if task is not None else None


def uses_num_classes(spec: Spec) -> bool:
    return bool(_num_classes_fields(spec))


def _num_classes_fields(spec: Spec) -> list[tuple[str, int, LayerSpec, str]]:
    """(section, index, layer, field) of every field written as the symbol num_classes."""
    return [
        (section, index, layer, field)
        for section, layers in spec.sections.items()
        for index, layer in enumerate(layers)
        for field, value in layer.model_dump().items()
        if value == NUM_CLASSES
    ]


def resolve(spec: Spec, num_classes: int | None, *, allow_unbound: bool = False) -> ResolvedSpec:
    """Infer every layer's input and output shape; raise SpecError listing what does not fit."""
    problems: list[Problem] = []
    if num_classes is None:
        users = _num_classes_fields(spec)
        if users and not allow_unbound:
            section, index, layer, field = users[0]
            problems.append(
                Problem(
                    f"{field} is num_classes but no task or class count was given",
                    hint="pass --task domain|category or --num-classes N",
                    line=spec.line_of("sections", section, index, layer.kind(), field),
                    where=f"{section}[{index}] {layer.kind()}.{field}",
                )
            )
            raise SpecError(spec.source, problems)
        num_classes = PLACEHOLDER_NUM_CLASSES
    shape: Shape = spec.input_shape
    trace = [f"input {format_shape(shape)}"]
    resolved: list[ResolvedLayer] = []
    flatten_before: list[str] = []
    number = 0
    for section, layers in spec.sections.items():
        if len(shape) == 3 and _wants_flat(layers):
            flatten_before.append(section)
            shape = (math.prod(shape),)
            trace.append(f"flatten {format_shape(shape)}")
        for index, layer in enumerate(layers):
            number += 1
            where = f"{section}[{index}] {layer.kind()}-{number}"
            try:
                _check_input(layer, shape)
                out = layer.output_shape(shape, num_classes)
            except ShapeError as e:
                problems.append(
                    Problem(
                        f"{e} (input {format_shape(shape)}); sizes along the way: "
                        + " -> ".join(trace),
                        hint=e.hint,
                        line=spec.line_of("sections", section, index, layer.kind(), e.field),
                        where=f"{where}.{e.field}" if e.field else where,
                    )
                )
                raise SpecError(spec.source, problems) from None
            line = spec.line_of("sections", section, index, layer.kind(), layer.in_size_field)
            problems.extend(_check_written_in_size(layer, shape, where, line))
            resolved.append(ResolvedLayer(section, index, number, layer, shape, out))
            if out != shape:
                trace.append(f"{layer.kind()}-{number} {format_shape(out)}")
            shape = out
    if problems:
        raise SpecError(spec.source, problems)
    return ResolvedSpec(spec, num_classes, tuple(resolved), tuple(flatten_before))


def _wants_flat(layers: tuple[LayerSpec, ...]) -> bool:
    """A section wants a flat input if its first shape-sensitive layer is fully connected."""
    for layer in layers:
        if layer.accepts != "any":
            return layer.accepts == "flat"
    return False


def _check_input(layer: LayerSpec, shape: Shape) -> None:
    kind = layer.kind()
    if layer.accepts == "flat" and len(shape) != 1:
        raise ShapeError(
            f"{kind} needs a flat input but gets a spatial one; its in-size cannot be inferred",
            hint=f"put `- Flatten` before it, or start a new section at {kind}: the model "
            "flattens between a spatial section and a fully connected one by itself",
        )
    if layer.accepts == "spatial" and len(shape) != 3:
        raise ShapeError(
            f"{kind} needs a (channels, height, width) input but gets a flat one",
            hint=f"move {kind} before the flatten (into the spatial section)",
        )


def _check_written_in_size(
    layer: LayerSpec, shape: Shape, where: str, line: int | None
) -> list[Problem]:
    """An in-size written by hand is documentation; it must agree with the inferred one."""
    field = layer.in_size_field
    written = getattr(layer, field) if field else None
    if written is None or written == shape[0]:
        return []
    return [
        Problem(
            f"{field} is written as {written} but the input has {shape[0]} "
            f"(input {format_shape(shape)})",
            hint=f"remove {field}: it is inferred",
            line=line,
            where=f"{where}.{field}",
        )
    ]
