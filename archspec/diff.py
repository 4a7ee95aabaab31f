"""What differs between two specs, layer by layer, and what that costs.

Both specs are resolved (extends, blocks, repeats, every size inferred), so a variant written as
a diff and the same network written out compare equal. Layers are matched in the order the
models run them, by kind (difflib's matching, as `diff` matches lines): a layer whose fields
change is `changed`, one that has no counterpart is `removed` (only in A) or `added` (only in B).
Each is named as the study names it (Conv2d-1, ReLU-2, ...) with its module path. Of the header,
`name` and `input_shape` are compared; `description` is free text and is not. The class names
blocks print under are not compared either: the layers, their fields and their shapes are the
model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from archspec.layers import format_shape
from archspec.shapes import ResolvedLayer, ResolvedSpec, resolve
from archspec.spec import Spec

Sequence_ = tuple  # the resolved layers, in the order the model runs them
MAX_MOVED_SHOWN = 4
MAX_ALIGN = 1_000_000  # layer pairs scored: a few seconds, two 1,000-layer networks


@dataclass(frozen=True)
class LayerChange:
    change: str  # "changed", "removed", "added"
    a: ResolvedLayer | None
    b: ResolvedLayer | None
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (in A, in B)

    def render(self) -> str:
        if self.a is None or self.b is None:
            layer = self.a or self.b
            sign = "-" if self.a is not None else "+"
            return f"{sign} {_label(layer)}: {_describe(layer)}"
        label = _label(self.a)
        if _label(self.b) != label:
            label += f" -> {_label(self.b)}"
        changes = ", ".join(f"{k} {_show(a)} -> {_show(b)}" for k, (a, b) in self.fields.items())
        return f"~ {label}: {changes}"

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "a": _layer_json(self.a),
            "b": _layer_json(self.b),
            "fields": {k: [a, b] for k, (a, b) in self.fields.items()},
        }


@dataclass(frozen=True)
class Totals:
    name: str
    input_shape: tuple[int, ...]
    params: int
    mult_adds: int
    receptive_field: tuple[int, int] | None  # of the last layer with a spatial output
    output_shape: tuple[int, ...]
    sections: dict[str, tuple[int, ...]]  # each section's output shape


@dataclass(frozen=True)
class SpecDiff:
    source_a: str
    source_b: str
    header: dict[str, tuple[Any, Any]]  # name, input_shape when they differ
    layers: tuple[LayerChange, ...]
    a: Totals
    b: Totals
    moved: tuple[tuple[str, str], ...] = ()  # unchanged layers under another module path

    @property
    def equal(self) -> bool:
        return (
            not self.header
            and not self.layers
            and not self.moved
            and self.a.sections == self.b.sections
        )

    def counts(self) -> dict[str, int]:
        counts = {"changed": 0, "removed": 0, "added": 0}
        for change in self.layers:
            counts[change.change] += 1
        return counts

    def render(self) -> str:
        lines = [f"--- {self.source_a} ({self.a.name})", f"+++ {self.source_b} ({self.b.name})"]
        if self.equal:
            lines.append("the two specs build the same model")
        for key, (a, b) in self.header.items():
            lines.append(f"~ {key}: {_show(a)} -> {_show(b)}")
        lines += [change.render() for change in self.layers]
        if self.moved:
            shown = ", ".join(f"{a} -> {b}" for a, b in self.moved[:MAX_MOVED_SHOWN])
            more = len(self.moved) - MAX_MOVED_SHOWN
            lines.append(
                f"  unchanged but renumbered: {shown}" + (f" and {more} more" if more > 0 else "")
            )
        if not self.equal:
            counts = self.counts()
            lines.append(
                f"{counts['changed']} changed, {counts['removed']} removed, {counts['added']} added"
                + (f", {len(self.moved)} renumbered" if self.moved else "")
            )
        lines += ["", *self.totals_table()]
        return "\n".join(lines) + "\n"

    def totals_table(self) -> list[str]:
        rows = [
            ("", *self._headers(), "difference"),
            ("parameters", *_counts(self.a.params, self.b.params)),
            ("mult-adds per image", *_counts(self.a.mult_adds, self.b.mult_adds)),
            (
                "receptive field (last spatial layer)",
                _rf(self.a.receptive_field),
                _rf(self.b.receptive_field),
                _rf_change(self.a.receptive_field, self.b.receptive_field),
            ),
        ]
        for section in [
            *self.a.sections,
            *(s for s in self.b.sections if s not in self.a.sections),
        ]:
            a, b = self.a.sections.get(section), self.b.sections.get(section)
            rows.append((f"output of {section}", _shape(a), _shape(b), "" if a == b else "differs"))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return [
            "  ".join(
                [
                    row[0].ljust(widths[0]),
                    *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
                ]
            ).rstrip()
            for row in rows
        ]

    def _headers(self) -> tuple[str, str]:
        if self.a.name != self.b.name:
            return self.a.name, self.b.name
        return "A", "B"

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.source_a,
            "b": self.source_b,
            "equal": self.equal,
            "header": {k: [a, b] for k, (a, b) in self.header.items()},
            "layers": [change.to_json() for change in self.layers],
            "counts": self.counts(),
            "moved": [list(pair) for pair in self.moved],
            "totals": {
                "parameters": [self.a.params, self.b.params],
                "mult_adds": [self.a.mult_adds, self.b.mult_adds],
                "receptive_field": [
                    _maybe_list(self.a.receptive_field),
                    _maybe_list(self.b.receptive_field),
                ],
                "output_shape": [list(self.a.output_shape), list(self.b.output_shape)],
                "sections": {
                    s: [_maybe_list(self.a.sections.get(s)), _maybe_list(self.b.sections.get(s))]
                    for s in dict.fromkeys([*self.a.sections, *self.b.sections])
                },
            },
        }


def diff_specs(a: Spec, b: Spec, num_classes: int | None = None) -> SpecDiff:
    """The differences from `a` to `b`; `num_classes` None compares fields written num_classes
    as the symbol (and sizes with a stand-in count, the same for both)."""
    ra = resolve(a, num_classes, allow_unbound=True)
    rb = resolve(b, num_classes, allow_unbound=True)
    header = {
        key: (va, vb)
        for key, va, vb in (
            ("name", a.name, b.name),
            ("input_shape", list(a.input_shape), list(b.input_shape)),
        )
        if va != vb
    }
    changes, moved = _layer_changes(ra, rb)
    return SpecDiff(a.source, b.source, header, changes, totals(ra), totals(rb), moved)


def totals(resolved: ResolvedSpec) -> Totals:
    sections: dict[str, tuple[int, ...]] = {}
    for row in resolved.rows:  # in the order they run: a section's last row is its output
        sections[row.path.split(".")[0]] = row.out_shape
    spatial = [r.rf for r in resolved.layers if r.rf is not None]
    return Totals(
        resolved.spec.name,
        resolved.spec.input_shape,
        resolved.total_params,
        resolved.total_mult_adds,
        spatial[-1] if spatial else None,
        resolved.output_shape,
        sections,
    )


def _layer_changes(a: ResolvedSpec, b: ResolvedSpec) -> tuple[tuple[LayerChange, ...], tuple]:
    """The changed, removed and added layers; and the (A, B) module paths of layers that are
    the same but moved (after a deletion, `features.3` is `features.2`)."""
    changes: list[LayerChange] = []
    moved: list[tuple[str, str]] = []
    for i, j in _align(a.layers, b.layers):
        la = a.layers[i] if i is not None else None
        lb = b.layers[j] if j is not None else None
        if la is None or lb is None:
            changes.append(LayerChange("removed" if lb is None else "added", la, lb))
            continue
        fields = _field_changes(la, lb)
        # a new output or module path alone follows from changes around the layer
        if set(fields) - {"output", "module"}:
            changes.append(LayerChange("changed", la, lb, fields))
        elif "module" in fields:
            moved.append(fields["module"])
    return tuple(changes), tuple(moved)


def _align(a: Sequence_[ResolvedLayer], b: Sequence_[ResolvedLayer]) -> list[tuple]:
    """Pairs (i, j), (i, None) for a layer only in A, (None, j) only in B, in order.

    The alignment with the best score (Needleman-Wunsch, as a diff of lines is an alignment):
    a pair of the same kind scores 2, plus the share of fields they agree on; a pair of kinds
    that differ scores a little (MaxPool2d replaced by AvgPool2d in place is one change, not
    two); a layer left unpaired scores 0. So deleting three pools pairs the other ten layers.
    """
    if len(a) * len(b) > MAX_ALIGN:  # very deep networks: difflib's faster, greedier matching
        return _align_greedy(a, b)
    fa, fb = [_fields(r) for r in a], [_fields(r) for r in b]

    def pair_score(i: int, j: int) -> float:
        if a[i].layer.kind() != b[j].layer.kind():
            return 0.5
        keys = set(fa[i]) | set(fb[j])
        same = sum(fa[i].get(k) == fb[j].get(k) for k in keys)
        return 2 + (same / len(keys) if keys else 1)

    n, m = len(a), len(b)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            score[i][j] = max(
                score[i + 1][j], score[i][j + 1], score[i + 1][j + 1] + pair_score(i, j)
            )
    pairs: list[tuple] = []
    i = j = 0
    while i < n and j < m:
        if score[i][j] == score[i + 1][j + 1] + pair_score(i, j):
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif score[i][j] == score[i + 1][j]:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    pairs += [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]
    return pairs


def _align_greedy(a: Sequence_[ResolvedLayer], b: Sequence_[ResolvedLayer]) -> list[tuple]:
    kinds_a, kinds_b = [r.layer.kind() for r in a], [r.layer.kind() for r in b]
    pairs: list[tuple] = []
    matcher = difflib.SequenceMatcher(None, kinds_a, kinds_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            pairs += list(zip(range(i1, i2), range(j1, j2), strict=True))
        else:
            pairs += [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]
    return pairs


def _field_changes(a: ResolvedLayer, b: ResolvedLayer) -> dict[str, tuple[Any, Any]]:
    """Fields with their defaults and the inferred in-size: `padding: 0` written or not is the
    same layer. The path and the output shape count too: they are the state_dict and the map."""
    changes: dict[str, tuple[Any, Any]] = {}
    if a.layer.kind() != b.layer.kind():
        changes["kind"] = (a.layer.kind(), b.layer.kind())
    fa, fb = _fields(a), _fields(b)
    keys = [*fa, *fb] if a.layer.kind() == b.layer.kind() else [k for k in fa if k in fb]
    for key in dict.fromkeys(keys):  # of two kinds, the fields they share
        if fa.get(key) != fb.get(key):
            changes[key] = (fa.get(key), fb.get(key))
    if a.path != b.path:
        changes["module"] = (a.path, b.path)
    if a.out_shape != b.out_shape:
        changes["output"] = (format_shape(a.out_shape), format_shape(b.out_shape))
    return changes


def _fields(r: ResolvedLayer) -> dict[str, Any]:
    fields = r.layer.model_dump(mode="json")
    if r.layer.in_size_field is not None:
        fields[r.layer.in_size_field] = r.layer.in_size(r.in_shape)
    return {k: _normal(v) for k, v in fields.items()}


def _normal(value: Any) -> Any:
    """kernel_size 3 and [3, 3] are the same window."""
    if isinstance(value, list) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def _label(layer: ResolvedLayer) -> str:
    return f"{layer.name} ({layer.path})"


def _describe(layer: ResolvedLayer) -> str:
    fields = layer.layer.model_dump(mode="json", exclude_unset=True)
    written = ", ".join(f"{k}={_show(v)}" for k, v in fields.items())
    return f"{layer.layer.kind()}({written}) -> {format_shape(layer.out_shape)}"


def _layer_json(layer: ResolvedLayer | None) -> dict[str, Any] | None:
    if layer is None:
        return None
    return {
        "name": layer.name,
        "module": layer.path,
        "kind": layer.layer.kind(),
        "fields": _fields(layer),
        "output_shape": list(layer.out_shape),
        "params": layer.params,
    }


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return (
            "x".join(str(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else str(value)
        )
    return str(value)


def _counts(a: int, b: int) -> tuple[str, str, str]:
    if a == b:
        return f"{a:,}", f"{b:,}", ""
    relative = f" ({(b - a) / a:+.1%})" if a else ""
    return f"{a:,}", f"{b:,}", f"{b - a:+,}{relative}"


def _rf(rf: tuple[int, int] | None) -> str:
    if rf is None:
        return "-"
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def _rf_change(a: tuple[int, int] | None, b: tuple[int, int] | None) -> str:
    if a == b:
        return ""
    if a is None or b is None:
        return "differs"
    dh, dw = b[0] - a[0], b[1] - a[1]
    return f"{dh:+d}" if dh == dw else f"{dh:+d}x{dw:+d}"


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else format_shape(shape)


def _maybe_list(value: tuple | None) -> list | None:
    return None if value is None else list(value)
