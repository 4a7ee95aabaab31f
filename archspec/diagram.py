"""A diagram of the network: a small graph built from the resolved spec, drawn as DOT or Mermaid.

Nodes are the layers (kind and number, key arguments, output shape), the input, the flatten the
model does between a spatial and a fully connected section, the merges (a residual's `add`, a
parallel's `concat` or `sum`) and the output. Sections, blocks, residuals and parallels are
clusters. Every edge is labelled with the shape of the tensor it carries, as shapes.py infers it.

Both renderers write text by hand, so a .dot or .md file needs no package; only turning DOT into
SVG or PNG needs Graphviz (the command line does that).

A Highlight marks what `archspec diff` found against another spec: the changed and the added
layers are filled in their own colours, and a legend names the colours and the layers removed
(which are not in this network's graph).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from archspec.diff import SpecDiff
from archspec.layers import format_shape
from archspec.shapes import ResolvedLayer, ResolvedSpec, RNode, RResidual, RSequence

# Fields left out of a node's label: set by the tree, or not about the shape of the computation.
HIDDEN_FIELDS = {"inplace", "id"}
MAX_ARGS = 4  # a label shows at most this many arguments


@dataclass(frozen=True)
class DiagramNode:
    id: str  # L3 for Conv2d-3, M1 for the first merge; input, output, flatten_<section>
    kind: str  # "layer", "input", "output", "flatten", "add", "concat", "sum"
    title: str  # Conv2d-3, add, input
    detail: str  # key arguments: "out_channels=64 kernel_size=11 stride=4"
    shape: tuple[int, ...]  # the output shape, (64, 55, 55), in its layout (layers.base.Laid)


@dataclass(frozen=True)
class DiagramEdge:
    source: str
    target: str
    label: str  # the tensor's shape


@dataclass
class Cluster:
    id: str
    label: str  # "features", "layer1.0 (BasicBlock)"
    items: list[str | Cluster] = field(default_factory=list)  # node ids and nested clusters


@dataclass
class Diagram:
    name: str
    nodes: dict[str, DiagramNode] = field(default_factory=dict)
    edges: list[DiagramEdge] = field(default_factory=list)
    top: list[str | Cluster] = field(default_factory=list)  # outside every cluster

    @property
    def layer_nodes(self) -> list[DiagramNode]:
        return [n for n in self.nodes.values() if n.kind == "layer"]


@dataclass(frozen=True)
class Highlight:
    """What changed in the drawn network (B) against another (A), by node id."""

    changed: dict[str, str] = field(default_factory=dict)  # node id -> "dilation 1->2, ..."
    added: tuple[str, ...] = ()  # node ids of layers only in B
    removed: tuple[str, ...] = ()  # A's layers not in B: "MaxPool2d-3 (features.2)"
    against: str = ""  # what A is, for the legend: "AlexNet"


CHANGED_FILL = "#f9b26b"  # orange
ADDED_FILL = "#9fdc9a"  # green
MAX_REMOVED_SHOWN = 8  # removed layers the legend names; the rest are counted
MAX_NOTE = 60  # characters of a changed layer's note in its box


def highlight_of(diff: SpecDiff) -> Highlight:
    """The layers `diff` reports changed and added, as ids of B's diagram (L<number>), and those
    it reports removed, by A's names. A layer's number is its place in the order the model runs
    it, whatever num_classes is bound to, so B's diagram may come from any resolve of B."""
    changed: dict[str, str] = {}
    added: list[str] = []
    removed: list[str] = []
    for change in diff.layers:
        if change.a is None:
            added.append(f"L{change.b.number}")
        elif change.b is None:
            removed.append(f"{change.a.name} ({change.a.path})")
        else:
            notes = [
                f"{k} {_value(a)}->{_value(b)}"
                for k, (a, b) in change.fields.items()
                if k not in ("module", "output")
            ]
            changed[f"L{change.b.number}"] = ", ".join(notes)
    return Highlight(changed, tuple(added), tuple(removed), diff.a.name)


def _legend(highlight: Highlight) -> list[tuple[str, str, list[str]]]:
    """(node id, class, lines) of the legend's entries: changed, added, removed."""
    against = f" vs {highlight.against}" if highlight.against else ""
    removed = list(highlight.removed[:MAX_REMOVED_SHOWN])
    more = len(highlight.removed) - MAX_REMOVED_SHOWN
    if more > 0:
        removed.append(f"and {more} more")
    return [
        ("legend_changed", "changed", [f"changed{against}: {len(highlight.changed)}"]),
        ("legend_added", "added", [f"added{against}: {len(highlight.added)}"]),
        ("legend_removed", "removed", [f"removed{against}: {len(highlight.removed)}", *removed]),
    ]


class _Builder:
    def __init__(self, name: str):
        self.diagram = Diagram(name)
        self.merges = 0
        self.clusters = 0

    def add(self, node: DiagramNode, into: list[str | Cluster]) -> str:
        self.diagram.nodes[node.id] = node
        into.append(node.id)
        return node.id

    def edge(self, source: str, target: str) -> None:
        label = format_shape(self.diagram.nodes[source].shape)
        self.diagram.edges.append(DiagramEdge(source, target, label))

    def cluster(self, label: str, into: list[str | Cluster]) -> Cluster:
        self.clusters += 1
        made = Cluster(f"cluster_{self.clusters}", label)
        into.append(made)
        return made

    def merge(self, what: str, shape: tuple[int, ...], into: list[str | Cluster]) -> str:
        self.merges += 1
        return self.add(DiagramNode(f"M{self.merges}", what, what, "", shape), into)

    def walk(self, node: RNode, prev: str, path: str, into: list[str | Cluster]) -> str:
        """Add `node` after `prev`; return the id of the node that gives its output."""
        if isinstance(node, ResolvedLayer):
            made = self.add(_layer_node(node), into)
            self.edge(prev, made)
            return made
        if isinstance(node, RSequence):
            here = into
            if node.class_name:
                here = self.cluster(_block_label(path, node.class_name), into).items
            for child in node.children:
                prev = self.walk(child, prev, _join(path, child_name(child)), here)
            return prev
        if isinstance(node, RResidual):
            here = self.cluster(_block_label(path, node.class_name or "Residual"), into).items
            body_end = self.walk(_plain(node.body), prev, path, here)
            if not node.adds:  # identity_or_none where the shape changes: no sum
                if node.after is not None:
                    return self.walk(_plain(node.after), body_end, path, here)
                return body_end
            if node.drop is not None:  # applied to the body's output where it is summed
                body_end = self.walk(_plain(node.drop), body_end, path, here)
            side = prev
            if node.shortcut is not None:
                side = self.walk(_plain(node.shortcut), prev, _join(path, node.shortcut.name), here)
            out_shape = self.diagram.nodes[body_end].shape
            added = self.merge("add", out_shape, here)
            self.edge(body_end, added)
            self.edge(side, added)
            if node.after is not None:
                return self.walk(_plain(node.after), added, path, here)
            return added
        here = self.cluster(_block_label(path, node.class_name or "Parallel"), into).items
        ends = [self.walk(b, prev, _join(path, b.name), here) for b in node.branches]
        shapes = [self.diagram.nodes[end].shape for end in ends]
        if node.merge == "concat":
            out_shape = (sum(s[0] for s in shapes), *shapes[0][1:])
        else:  # sum, or multiply broadcasting a gate
            out_shape = tuple(max(sizes) for sizes in zip(*shapes, strict=True))
        merged = self.merge(node.merge, out_shape, here)
        for end in ends:
            self.edge(end, merged)
        return merged


def child_name(node: RNode) -> str:
    return node.attr if isinstance(node, ResolvedLayer) else node.name


def build_diagram(resolved: ResolvedSpec) -> Diagram:
    """The graph of `resolved`: one node per layer (in resolved.layers), merges, input, output."""
    spec = resolved.spec
    builder = _Builder(spec.name)
    top = builder.diagram.top
    prev = builder.add(DiagramNode("input", "input", "input", "", tuple(spec.input_shape)), top)
    for name, section in resolved.sections.items():
        cluster = builder.cluster(name, top)
        if name in resolved.flatten_before:
            flat = (math.prod(builder.diagram.nodes[prev].shape),)
            made = builder.add(
                DiagramNode(f"flatten_{_safe(name)}", "flatten", "flatten", "", flat),
                cluster.items,
            )
            builder.edge(prev, made)
            prev = made
        for child in section.children:
            prev = builder.walk(child, prev, _join(name, child_name(child)), cluster.items)
    out = builder.add(DiagramNode("output", "output", "output", "", resolved.output_shape), top)
    builder.edge(prev, out)
    return builder.diagram


def to_dot(diagram: Diagram, highlight: Highlight | None = None) -> str:
    """Graphviz DOT source of the diagram (plain text: no package needed to write it); with a
    highlight, its layers filled in colour and a legend."""
    lines = [
        f"digraph {_dot_quote(diagram.name)} {{",
        "  rankdir=TB;",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef2fb", fontname="Helvetica", '
        "fontsize=10];",
        '  edge [fontname="Helvetica", fontsize=9];',
    ]

    def emit(items: list[str | Cluster], indent: str) -> None:
        for item in items:
            if isinstance(item, Cluster):
                lines.append(f"{indent}subgraph {item.id} {{")
                lines.append(f"{indent}  label={_dot_quote(item.label)};")
                lines.append(f'{indent}  style="rounded"; color="#9aa5b8";')
                emit(item.items, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{_dot_node(diagram.nodes[item], highlight)}")

    emit(diagram.top, "  ")
    if highlight is not None:
        lines += _dot_legend(highlight)
    for e in diagram.edges:
        lines.append(f"  {e.source} -> {e.target} [label={_dot_quote(e.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(diagram: Diagram, highlight: Highlight | None = None) -> str:
    """A Markdown ```mermaid block: a `flowchart TD` of the diagram; with a highlight, a
    `classDef` per colour, `class` lines giving the layers theirs, and a legend."""
    lines = ["```mermaid", "flowchart TD"]

    def emit(items: list[str | Cluster], indent: str) -> None:
        for item in items:
            if isinstance(item, Cluster):
                lines.append(f'{indent}subgraph {item.id}["{_mermaid_text(item.label)}"]')
                emit(item.items, indent + "  ")
                lines.append(f"{indent}end")
            else:
                node = diagram.nodes[item]
                parts = _label_lines(node, highlight)
                text = "<br/>".join(_mermaid_text(part) for part in parts)
                if node.kind in ("add", "concat", "sum"):
                    lines.append(f'{indent}{node.id}(("{text}"))')
                elif node.kind in ("input", "output"):
                    lines.append(f'{indent}{node.id}(["{text}"])')
                else:
                    lines.append(f'{indent}{node.id}["{text}"]')

    emit(diagram.top, "  ")
    for e in diagram.edges:
        lines.append(f'  {e.source} -->|"{_mermaid_text(e.label)}"| {e.target}')
    if highlight is not None:
        lines += _mermaid_legend(highlight)
    lines.append("```")
    return "\n".join(lines) + "\n"


def _label_lines(node: DiagramNode, highlight: Highlight | None = None) -> list[str]:
    parts = [node.title, node.detail, format_shape(node.shape)]
    note = highlight.changed.get(node.id, "") if highlight is not None else ""
    parts.append(note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 3] + "...")
    return [part for part in parts if part]


def _dot_legend(highlight: Highlight) -> list[str]:
    fills = {"changed": CHANGED_FILL, "added": ADDED_FILL, "removed": "#ffffff"}
    lines = [
        "  subgraph cluster_legend {",
        '    label="legend"; style="rounded"; color="#9aa5b8";',
    ]
    for node_id, what, text in _legend(highlight):
        style = ', style="rounded,dashed"' if what == "removed" else ""
        label = _dot_quote("\n".join(text))
        lines.append(f'    {node_id} [label={label}, fillcolor="{fills[what]}"{style}];')
    lines.append("  }")
    return lines


def _mermaid_legend(highlight: Highlight) -> list[str]:
    lines = [
        f"  classDef changed fill:{CHANGED_FILL},stroke:#b35900,stroke-width:2px",
        f"  classDef added fill:{ADDED_FILL},stroke:#2e7d32,stroke-width:2px",
        "  classDef removed fill:#ffffff,stroke:#888888,stroke-dasharray:4 3",
        '  subgraph legend["legend"]',
    ]
    for node_id, _, text in _legend(highlight):
        lines.append(f'    {node_id}["{"<br/>".join(_mermaid_text(t) for t in text)}"]')
    lines.append("  end")
    for what, ids in (
        ("changed", [*highlight.changed, "legend_changed"]),
        ("added", [*highlight.added, "legend_added"]),
        ("removed", ["legend_removed"]),
    ):
        lines.append(f"  class {','.join(ids)} {what}")
    return lines


def _dot_node(node: DiagramNode, highlight: Highlight | None = None) -> str:
    label = _dot_quote("\n".join(_label_lines(node, highlight)))
    if highlight is not None and node.id in highlight.changed:
        return f'{node.id} [label={label}, fillcolor="{CHANGED_FILL}", penwidth=2];'
    if highlight is not None and node.id in highlight.added:
        return f'{node.id} [label={label}, fillcolor="{ADDED_FILL}", penwidth=2];'

    if node.kind in ("add", "concat", "sum"):
        return f'{node.id} [label={label}, shape=circle, fillcolor="#fde9c8"];'
    if node.kind in ("input", "output"):
        return f'{node.id} [label={label}, shape=oval, fillcolor="#e4f3e4"];'
    if node.kind == "flatten":
        return f'{node.id} [label={label}, fillcolor="#f0f0f0"];'
    return f"{node.id} [label={label}];"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# Mermaid reads these as syntax even inside quotes; its entity codes stand for them.
_MERMAID_ENTITIES = {
    '"': "#quot;",
    "[": "#91;",
    "]": "#93;",
    "(": "#40;",
    ")": "#41;",
    "{": "#123;",
    "}": "#125;",
    "|": "#124;",
    "<": "#lt;",
    ">": "#gt;",
}


def _mermaid_text(text: str) -> str:
    text = text.replace("#", "#35;")
    return "".join(_MERMAID_ENTITIES.get(c, c) for c in text)


def _layer_node(r: ResolvedLayer) -> DiagramNode:
    return DiagramNode(f"L{r.number}", "layer", r.name, _arguments(r), r.out_shape)


def _arguments(r: ResolvedLayer) -> str:
    layer = r.layer
    fields = layer.model_dump(exclude_defaults=True)
    hidden = HIDDEN_FIELDS | ({layer.in_size_field} if layer.in_size_field else set())
    parts = [f"{k}={_value(v)}" for k, v in fields.items() if k not in hidden and v is not None]
    return " ".join(parts[:MAX_ARGS])


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def _block_label(path: str, class_name: str) -> str:
    return f"{path} ({class_name})" if path else class_name


def _plain(seq: RSequence) -> RSequence:
    """A residual's own parts are its attributes, not a block of their own: no extra cluster."""
    return RSequence(seq.name, seq.children, None, seq.numbered)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name)
