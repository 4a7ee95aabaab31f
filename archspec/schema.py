"""The JSON Schema of the spec format, so editors complete and check specs as they are typed.

Shipped specs start with `# yaml-language-server: $schema=archspec-spec.schema.json`, which the
YAML language server (VS Code's YAML extension, and others) follows.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Union

from pydantic import ConfigDict, Field, create_model

from archspec.layers import LAYER_KINDS
from archspec.spec import SpecHeader

SCHEMA_FILENAME = "archspec-spec.schema.json"


def spec_json_schema() -> dict[str, Any]:
    layer_forms: list[Any] = []
    for name, schema in sorted(LAYER_KINDS.items()):
        wrapper = create_model(
            f"{name}Layer",
            __config__=ConfigDict(extra="forbid", title=name),
            __doc__=(schema.__doc__ or name).strip().splitlines()[0],
            **{name: (schema | None, ...)},
        )
        layer_forms.append(wrapper)
        if not any(f.is_required() for f in schema.model_fields.values()):
            layer_forms.append(Literal[name])  # a bare `- ReLU`
    layer = Union[tuple(layer_forms)]  # noqa: UP007 (a runtime-built union)
    document = create_model(
        "ArchspecSpec",
        __base__=SpecHeader,
        __doc__="An archspec network spec: a name, an input shape and named sections of layers.",
        sections=(
            dict[str, list[layer]],
            Field(description=SpecHeader.model_fields["sections"].description),
        ),
    )
    schema = document.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def spec_json_schema_text() -> str:
    from archspec.schema_variants import with_variants  # spec files may also be variants

    return json.dumps(with_variants(spec_json_schema()), indent=2, sort_keys=True) + "\n"
