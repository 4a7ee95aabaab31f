"""Compose one spec document from a file that `extends` another, its overrides, and `--set`.

The stage between loading and validation (load -> compose -> expand -> validate): it works on
the YAML document as plain data, so it covers every construct of the language alike. A variant
says only what it changes:

    extends: alexnet.yaml             # a path relative to this file; the base may extend another
    name: AlexNetDilation             # a top-level key replaces the base's (mappings such as
                                      #   sections or blocks merge key by key; null removes one)
    set:                              # change values, keeping the rest
      conv1: {padding: 5, dilation: 2}    # a layer: merge these fields (null: back to default)
      classifier.1.out_features: 4096     # one field
    replace: {pool1: {AvgPool2d: {kernel_size: 3, stride: 2}}}   # a layer, section, any value
    delete: [features.2]              # layers (or any key)
    insert_after: {conv1: [BatchNorm2d]}   # layers after (or insert_before: before) a layer

Targets are paths (see archspec.targets): `features.0`, or a layer's `id` (an optional field on
any layer, used only here: it is removed before validation, so no module ever sees it). All the
targets of one file point into the base as it stands before that file's edits, so an insertion
never shifts the index of another edit. `--set PATH=VALUE` arguments then apply in turn, as `set`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from archspec.catalog import names_hint, shipped_name, spec_path
from archspec.document_tree import (
    LAYER_ID,
    Node,
    from_document,
    from_value,
    is_kind_name,
    layer_fields,
    layer_kind,
    layers_with_ids,
    to_document,
)
from archspec.errors import Problem, SpecError
from archspec.loader import Document, parse_spec_text, read_spec_file
from archspec.origin import Origin
from archspec.targets import Target, TargetError, find_target

EDITS = ("set", "replace", "delete", "insert_before", "insert_after")
MAX_CHAIN = 32  # files extending one another; real variants are a chain of two or three
ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SET_EXAMPLE = "--set features.0.kernel_size=7"


def compose(doc: Document, sets: Sequence[str] = ()) -> Document:
    """`doc` with its `extends` chain and overrides applied, then each `--set PATH=VALUE`."""
    composer = _Composer(doc.source)
    root = composer.compose_file(doc, (Path(doc.source).resolve(),))
    composer.apply_sets(root, sets)
    composer.remove_ids(root)
    return to_document(root, doc.source)


@dataclass
class _Edit:
    verb: str
    target: Target
    value: Node | None
    line: int | None


class _Composer:
    def __init__(self, top: str):
        self.top = top  # the file the user named: its lines need no file name in messages

    def fail(self, *problems: Problem) -> SpecError:
        return SpecError(self.top, problems)

    def lines_of(self, file: str, applied_to: str | None = None) -> Callable[[int], int]:
        """How a line of `file` is told in messages about the top file."""

        def origin(line: int) -> int:
            if file == self.top:
                return Origin(line, applied_to=applied_to) if applied_to else line
            return Origin(line, file=file, applied_to=applied_to)

        return origin

    # --- extends ---------------------------------------------------------------------------

    def compose_file(self, doc: Document, chain: tuple[Path, ...]) -> Node:
        """The tree of `doc` composed onto its base; `chain`: the files from the top to `doc`."""
        data = doc.data
        if not isinstance(data, dict) or "extends" not in data:
            root = from_document(doc, self.lines_of(doc.source))
            if root.is_map:
                self._refuse_edits_without_base(root)
            return root
        extends_line = self.lines_of(doc.source)(doc.lines.get(("extends",), 1))
        base_path = self._base_path(doc, data["extends"], extends_line, chain)
        label = os.path.normpath(base_path)
        root = from_document(doc, self.lines_of(doc.source, applied_to=label))
        del root.value["extends"]
        edits = {verb: root.value.pop(verb) for verb in list(root.value) if verb in EDITS}
        base = self.compose_file(self._read_base(base_path), (*chain, base_path.resolve()))
        if not base.is_map:
            raise self.fail(
                Problem(
                    f"{label} is not a spec (a mapping of name, sections...): nothing to extend",
                    hint="extend a spec file such as alexnet.yaml",
                    line=extends_line,
                )
            )
        merge(base, root)
        self._apply_edits(base, edits, label)
        return base

    def _base_path(self, doc: Document, value: object, line: int, chain: tuple) -> Path:
        def problem(message: str, hint: str) -> SpecError:
            return self.fail(Problem(f"extends: {message}", hint=hint, line=line))

        if not isinstance(value, str) or not value.strip():
            raise problem(
                f"give the file this spec changes, got {value!r}", "e.g. extends: alexnet.yaml"
            )
        if Path(value).is_absolute():
            raise problem(
                f"{value} is an absolute path", "write it relative to this file: alexnet.yaml"
            )
        here = Path(doc.source).parent
        path = here / value
        shown = os.path.normpath(path)
        if not path.exists() and shipped_name(value) is not None:
            path = shown = spec_path(value)  # `extends: tiny`: a shipped spec, by name
        if path.is_dir():
            raise problem(f"{shown} is a folder", "name a spec file in it, e.g. alexnet.yaml")
        if not path.is_file():
            raise problem(
                f"the base file {shown} does not exist",
                f"the path is relative to this file's folder ({os.path.normpath(here)}/), "
                + names_hint(value),
            )
        resolved = path.resolve()
        if resolved in chain:
            loop = " -> ".join(p.name for p in (*chain[chain.index(resolved) :], resolved))
            raise problem(
                f"{shown} is already being extended: {loop} is a cycle",
                "a base cannot extend its own variant: remove one of these extends",
            )
        if len(chain) >= MAX_CHAIN:
            raise problem(
                f"more than {MAX_CHAIN} files extend one another", "extend the base directly"
            )
        return path

    def _read_base(self, path: Path) -> Document:
        """The base file's document; its own problems (bad YAML...) are told as in that file."""
        try:
            return read_spec_file(path)
        except SpecError as e:
            raise self.fail(*(_in_file(p, e.source) for p in e.problems)) from None

    def _refuse_edits_without_base(self, root: Node) -> None:
        problems = [
            Problem(
                f"{verb} changes the spec named by extends, and this file extends none",
                hint="add extends: base.yaml, or write the change into the layers themselves",
                line=root.value[verb].line,
            )
            for verb in EDITS
            if verb in root.value
        ]
        if problems:
            raise self.fail(*problems)

    # --- overrides -------------------------------------------------------------------------

    def _apply_edits(self, root: Node, edits: dict[str, Node], base: str) -> None:
        problems: list[Problem] = []
        found: list[_Edit] = []
        for verb, node in edits.items():
            for text, line, value in _entries(verb, node, problems):
                try:
                    target = find_target(root, text, may_create=verb == "set", base=base)
                except TargetError as e:
                    problems.append(Problem(f"{verb} {text}: {e}", hint=e.hint, line=line))
                    continue
                found.append(_Edit(verb, target, value, line))
        problems += _conflicts(found) + _misplaced_inserts(found)
        if not problems:
            for edit in found:
                if edit.verb in ("set", "replace"):
                    problems += _assign(edit)
        if not problems:
            problems = _restructure([e for e in found if e.verb not in ("set", "replace")])
        if problems:
            raise self.fail(*problems)

    def apply_sets(self, root: Node, sets: Sequence[str]) -> None:
        for argument in sets:
            flag = f"--set {argument}"
            line = Origin(0, flag=flag)
            path, equals, text = argument.partition("=")
            try:
                if not equals:
                    raise TargetError(
                        "--set takes PATH=VALUE", hint=f"e.g. {SET_EXAMPLE} (null removes a field)"
                    )
                if not text.strip():
                    raise TargetError(
                        "no value after '='", hint=f"e.g. {SET_EXAMPLE} (null removes a field)"
                    )
                value = from_value(_parse_value(text, flag), line)
                target = find_target(root, path, may_create=True, base=self.top)
            except TargetError as e:
                raise self.fail(Problem(str(e), hint=e.hint, line=line)) from None
            problems = _assign(_Edit("set", target, value, line))
            if problems:
                raise self.fail(*problems)

    def remove_ids(self, root: Node) -> None:
        """Ids name layers for overrides only: check them, then take them out of the layers."""
        problems: list[Problem] = []
        sections = root.value.get("sections") if root.is_map else None
        taken = {str(k) for k in root.value} if root.is_map else set()
        taken |= (
            {str(k) for k in sections.value} if sections is not None and sections.is_map else set()
        )
        seen: dict[str, Node] = {}
        for _, layer, id_node in layers_with_ids(root):
            value = id_node.value
            if not isinstance(value, str) or not ID_PATTERN.match(value):
                problems.append(
                    Problem(
                        f"a layer id is a name such as conv1, got {value!r}",
                        hint="use letters, digits and underscores, not starting with a digit",
                        line=id_node.line,
                    )
                )
            elif value in seen:
                first = seen[value].line
                problems.append(
                    Problem(
                        f"the id '{value}' is given to two layers"
                        + (f" (the other: {_place(first)})" if first else ""),
                        hint="give each layer its own id",
                        line=id_node.line,
                    )
                )
            elif value in taken:
                problems.append(
                    Problem(
                        f"the id '{value}' is also a section or top-level key, which it would hide",
                        hint="choose another id",
                        line=id_node.line,
                    )
                )
            seen.setdefault(str(value), id_node)
            del layer_fields(layer).value[LAYER_ID]
        if problems:
            raise self.fail(*problems)


def _in_file(problem: Problem, file: str) -> Problem:
    if problem.line:
        return replace(problem, line=Origin(problem.line, file=file))
    return replace(problem, message=f"{file}: {problem.message}")


def merge(base: Node, patch: Node) -> Node:
    """`patch` merged into `base` (JSON Merge Patch): mappings key by key, null removes a key,
    anything else (a list of layers too) replaces."""
    if not (base.is_map and patch.is_map):
        return patch
    for key, value in patch.value.items():
        if value.value is None:
            base.value.pop(key, None)
        elif key in base.value:
            base.value[key] = merge(base.value[key], value)
        else:
            base.value[key] = value
    return base


def _entries(verb: str, node: Node, problems: list[Problem]) -> list[tuple[str, int, Node | None]]:
    """(target, line, value) for each entry of an edit: a mapping, or a list for delete."""
    if node.value is None:  # `set:` with nothing under it yet
        return []
    if verb == "delete":
        items = node.value if node.is_list else [node]
        entries = [(item.value, item.line, None) for item in items]
        example = "delete: [features.2, pool5]"
    elif node.is_map:
        entries = [(key, value.line, value) for key, value in node.value.items()]
        example = f"{verb}: {{features.0: ...}}"
    else:
        entries, example = [], f"{verb}: {{features.0: ...}}"
        problems.append(
            Problem(
                f"{verb} is a mapping of targets to values", hint=f"e.g. {example}", line=node.line
            )
        )
    good = []
    for text, line, value in entries:
        if isinstance(text, str) or (isinstance(text, int) and not isinstance(text, bool)):
            good.append((str(text), line or node.line, value))
        else:
            problems.append(
                Problem(
                    f"{verb}: a target is a path such as features.0 or conv1, got {text!r}",
                    hint=f"e.g. {example}",
                    line=line or node.line,
                )
            )
    return good


def _conflicts(edits: list[_Edit]) -> list[Problem]:
    """A deleted or replaced value is changed by no other edit, neither it nor inside it."""
    exclusive = {id(e.target.node): e for e in edits if e.verb in ("delete", "replace")}
    problems = []
    for edit in edits:
        for node in edit.target.ancestors:
            other = exclusive.get(id(node))
            if other is not None:
                problems.append(_conflict(edit, other, "inside "))
                break
        other = exclusive.get(id(edit.target.node))
        if other is not None and other is not edit and edit.verb not in _INSERTS:
            problems.append(_conflict(edit, other, ""))
    return problems


_INSERTS = ("insert_before", "insert_after")


def _conflict(edit: _Edit, other: _Edit, inside: str) -> Problem:
    where = "" if int(other.line or 0) == int(edit.line or 0) else f" (line {int(other.line)})"
    return Problem(
        f"{edit.verb} {edit.target.text}: that is {inside}{other.target.text}, which this file "
        f"also {'deletes' if other.verb == 'delete' else 'replaces'}{where}",
        hint="keep one of the two edits",
        line=edit.line,
    )


def _misplaced_inserts(edits: list[_Edit]) -> list[Problem]:
    return [
        Problem(
            f"{e.verb} {e.target.text}: that is not a layer",
            hint=f"name the layer to insert next to, e.g. {e.verb}: "
            "{features.0: [BatchNorm2d]} (features.-1 is the last layer)",
            line=e.line,
        )
        for e in edits
        if e.verb in _INSERTS and not (e.target.in_list or e.target.is_layer)
    ]


def _assign(edit: _Edit) -> list[Problem]:
    """Apply a set or replace in place, so that other edits' nodes stay where they are."""
    target, value = edit.target, edit.value
    node = target.node
    if node is None:
        if value.value is not None:  # a field not written yet; null there is already so
            target.container.value[target.key] = value
        return []
    if value.value is None:
        if target.in_list:
            return [
                Problem(
                    f"{edit.verb} {target.text}: null cannot stand for a layer",
                    hint=f"delete: [{target.text}]",
                    line=edit.line,
                )
            ]
        del target.container.value[target.key]
        return []
    if edit.verb == "set" and target.is_layer and value.is_map:
        kinds = [k for k, v in value.value.items() if _looks_like_layer(k, v)]
        if kinds:
            return [
                Problem(
                    f"set {target.text} changes fields of the {layer_kind(node)} there, and "
                    f"{kinds[0]} is not a field but a layer",
                    hint=f"to put another layer in its place: replace: {{{target.text}: "
                    f"{{{kinds[0]}: ...}}}}",
                    line=edit.line,
                )
            ]
        fields = layer_fields(node, create=True)
        if fields is not None:
            merge(fields, value)
            return []
    new = merge(node, value) if edit.verb == "set" else value
    node.value, node.line = new.value, new.line
    return []


def _looks_like_layer(key: object, value: Node) -> bool:
    """Fields are PyTorch keywords (lowercase); a capitalised key holding fields is a kind."""
    return is_kind_name(key) and (value.is_map or value.value is None)


@dataclass
class _Plan:
    """What happens around one item of a list or mapping: inserts before and after, a delete."""

    before: list[_Edit] = field(default_factory=list)
    after: list[_Edit] = field(default_factory=list)
    delete: bool = False


def _restructure(edits: list[_Edit]) -> list[Problem]:
    """Delete and insert, each list or mapping rebuilt once, anchored on its items (nodes in a
    list, keys in a mapping of named layers) rather than on indices."""
    plans: dict[int, tuple[Node, dict[object, _Plan]]] = {}
    for edit in edits:
        target = edit.target
        anchor = id(target.node) if target.in_list else target.key
        _, by_anchor = plans.setdefault(id(target.container), (target.container, {}))
        plan = by_anchor.setdefault(anchor, _Plan())
        if edit.verb == "delete":
            plan.delete = True
        else:
            getattr(plan, edit.verb.removeprefix("insert_")).append(edit)
    problems: list[Problem] = []
    for container, by_anchor in plans.values():
        if container.is_list:
            container.value = _rebuilt_list(container.value, by_anchor)
        else:
            container.value = _rebuilt_mapping(container.value, by_anchor, problems)
    return problems


def _rebuilt_list(items: list[Node], by_anchor: dict[object, _Plan]) -> list[Node]:
    def layers(edits: list[_Edit]) -> list[Node]:
        return [n for e in edits for n in (e.value.value if e.value.is_list else [e.value])]

    rebuilt: list[Node] = []
    for node in items:
        plan = by_anchor.get(id(node), _Plan())
        rebuilt += layers(plan.before) + ([] if plan.delete else [node]) + layers(plan.after)
    return rebuilt


def _rebuilt_mapping(
    items: dict[object, Node], by_anchor: dict[object, _Plan], problems: list[Problem]
) -> dict[object, Node]:
    """A mapping of named layers with layers inserted by name next to one of them."""
    kept = {key for key in items if not by_anchor.get(key, _Plan()).delete}
    rebuilt: dict[object, Node] = {}

    def add(edits: list[_Edit]) -> None:
        for edit in edits:
            if not edit.value.is_map or layer_kind(edit.value) is not None:
                problems.append(
                    Problem(
                        f"{edit.verb} {edit.target.text}: next to a named layer, insert named "
                        "layers",
                        hint=f"e.g. {edit.verb}: {{{edit.target.text}: {{bn0: BatchNorm2d}}}}",
                        line=edit.line,
                    )
                )
                continue
            for name, layer in edit.value.value.items():
                if name in rebuilt or name in kept:
                    problems.append(
                        Problem(
                            f"{edit.verb} {edit.target.text}: there is a layer named {name} "
                            "there already",
                            hint="give the new layer another name",
                            line=layer.line or edit.line,
                        )
                    )
                rebuilt[name] = layer

    for key, node in items.items():
        plan = by_anchor.get(key, _Plan())
        add(plan.before)
        if not plan.delete:
            rebuilt[key] = node
        add(plan.after)
    return rebuilt


def _parse_value(text: str, flag: str) -> object:
    """A --set value, read as YAML (safely, with the spec file's guards): 7, true, [3, 5]."""
    try:
        return parse_spec_text(text, flag).data
    except SpecError as e:
        reason = e.problems[0].message if e.problems else str(e)
        raise TargetError(
            f"the value is not valid YAML: {reason}",
            hint="quote it for the shell, e.g. --set 'input_shape=[3, 64, 64]'",
        ) from None


def _place(line: int | None) -> str:
    if isinstance(line, Origin):
        return line.describe()
    return f"line {line}" if line else "elsewhere"
