"""The spec: a named network of sections, each an ordered list of layers, validated as plain data.

A spec file looks like (blocks, repeats and parameters: see expand.py)

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

import copy
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archspec.compose import compose
from archspec.errors import Problem, SpecError
from archspec.expand import expand
from archspec.layers.base import PositiveInt
from archspec.loader import Document, find_line, parse_spec_text, read_spec_file
from archspec.tree import Sequence
from archspec.validate import as_yaml

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
    blocks: dict[str, Any] = Field(
        default_factory=dict,
        description="reusable blocks: name -> {params, layers | Residual | Parallel}",
    )
    sections: dict[str, list[Any] | dict[str, Any] | str] = Field(
        description="named sections in order (features, classifier, ...), each a list of layers, "
        "a mapping of named layers, or one layer (the model's attribute is then that layer)"
    )


@dataclass(frozen=True)
class Spec:
    """A validated spec: plain data, no torch objects. `sections` are the expanded trees."""

    name: str
    sections: dict[str, Sequence]
    input_shape: tuple[int, int, int] = DEFAULT_INPUT_SHAPE
    description: str = ""
    # The document as written (blocks and repeats unexpanded), for to_data.
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    source: str = field(default="<spec>", compare=False)
    # Where each value sits in the file, e.g. ("sections", "features", 3) -> 12; for messages.
    lines: Mapping[tuple, int] = field(default_factory=dict, compare=False, repr=False)
    # How many times each block is used in the network: what `block_count` is.
    block_uses: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, *path: object) -> int | None:
        return find_line(self.lines, path)

    def to_data(self) -> dict[str, Any]:
        """The spec as YAML/JSON-ready data; `spec_from_data` turns it back into an equal Spec."""
        data: dict[str, Any] = {"name": self.name, "input_shape": list(self.input_shape)}
        if self.description:
            data["description"] = self.description
        for key in ("blocks", "sections"):
            if key in self.data:
                data[key] = copy.deepcopy(self.data[key])
        return data


def load_spec(path: str | Path, sets: Iterable[str] = ()) -> Spec:
    """Read, compose (extends, overrides, `--set PATH=VALUE`s) and validate a spec file; raise
    SpecError listing every problem."""
    return parse_spec(compose(read_spec_file(path), sets))


def spec_from_text(text: str, source: str = "<spec>") -> Spec:
    return parse_spec(compose(parse_spec_text(text, source)))


def spec_from_data(data: Any, source: str = "<spec>") -> Spec:
    """Validate spec data that did not come from a file (e.g. stored in a checkpoint)."""
    return parse_spec(Document(data=data, source=source))


def parse_spec(doc: Document) -> Spec:
    """One composed document (extends, overrides and --set already applied) -> Spec: expand
    blocks, repeats and parameters, and validate every layer; SpecError lists every problem."""
    problems: list[Problem] = []
    if not isinstance(doc.data, Mapping):
        raise SpecError(
            doc.source,
            [Problem("a spec is a mapping with name, input_shape and sections", line=1)],
        )
    header = _validate_header(doc, problems)
    raw_sections = doc.data.get("sections")
    if isinstance(raw_sections, Mapping) and not raw_sections:
        problems.append(
            Problem(
                "sections is empty",
                hint="add at least one section, e.g. features: [...]",
                line=doc.line_of(("sections",)),
            )
        )
    uses: dict[str, int] = {}
    sections = expand(doc, problems, uses)
    if header is None and not problems:
        # the header failed only inside sections or blocks, where expand words the problems
        # better, yet expand found none: report Pydantic's own, rather than "0 problems"
        _validate_header(doc, problems, nested=True)
    if problems or header is None:
        raise SpecError(doc.source, problems)
    return Spec(
        name=header.name,
        input_shape=header.input_shape,
        description=header.description,
        sections=sections,
        data=doc.data,
        source=doc.source,
        lines=doc.lines,
        block_uses=uses,
    )


def _validate_header(
    doc: Document, problems: list[Problem], nested: bool = False
) -> SpecHeader | None:
    try:
        return SpecHeader.model_validate(doc.data)
    except ValidationError as e:
        for err in e.errors():
            loc = err["loc"]
            if loc[:1] in (("sections",), ("blocks",)) and len(loc) > 1 and not nested:
                continue  # layers and blocks are reported by expand, with better messages
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
