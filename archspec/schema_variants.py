"""The JSON Schema of what composing adds to a spec file: layer ids, `extends` and the edits.

It works on the schema of a whole network (archspec.schema) as a plain JSON document, so it
follows whatever that schema allows in a section, and adds:
- an optional `id` to every layer kind's fields;
- a second form of spec file, a variant: `extends`, every top-level key optional (null removes
  one), and the edits `set`, `replace`, `delete`, `insert_before`, `insert_after`.
"""

from __future__ import annotations

import copy
from typing import Any

from archspec.compose import ID_PATTERN
from archspec.document_tree import LAYER_ID
from archspec.layers import LAYER_KINDS
from archspec.targets import PATH_EXAMPLE

TARGET_PATH = r"^[^.\s]+(\.[^.\s]+)*$"
SPEC = "#/$defs/ArchspecSpec"
SECTION = f"{SPEC}/properties/sections/additionalProperties"
LAYER_ID_SCHEMA = {
    "type": "string",
    "pattern": ID_PATTERN.pattern,
    "description": "a name for this layer that a variant's edits can use (conv1); never "
    "passed to PyTorch",
}


def with_variants(spec_schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a spec file: the whole network `spec_schema` describes, or a variant."""
    spec = copy.deepcopy(spec_schema)
    draft = spec.pop("$schema", "https://json-schema.org/draft/2020-12/schema")
    defs = spec.pop("$defs", {})
    for kind in LAYER_KINDS:
        if "properties" in defs.get(kind, {}):
            defs[kind]["properties"][LAYER_ID] = LAYER_ID_SCHEMA
    defs["ArchspecSpec"] = spec
    defs["ArchspecVariant"] = _variant(spec)
    return {
        "$schema": draft,
        "$defs": defs,
        "title": "ArchspecSpecFile",
        "description": "An archspec spec: a whole network, or a variant that extends another.",
        "anyOf": [{"$ref": SPEC}, {"$ref": "#/$defs/ArchspecVariant"}],
    }


def _variant(spec: dict[str, Any]) -> dict[str, Any]:
    section = {"$ref": SECTION}
    layer = {
        "$ref": SECTION + _items_pointer(spec["properties"]["sections"]["additionalProperties"])
    }
    header = {}
    for name, prop in spec["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("default", "title")}
        described = f"{prop.pop('description', name)} (replaces the base's; null removes it)"
        if name == "sections":
            prop = {
                "type": "object",
                "additionalProperties": {"anyOf": [section, {"type": "null"}]},
            }
        header[name] = {"anyOf": [prop, {"type": "null"}], "description": described}
    where = f"paths such as {PATH_EXAMPLE}"
    edits = {
        "set": _edit(
            {}, f"values to change, at {where}; a layer takes the fields given, null removes one"
        ),
        "replace": _edit(
            {"anyOf": [layer, section, {}]},
            f"what to put in place of a layer, a section, any value ({where})",
        ),
        "delete": {
            "type": "array",
            "items": {"type": "string", "pattern": TARGET_PATH},
            "description": f"layers or keys to remove ({where})",
        },
        "insert_before": _edit(
            {"anyOf": [layer, section]}, "layers to insert before a layer (features.0, conv1)"
        ),
        "insert_after": _edit(
            {"anyOf": [layer, section]}, "layers to insert after a layer (features.-1: the last)"
        ),
    }
    return {
        "type": "object",
        "title": "ArchspecVariant",
        "description": "A spec that extends another and states only what it changes.",
        "properties": {
            "extends": {
                "type": "string",
                "description": "the spec this one changes: a path relative to this file",
            },
            **header,
            **edits,
        },
        "required": ["extends"],
        "additionalProperties": False,
    }


def _edit(value: dict[str, Any], description: str) -> dict[str, Any]:
    """A mapping from target paths, and nothing else, to values."""
    return {
        "type": "object",
        "patternProperties": {TARGET_PATH: value},
        "additionalProperties": False,
        "description": description,
    }


def _items_pointer(section: dict[str, Any], pointer: str = "") -> str:
    """Where, inside a section's schema, one layer's schema is: a list's items."""
    if "items" in section:
        return f"{pointer}/items"
    for i, option in enumerate(section.get("anyOf", [])):
        found = _items_pointer(option, f"{pointer}/anyOf/{i}")
        if found:
            return found
    return ""
