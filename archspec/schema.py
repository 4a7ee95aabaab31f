"""The JSON Schema of the spec format, so editors complete and check specs as they are typed.

Shipped specs start with `# yaml-language-server: $schema=archspec-spec.schema.json`, which the
YAML language server (VS Code's YAML extension, and others) follows.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal, Union

from pydantic import ConfigDict, Field, create_model

from archspec.layers import LAYER_KINDS
from archspec.spec import SpecHeader

SCHEMA_FILENAME = "archspec-spec.schema.json"


REPEAT = {
    "repeat": (
        int | None,
        Field(None, ge=1, description="how many copies of this item (in a list of layers)"),
    ),
    "first": (
        dict[str, Any] | None,
        Field(None, description="fields that differ in the first copy, e.g. {stride: 2}"),
    ),
}


def spec_json_schema() -> dict[str, Any]:
    """Layers are checked field by field, a field given as an expression by its form only;
    inside blocks and in Residual/Parallel bodies, only the outline is (`archspec validate`
    checks all)."""
    layer_forms: list[Any] = []
    for name, schema in sorted(LAYER_KINDS.items()):
        wrapper = create_model(
            f"{name}Layer",
            __config__=ConfigDict(extra="forbid", title=name),
            __doc__=(schema.__doc__ or name).strip().splitlines()[0],
            **{name: (schema | None, ...)},
            **REPEAT,
        )
        layer_forms.append(wrapper)
        if not any(f.is_required() for f in schema.model_fields.values()):
            layer_forms.append(Literal[name])  # a bare `- ReLU`
    for name, doc in STRUCTURE_DOCS.items():
        layer_forms.append(
            create_model(
                f"{name}Structure",
                __config__=ConfigDict(extra="forbid", title=name),
                __doc__=doc,
                **{name: (Any, ...)},
                **REPEAT,
            )
        )
    layer = Union[tuple(layer_forms)]  # noqa: UP007 (a runtime-built union)
    group = list[layer] | dict[str, layer] | layer  # a list, a mapping, or one layer
    document = create_model(
        "ArchspecSpec",
        __base__=SpecHeader,
        __doc__="An archspec network spec: a name, an input shape and named sections of layers.",
        sections=(
            dict[str, group],
            Field(description=SpecHeader.model_fields["sections"].description),
        ),
    )
    schema = document.model_json_schema()
    for kind in LAYER_KINDS:  # a field may be computed once shapes are known
        fields = schema["$defs"][kind].get("properties", {})
        for key, field in fields.items():
            kept = {k: field.pop(k) for k in ("title", "description", "default") if k in field}
            fields[key] = {**kept, "anyOf": [field, EXPRESSION]}
    # A use of a block defined under `blocks:`: any class-style name that is not a layer kind.
    taken = "|".join(sorted([*LAYER_KINDS, *STRUCTURE_DOCS, "repeat", "first"]))
    block_use = {
        "title": "block",
        "description": "a block defined under blocks:, with its parameters",
        "type": "object",
        "minProperties": 1,
        "properties": {
            "repeat": {"type": "integer", "minimum": 1},
            "first": {"type": "object"},
        },
        "patternProperties": {f"^(?!(?:{taken})$)[A-Z][A-Za-z0-9_]*$": {}},
        "additionalProperties": False,
    }
    # Without `blocks:` a spec can use no block: then an unknown kind is an error, as it is to
    # `archspec validate` (JSON Schema cannot read the block names a spec defines).
    strict = copy.deepcopy(schema["properties"]["sections"])
    schema["if"] = {"not": {"required": ["blocks"]}}
    schema["then"] = {"properties": {"sections": strict}}
    for sections in (schema["properties"]["sections"], strict):
        as_list, as_mapping = sections["additionalProperties"]["anyOf"][:2]
        # `- relu: ReLU`: a named layer in a list (a list may name one weightless layer twice)
        as_list["items"]["anyOf"].append(NAMED_PAIR)
        # `Parallel: {...}` as a key: a structure whose layers are named in this mapping
        as_mapping["properties"] = {kind: {"type": "object"} for kind in ("Parallel", "Residual")}
    for items in _layer_unions(schema):
        items.append(block_use)
        items.append(
            {"type": "string", "pattern": f"^(?!(?:{taken})$)[A-Z][A-Za-z0-9_]*$", "title": "block"}
        )
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# `groups: $in_channels`, `out_features: ${4 * in_channels}`: the language computes these from
# the input's shape (and, in blocks, from the block's parameters); `archspec validate` checks
# that the names exist and the result fits the field.
EXPRESSION = {
    "title": "expression",
    "description": "$name or ${arithmetic}, computed when the shapes are known",
    "type": "string",
    "pattern": r"^\$(\{.*\}|[A-Za-z_][A-Za-z0-9_]*)$",
}


NAMED_PAIR = {
    "title": "named layer",
    "description": "name: layer, in a list of named layers",
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "patternProperties": {
        "^[a-z_][A-Za-z0-9_]*$": {
            "anyOf": [  # a layer: `Kind`, or `Kind: {...}`
                {"type": "string", "pattern": "^[A-Z][A-Za-z0-9_]*$"},
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "patternProperties": {"^[A-Z][A-Za-z0-9_]*$": {}},
                    "additionalProperties": False,
                },
            ]
        }
    },
    "additionalProperties": False,
}


STRUCTURE_DOCS = {
    "Residual": "out = after(body(x) + shortcut(x)); shortcut: auto, identity, "
    "identity_or_none, or layers; class: the name it prints under",
    "Parallel": "branches on the same input, merged by concat, sum or multiply; class: the name "
    "it prints under",
    "Sequential": "a list or mapping of layers as one submodule, or {class: Name, layers: ...}",
}


def _layer_unions(schema: dict[str, Any]) -> list[list[Any]]:
    """The anyOf lists of layer forms in a section's three shapes: a list, a mapping, and one
    layer (whose forms follow the first two in the section's own anyOf)."""
    section = schema["properties"]["sections"]["additionalProperties"]["anyOf"]
    as_list, as_mapping = section[:2]
    return [as_list["items"]["anyOf"], as_mapping["additionalProperties"]["anyOf"], section]


def spec_json_schema_text() -> str:
    from archspec.schema_variants import with_variants  # spec files may also be variants

    return json.dumps(with_variants(spec_json_schema()), indent=2, sort_keys=True) + "\n"
