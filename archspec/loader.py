"""Read a spec file as plain data, remembering the line of every value for error messages.

Only YAML's safe subset is accepted: a spec is data and can never construct Python objects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from archspec.catalog import names_hint
from archspec.errors import Problem, SpecError

MAX_FILE_BYTES = 5 * 1024 * 1024  # 5 MB; torchvision's zoo written out in full is under 1 MB
MAX_VALUES = 100_000  # far beyond any network spec, far below what would exhaust memory
MAX_NODES = 2 * MAX_VALUES  # keys and values as written, counted before any is built
MAX_NESTING = 100  # levels of YAML nesting; a spec with deep blocks uses about 15
SLOW_PATH_BYTES = 256 * 1024  # a YAML mistake is worded by the pure-Python parser up to this size
# C0 controls but tab, newline and carriage return, and DEL: never part of a spec's text
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
Path_ = tuple[Any, ...]  # a location in the document: ("sections", "features", 3, "Conv2d")


@dataclass
class Document:
    """The parsed YAML and where each of its values sits in the text."""

    data: Any
    source: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        return find_line(self.lines, path)


def find_line(lines: Mapping[Path_, int], path: Path_) -> int | None:
    """The line of `path`, or of its closest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def read_spec_file(path: str | Path) -> Document:
    path = Path(path)
    try:
        with path.open("rb") as f:
            # The size first, and never more than the limit read: a huge file (or a device
            # such as /dev/zero, whose size says nothing) is refused at once.
            if os.fstat(f.fileno()).st_size > MAX_FILE_BYTES:
                raise _too_large(str(path))
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise _too_large(str(path))
        # as text mode reads it: line ends as \n
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        raise SpecError(
            str(path),
            [Problem("file not found", hint=f"check the path, {names_hint(path)}")],
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(str(path), [Problem(f"cannot read the file: {e}")]) from None
    return parse_spec_text(text, str(path))


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing nesting deeper than any spec needs before Python's own
    recursion limit turns it into a crash."""

    depth = 0
    nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        self.nodes += 1
        try:
            if self.depth > MAX_NESTING:
                mark = self.peek_event().start_mark
                raise _TooDeep(mark.line + 1)
            if self.nodes > MAX_NODES:
                raise _TooMany(self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


# libyaml's parser, when PyYAML has it, reads a spec about five times faster: what keeps
# `archspec validate` quick enough for an editor. Its composer recurses in C, so the nesting is
# checked on its event stream first, where the pure-Python loader checks it while composing.
_CLoader = getattr(yaml, "CSafeLoader", None)


def _check_events(text: str) -> None:
    """Nesting and the number of values, counted on the event stream before any node is built:
    a few megabytes of `[0,0,0,...]` would take gigabytes as nodes."""
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=_CLoader):
            if isinstance(event, yaml.NodeEvent):  # scalars, aliases, collection starts
                nodes += 1
                if nodes > MAX_NODES:
                    raise _TooMany(event.start_mark.line + 1)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise _TooDeep(event.start_mark.line + 1)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as e:
        # libyaml's own limit (1000 levels) can stop it before the events get that deep
        if e.problem and "nesting depth" in e.problem and e.problem_mark is not None:
            raise _TooDeep(e.problem_mark.line + 1) from None
        raise


class _TooDeep(Exception):
    def __init__(self, line: int):
        self.line = line


class _TooMany(_TooDeep):
    """More than MAX_NODES keys and values, the line where the count ran over."""


def _control_character(text: str, source: str) -> None:
    """YAML refuses control characters with a traceback-like message; say where instead."""
    match = CONTROL.search(text)
    if match is None:
        return
    line = text.count("\n", 0, match.start()) + 1
    column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    code = ord(match.group())
    name = "a NUL byte" if code == 0 else f"the control character U+{code:04X}"
    raise SpecError(
        source,
        [
            Problem(
                f"{name} at column {column}: a YAML file is plain text",
                hint="delete it (an editor that shows invisible characters helps), or check "
                "that this is the file you meant and not a binary one",
                line=line,
            )
        ],
    )


def _too_large(source: str) -> SpecError:
    return SpecError(
        source,
        [
            Problem(
                f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: a spec is a few "
                "kilobytes of text",
                hint="check that this is the spec you meant; write repeated layers with repeat: "
                "or blocks: instead of copying them out",
            )
        ],
    )


def parse_spec_text(text: str, source: str = "<spec>") -> Document:
    if len(text) > MAX_FILE_BYTES:
        raise _too_large(source)
    _control_character(text, source)
    if _CLoader is not None:
        try:
            return _parse(text, source, fast=True)
        except _SlowPath as e:  # a YAML mistake: the pure-Python loader words it better
            if len(text) > SLOW_PATH_BYTES:  # but takes seconds a megabyte
                _yaml_problem(e.__cause__, source)
    return _parse(text, source, fast=False)


class _SlowPath(Exception):
    """The fast loader met invalid YAML; read it again with the pure-Python one."""


def _parse(text: str, source: str, fast: bool) -> Document:
    loader = _CLoader(text) if fast else _Loader(text)
    try:
        if fast:
            _check_events(text)
        node = loader.get_single_node()
        if node is None:
            raise SpecError(
                source, [Problem("the file is empty", hint="write a spec: name, sections")]
            )
        problems: list[Problem] = []
        lines: dict[Path_, int] = {}
        if _expanded_size(node, MAX_VALUES) > MAX_VALUES:
            raise SpecError(
                source,
                [
                    Problem(
                        f"the spec expands to more than {MAX_VALUES:,} values (YAML aliases?)",
                        hint="write the layers out; a network spec is never that large",
                    )
                ],
            )
        _index_lines(node, (), lines, problems)
        data = loader.construct_document(node)
    except _TooMany as e:
        problem = Problem(
            f"the spec holds more than {MAX_NODES:,} keys and values",
            hint="write repeated layers with repeat: or blocks: instead of copying them out",
            line=e.line,
        )
        raise SpecError(source, [problem]) from None
    except _TooDeep as e:
        problem = Problem(
            f"the YAML is nested more than {MAX_NESTING} levels deep",
            hint="a spec nests a few levels (sections, blocks, layers); check the brackets",
            line=e.line,
        )
        raise SpecError(source, [problem]) from None
    except yaml.YAMLError as e:
        if fast:
            raise _SlowPath from e
        _yaml_problem(e, source)
    finally:
        loader.dispose()
    if problems:
        raise SpecError(source, problems)
    return Document(data=data, source=source, lines=lines)


def _yaml_problem(e: yaml.YAMLError, source: str) -> NoReturn:
    if isinstance(e, yaml.constructor.ConstructorError):
        raise SpecError(source, [_tag_problem(e)]) from None
    if isinstance(e, yaml.MarkedYAMLError):
        line = e.problem_mark.line + 1 if e.problem_mark else None
        message = f"YAML syntax error: {e.problem or e}"
        if e.context and e.context_mark and e.context_mark.line + 1 != line:
            # e.g. an unclosed `{` is only noticed lines later, where the file ends
            message += f" ({e.context} that starts on line {e.context_mark.line + 1})"
        hint = "check indentation, colons and brackets around this line"
        raise SpecError(source, [Problem(message, hint=hint, line=line)]) from None
    raise SpecError(source, [Problem(f"YAML error: {e}")]) from None


def _tag_problem(e: yaml.constructor.ConstructorError) -> Problem:
    line = e.problem_mark.line + 1 if e.problem_mark else None
    if e.problem and "unhashable key" in e.problem:  # `{[1, 2]: x}`: valid YAML, not Python
        return Problem(
            "a mapping key is a list or a mapping",
            hint="write keys as plain names or numbers",
            line=line,
        )
    tag = e.problem.split("tag", 1)[-1].strip(" '") if e.problem else "?"
    tag = tag.replace("tag:yaml.org,2002:", "!!", 1)  # as written: !!python/object/apply:...
    return Problem(
        f"the YAML tag {tag} is not allowed: a spec is plain data and never runs code",
        hint="remove the tag and write the value as plain YAML (numbers, strings, lists, mappings)",
        line=line,
    )


def _expanded_size(node: yaml.Node, budget: int) -> int:
    """How many values the document holds once aliases are expanded, counting up to `budget`.

    A few lines of aliases can expand to billions of values ("billion laughs"); every later
    step walks the expanded data, so stop before it.
    """
    count, stack = 0, [node]
    while stack and count <= budget:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.MappingNode):
            stack.extend(value for _, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return count


# Plain keys YAML reads as true, false or null (yes, on, off, ~...): two of them in one mapping
# would silently become one, and none is a name or a field of the spec language.
_SURPRISING_KEYS = {"tag:yaml.org,2002:bool": "true or false", "tag:yaml.org,2002:null": "null"}


def _surprising_key(key_node: yaml.ScalarNode) -> Problem:
    key, read_as = key_node.value, _SURPRISING_KEYS[key_node.tag]
    return Problem(
        f"the key '{key}' is read by YAML as {read_as}, not as a name"
        if key
        else (f"a key is missing: YAML reads the empty key as {read_as}"),
        hint=f"quote it ('{key}') or choose another name" if key else "write the key",
        line=key_node.start_mark.line + 1,
    )


def _index_lines(node: yaml.Node, path: Path_, lines: dict, problems: list[Problem]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in seen:
                problems.append(
                    Problem(
                        f"the key '{key}' appears twice in one mapping; YAML would silently keep "
                        "only the last",
                        hint="remove or rename one of them",
                        line=key_node.start_mark.line + 1,
                    )
                )
            seen.add(key)
            if key_node.tag in _SURPRISING_KEYS:
                problems.append(_surprising_key(key_node))
            _index_lines(value_node, (*path, key), lines, problems)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, problems)
