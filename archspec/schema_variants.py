"""The JSON Schema of what composing a spec adds: layer ids, and a variant's `extends` and edits.

Kept apart from archspec.schema so that the edits' schema follows archspec.compose.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from archspec.compose import ID_PATTERN
from archspec.layers import LayerSpec
from archspec.spec import SpecHeader
from archspec.targets import PATH_EXAMPLE
from archspec.tree import LAYER_ID

TargetPath = Annotated[str, Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$")]


def with_layer_id(schema: type[LayerSpec]) -> type[LayerSpec]:
    """The kind's fields plus the optional `id` that names a layer for overrides."""
    return create_model(
        schema.kind(),
        __base__=schema,
        __doc__=schema.__doc__,
        **{
            LAYER_ID: (
                str | None,
                Field(
                    None,
                    pattern=ID_PATTERN.pattern,
                    description="a name for this layer that a variant's edits can use (conv1); "
                    "never passed to PyTorch",
                ),
            )
        },
    )


def _constrained(info: FieldInfo) -> Any:
    """A field's type with its constraints (a pattern, bounds), as in the full spec."""
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _edit(value: Any, description: str) -> tuple[Any, Any]:
    """An edit: a mapping from target paths (only) to values."""
    no_other_keys = {"additionalProperties": False}  # patternProperties alone lets any key by
    return dict[TargetPath, value], Field(
        None, description=description, json_schema_extra=no_other_keys
    )


def variant_model(layer: Any) -> type:
    """A spec that `extends` another: every top-level key optional, plus the edits."""
    layers = Union[layer, list[layer]]  # noqa: UP007 (a runtime-built union)
    header = {
        name: (
            (dict[str, list[layer] | None] if name == "sections" else _constrained(info)) | None,
            Field(None, description=f"{info.description} (replaces the base's)"),
        )
        for name, info in SpecHeader.model_fields.items()
    }
    where = f"paths such as {PATH_EXAMPLE}"
    edits = {
        "set": _edit(
            Any, f"values to change, at {where}; a layer takes its changed fields, null removes one"
        ),
        "replace": _edit(
            Union[layer, list[layer], Any],  # noqa: UP007
            f"what to put in place of a layer, section or value ({where})",
        ),
        "delete": (
            list[TargetPath],
            Field(None, description=f"layers or keys to remove ({where})"),
        ),
        "insert_before": _edit(layers, "layers to insert before a layer (features.0, conv1)"),
        "insert_after": _edit(layers, "layers to insert after a layer (features.-1: the last)"),
    }
    return create_model(
        "ArchspecVariant",
        __config__=ConfigDict(extra="forbid"),
        __doc__="A spec that extends another and states only what it changes.",
        extends=(str, Field(description="the spec this one changes: a path relative to this file")),
        **header,
        **edits,
    )
