"""Checking one layer's fields against its kind's schema, with one message per field."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic import ValidationError

from archspec.errors import Problem
from archspec.layers import LayerSpec

LineOf = Any  # a callable: document path -> line (or None)


def validate_fields(
    schema: type[LayerSpec], fields: dict[str, Any], line_of: LineOf, path: tuple, where: str
) -> LayerSpec | list[Problem]:
    """The validated layer, or one problem per bad field (located through `line_of`)."""
    try:
        return schema.model_validate(fields)
    except ValidationError as e:
        return field_problems(line_of, schema, e, path, where)


def field_problems(
    line_of: LineOf, schema: type[LayerSpec], error: ValidationError, path: tuple, where: str
) -> list[Problem]:
    """One problem per field: a union type fails once per branch, which says nothing useful."""
    by_field: dict[str, list[Any]] = {}
    for err in error.errors():
        by_field.setdefault(str(err["loc"][0]) if err["loc"] else "", []).append(err)
    problems = []
    known = list(schema.model_fields)
    for name, errs in by_field.items():
        line = line_of((*path, name))
        first = errs[0]
        if first["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"{schema.kind()} takes {known}"
            problems.append(Problem(f"unknown field '{name}'", hint=hint, line=line, where=where))
            continue
        if first["type"] == "missing":
            problems.append(
                Problem(
                    f"missing required field '{name}'",
                    hint=f"e.g. {schema.kind()}: {as_yaml(schema.example)}",
                    line=line,
                    where=where,
                )
            )
            continue
        info = schema.model_fields[name]
        expected = info.description or _plain_message(first)
        if len(errs) == 1 and first["type"] not in ("int_type", "bool_type", "float_type"):
            expected = _plain_message(first)
        problems.append(
            Problem(
                f"{name} must be {expected}, got {as_yaml(first['input'])}",
                hint=f"fix {name} (e.g. {schema.kind()}: {as_yaml(schema.example)})",
                line=line,
                where=f"{where}.{name}",
            )
        )
    return problems


def _plain_message(err: Any) -> str:
    """Pydantic's message, reworded to read after 'must be'."""
    messages = {
        "int_type": "an integer",
        "bool_type": "true or false",
        "float_type": "a number",
        "string_type": "a string",
        "greater_than": f"greater than {err.get('ctx', {}).get('gt')}",
        "greater_than_equal": f"at least {err.get('ctx', {}).get('ge')}",
        "less_than_equal": f"at most {err.get('ctx', {}).get('le')}",
        "literal_error": f"one of {err.get('ctx', {}).get('expected')}",
    }
    return messages.get(err["type"], err["msg"][0].lower() + err["msg"][1:])


def as_yaml(value: Any) -> str:
    """A value as the user would write it in the spec: `true`, `'3'`, `{kernel_size: 3}`."""
    try:
        text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000)
    except yaml.YAMLError:
        return repr(value)
    return text.strip().removesuffix("...").strip()
