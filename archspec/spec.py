"""The spec: a named network of sections, each an ordered list of layers, validated as plain data.

A spec file looks like

    name: AlexNet                 # the class name printed for the model
    input_shape: [3, 227, 227]    # (C, H, W), the default
    sections:
      features:
        - Conv2d: {out_channels: 96, kernel_size: 11, stride: 4}
        - ReLU: {inplace: true}
      classifier:
        - Linear: {out_features: num_classes}

Every problem in a file is collected and reported at once (see `SpecError`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from archspec.compose import compose
from archspec.errors import Problem, SpecError
from archspec.layers import LAYER_KINDS, LayerSpec, suggest_kind
from archspec.layers.base import PositiveInt
from archspec.loader import Document, find_line, parse_spec_text, read_spec_file

DEFAULT_INPUT_SHAPE = (3, 227, 227)  # the study's AlexNet input
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class SpecHeader(BaseModel):
    """The top level of a spec file; the layers themselves are checked kind by kind."""

    model_config = ConfigDict(extra="forbid")

    name: Identifier = Field(description="the class name shown when the model is printed")
    input_shape: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        DEFAULT_INPUT_SHAPE, description="(channels, height, width) of one input image"
    )
    description: str = Field("", description="free text: what this variant is")
    sections: dict[str, list[Any]] = Field(
        description="named sections in order (features, classifier, ...), each a list of layers"
    )


@dataclass(frozen=True)
class Spec:
    """A validated spec: plain data, no torch objects."""

    name: str
    sections: dict[str, tuple[LayerSpec, ...]]
    input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE
    description: str = ""
    source: str = field(default="<spec>", compare=False)
    # Where each value sits in the file, e.g. ("sections", "features", 3) -> 12; for messages.
    lines: Mapping[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, *path: object) -> int | None:
        return find_line(self.lines, path)

    def to_data(self) -> dict[str, Any]:
        """The spec as YAML/JSON-ready data; `spec_from_data` turns it back into an equal Spec."""
        data: dict[str, Any] = {"name": self.name, "input_shape": list(self.input_shape)}
        if self.description:
            data["description"] = self.description
        data["sections"] = {
            name: [layer.to_data() for layer in layers] for name, layers in self.sections.items()
        }
        return data


def load_spec(path: str | Path, sets: Sequence[str] = ()) -> Spec:
    """Read, compose (extends, overrides, `--set PATH=VALUE`s) and validate a spec file; raise
    SpecError listing every problem."""
    return parse_spec(compose(read_spec_file(path), sets))


def spec_from_text(text: str, source: str = "<spec>") -> Spec:
    return parse_spec(compose(parse_spec_text(text, source)))


def spec_from_data(data: Any, source: str = "<spec>") -> Spec:
    """Validate spec data that did not come from a file (e.g. stored in a checkpoint)."""
    return parse_spec(Document(data=data, source=source))


def parse_spec(doc: Document) -> Spec:
    problems: list[Problem] = []
    if not isinstance(doc.data, Mapping):
        raise SpecError(
            doc.source,
            [Problem("a spec is a mapping with name, input_shape and sections", line=1)],
        )
    header = _validate_header(doc, problems)
    raw_sections = doc.data.get("sections")
    sections: dict[str, tuple[LayerSpec, ...]] = {}
    if isinstance(raw_sections, Mapping):
        if not raw_sections:
            problems.append(
                Problem(
                    "sections is empty",
                    hint="add at least one section, e.g. features: [...]",
                    line=doc.line_of(("sections",)),
                )
            )
        for name, items in raw_sections.items():
            layers = _parse_section(doc, str(name), items, problems)
            if layers is not None:
                sections[str(name)] = layers
    if problems or header is None:
        raise SpecError(doc.source, problems)
    return Spec(
        name=header.name,
        input_shape=header.input_shape,
        description=header.description,
        sections=sections,
        source=doc.source,
        lines=doc.lines,
    )


def _validate_header(doc: Document, problems: list[Problem]) -> SpecHeader | None:
    try:
        return SpecHeader.model_validate(doc.data)
    except ValidationError as e:
        for err in e.errors():
            loc = err["loc"]
            if loc[:1] == ("sections",) and len(loc) > 1:
                continue  # layers are reported by _parse_section, with better messages
            problems.append(_header_problem(doc, err))
        return None


def _header_problem(doc: Document, err: Any) -> Problem:
    loc, kind = err["loc"], err["type"]
    where = ".".join(str(p) for p in loc)
    line = doc.line_of(tuple(loc))
    if kind == "extra_forbidden":
        known = list(SpecHeader.model_fields)
        close = difflib.get_close_matches(str(loc[0]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"the top-level keys are {known}"
        return Problem(f"unknown top-level key '{loc[0]}'", hint=hint, line=line)
    if kind == "missing" and len(loc) == 1:
        hints = {"name": "name: AlexNet", "sections": "sections: {features: [...]}"}
        return Problem(f"missing '{where}'", hint=f"add {hints.get(where, where)}", line=line)
    if loc[:1] == ("name",):
        return Problem(
            f"name must be a Python-style class name, got {as_yaml(err['input'])}",
            hint="use letters, digits and underscores, not starting with a digit (AlexNetTiny)",
            line=line,
        )
    if loc[:1] == ("input_shape",):
        return Problem(
            f"input_shape must be three positive integers [channels, height, width], "
            f"got {as_yaml(_input_of(doc, ('input_shape',)))}",
            hint="e.g. input_shape: [3, 227, 227]",
            line=line,
        )
    if loc == ("sections",):
        return Problem(
            "sections must be a mapping of section names to lists of layers",
            hint="e.g. sections: {features: [...], classifier: [...]}",
            line=line,
        )
    return Problem(f"{where}: {err['msg']}", line=line)


def _input_of(doc: Document, path: tuple) -> Any:
    value = doc.data
    for key in path:
        value = value[key]
    return value


def _parse_section(
    doc: Document, name: str, items: Any, problems: list[Problem]
) -> tuple[LayerSpec, ...] | None:
    path = ("sections", name)
    line = doc.line_of(path)
    if not name.isidentifier() or hasattr(nn.Module, name):
        problems.append(
            Problem(
                f"'{name}' cannot name a section: it must be an identifier that is not already "
                "an attribute of torch.nn.Module",
                hint="use a name such as features, classifier, head",
                line=line,
                where=f"section {name}",
            )
        )
    if not isinstance(items, list):
        problems.append(
            Problem(
                f"section {name} must be a list of layers",
                hint="write each layer on its own line starting with '- '",
                line=line,
            )
        )
        return None
    if not items:
        problems.append(
            Problem(
                f"section {name} is empty",
                hint="add layers to it or remove the section",
                line=line,
                where=f"section {name}",
            )
        )
        return None
    layers = [_parse_layer(doc, name, i, item, problems) for i, item in enumerate(items)]
    if any(layer is None for layer in layers):
        return None
    return tuple(layers)  # type: ignore[arg-type]


def _parse_layer(
    doc: Document, section: str, index: int, item: Any, problems: list[Problem]
) -> LayerSpec | None:
    path = ("sections", section, index)
    where = f"{section}[{index}]"
    if isinstance(item, str):
        kind, fields = item, {}
    elif isinstance(item, Mapping) and len(item) == 1:
        kind, fields = next(iter(item.items()))
        fields = {} if fields is None else fields
    else:
        problems.append(
            Problem(
                "a layer is written as `Kind: {field: value}` or as a bare `Kind`, "
                f"got {as_yaml(item)}",
                hint="e.g. - Conv2d: {out_channels: 64, kernel_size: 3}",
                line=doc.line_of(path),
                where=where,
            )
        )
        return None
    kind = str(kind)
    schema = LAYER_KINDS.get(kind)
    if schema is None:
        guess = suggest_kind(kind)
        hint = f"did you mean {guess}?" if guess else "run `archspec layers` to list them"
        problems.append(
            Problem(f"unknown layer kind '{kind}'", hint=hint, line=doc.line_of(path), where=where)
        )
        return None
    where = f"{where} {kind}"
    if not isinstance(fields, Mapping):
        problems.append(
            Problem(
                f"the fields of {kind} must be a mapping, got {as_yaml(fields)}",
                hint=f"e.g. - {kind}: {as_yaml(schema.example)}",
                line=doc.line_of(path),
                where=where,
            )
        )
        return None
    try:
        return schema.model_validate(dict(fields))
    except ValidationError as e:
        problems.extend(_field_problems(doc, schema, e, (*path, kind), where))
        return None


def _field_problems(
    doc: Document, schema: type[LayerSpec], error: ValidationError, path: tuple, where: str
) -> list[Problem]:
    """One problem per field: a union type fails once per branch, which says nothing useful."""
    by_field: dict[str, list[Any]] = {}
    for err in error.errors():
        by_field.setdefault(str(err["loc"][0]) if err["loc"] else "", []).append(err)
    problems = []
    known = list(schema.model_fields)
    for name, errs in by_field.items():
        line = doc.line_of((*path, name))
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
