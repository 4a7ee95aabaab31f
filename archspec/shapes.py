"""Shape inference, receptive fields and cost: one walk over the layer tree, before any weight.

Each layer kind computes its own output shape, parameter count and window (next to its schema);
this module walks the tree in the order the model runs, flattens where a spatial section meets a
fully connected one, decides each `shortcut: auto`, checks that branches can be merged, and turns
a failure into a message located in the file with the sizes along the way.

Receptive field and effective stride follow the usual recurrence along each axis:
rf_out = rf_in + (kernel - 1) * dilation * stride_in, stride_out = stride_in * stride. Through
parallel branches (and a residual's two paths) the larger receptive field is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

from archspec.errors import Problem, SpecError
from archspec.layers import LAYER_KINDS, NUM_CLASSES, LayerSpec, Shape, ShapeError, format_shape
from archspec.layers.base import (
    CHANNEL_AXIS,
    CHW,
    FLAT,
    HWC,
    SPATIAL_AXES,
    TOKEN_AXIS,
    TOKENS,
    WINDOWS,
    laid,
    layout_of,
)
from archspec.layers.reserved import SHORTCUT
from archspec.params import SHAPE_NAMES, ParamError
from archspec.spec import Spec
from archspec.tree import Layer, Node, Parallel, Residual, Sequence, leaves
from archspec.validate import validate_fields

# Class counts of the study's two tasks on PACS (4 domains, 7 object categories).
TASK_NUM_CLASSES = {"domain": 4, "category": 7}
# `archspec validate` with no task checks the structure with num_classes standing for this.
PLACEHOLDER_NUM_CLASSES = 7
INT64_LIMIT = 2**63  # sizes PyTorch can index; beyond it its 64-bit arithmetic overflows
BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class ResolvedLayer:
    """A layer with every size known, and its name for humans (`Conv2d-1`, `ReLU-2`, ...)."""

    section: str
    index: int  # position of the section's child that holds it
    number: int  # 1-based position in the whole model, in the order it runs
    layer: LayerSpec
    in_shape: Shape
    out_shape: Shape
    path: str = ""  # the module's name in the model: features.0, layer1.0.conv1
    attr: str = ""  # its attribute name in its parent: 0, conv1
    rf: tuple[int, int] | None = None  # receptive field (height, width) in input pixels
    jump: tuple[int, int] | None = None  # effective stride: input pixels per output step
    params: int = 0
    mult_adds: int = 0

    @property
    def name(self) -> str:
        return f"{self.layer.kind()}-{self.number}"


@dataclass(frozen=True)
class MergeRow:
    """Where two paths meet: a residual sum, or a parallel concat/sum (a row in the table)."""

    path: str
    what: str  # "add", "concat", "sum"
    note: str  # "shortcut identity", "shortcut auto: 1x1 conv stride 2 + BatchNorm2d"
    out_shape: Shape
    rf: tuple[int, int] | None
    jump: tuple[int, int] | None
    mult_adds: int = 0  # a multiply merge's products; a sum's additions are not counted


@dataclass(frozen=True)
class RResidual:
    name: str
    body: RSequence
    shortcut: RSequence | None  # None: identity
    after: RSequence | None
    class_name: str | None
    auto: str  # what `shortcut: auto` chose, for the printout ("" when written out)
    inline: bool = False  # its layers are named in the enclosing module
    adds: bool = True  # False: identity_or_none met a changed shape, so there is no sum
    drop: RSequence | None = None  # applied to the body's output where it is summed
    held: tuple[str, ...] | None = None  # the order the module holds its children (tree.HELD)


@dataclass(frozen=True)
class RParallel:
    name: str
    branches: tuple[RSequence, ...]
    merge: str
    class_name: str | None
    flat: bool = False  # the branches' layers are the Parallel's own children
    inline: bool = False
    split: bool = False  # each branch reads its share of the input's channels
    held: tuple[str, ...] | None = None  # the order the module holds its children (tree.HELD)


@dataclass(frozen=True)
class RSequence:
    name: str
    children: tuple[RNode, ...]
    class_name: str | None
    numbered: bool
    bare: bool = False  # a section that is its one layer
    held: tuple[str, ...] | None = None  # the order the module holds its children (tree.HELD)


RNode = Union[ResolvedLayer, RSequence, RResidual, RParallel]  # noqa: UP007


@dataclass(frozen=True)
class ResolvedSpec:
    spec: Spec
    num_classes: int
    layers: tuple[ResolvedLayer, ...]  # in the order they run (a shared module appears twice)
    flatten_before: tuple[str, ...]  # sections whose input the model flattens first
    sections: dict[str, RSequence] = field(default_factory=dict)
    rows: tuple[ResolvedLayer | MergeRow, ...] = ()
    final_shape: Shape = ()  # the model's output (after a last merge, if any)

    @property
    def output_shape(self) -> Shape:
        return self.final_shape or self.layers[-1].out_shape

    def section_layers(self, section: str) -> tuple[ResolvedLayer, ...]:
        return tuple(r for r in self.layers if r.section == section)

    @property
    def total_params(self) -> int:
        """Parameters of the model (a module used twice counts once)."""
        return sum({r.path: r.params for r in self.layers}.values())

    @property
    def total_mult_adds(self) -> int:
        merges = sum(r.mult_adds for r in self.rows if isinstance(r, MergeRow))
        return sum(r.mult_adds for r in self.layers) + merges

    @property
    def activation_bytes(self) -> int:
        """float32 bytes of every layer's output for one image: what backward keeps."""
        return BYTES_PER_VALUE * sum(math.prod(r.out_shape) for r in self.layers)


def num_classes_for(task: str | None = None, num_classes: int | None = None) -> int | None:
    """The class count a task (or an explicit count) binds `num_classes` to."""
    if num_classes is not None:
        return num_classes
    return TASK_NUM_CLASSES[task] if task is not None else None


def uses_num_classes(spec: Spec) -> bool:
    return bool(_num_classes_fields(spec))


def _num_classes_fields(spec: Spec) -> list[tuple[Layer, str]]:
    """(layer, field) of every field written as the symbol num_classes."""
    return [
        (leaf, name)
        for section in spec.sections.values()
        for leaf in leaves(section)
        for name, value in leaf.spec.model_dump().items()
        if value == NUM_CLASSES
    ]


class _Stop(Exception):
    """Inference cannot go on; the problem is recorded."""


@dataclass(frozen=True)
class _At:
    """What flows between layers: the shape, receptive field and effective stride."""

    shape: Shape
    rf: tuple[int, int] | None
    jump: tuple[int, int] | None


class _Resolver:
    def __init__(self, spec: Spec, num_classes: int):
        self.spec, self.num_classes = spec, num_classes
        self.number = 0
        self.layers: list[ResolvedLayer] = []
        self.rows: list[ResolvedLayer | MergeRow] = []
        self.trace: list[str] = [f"input {format_shape(spec.input_shape)}"]
        self.section, self.index = "", 0
        self.soft: list[Problem] = []  # problems after which inference can still go on
        self.use_inputs: dict[tuple[str, int], Shape] = {}  # block use -> its input shape

    def fail(self, message: str, src: tuple, where: str, hint: str = "", via: str = "") -> None:
        via = f" (in {via})" if via else ""
        problem = Problem(message + via, hint=hint, line=self.spec.line_of(*src), where=where)
        raise SpecError(self.spec.source, [*self.soft, problem])

    def sequence(self, node: Sequence, at: _At, path: str, top: bool = False) -> tuple:
        children = []
        for i, child in enumerate(node.children):
            if top:
                self.index = i
            here = path if node.bare or getattr(child, "inline", False) else _join(path, child.name)
            resolved, at = self.node(child, at, here)
            children.append(resolved)
        sequence = RSequence(
            node.name, tuple(children), node.class_name, node.numbered, node.bare, node.held
        )
        return sequence, at

    def node(self, node: Node, at: _At, path: str) -> tuple:
        if not isinstance(node, Layer) and node.use is not None:
            self.use_inputs[node.use] = at.shape  # what `in_channels` at that use means
        if isinstance(node, Layer):
            return self.layer(node, at, path)
        if isinstance(node, Sequence):
            return self.sequence(node, at, path)
        if isinstance(node, Residual):
            return self.residual(node, at, path)
        return self.parallel(node, at, path)

    def layer(self, node: Layer, at: _At, path: str) -> tuple:
        layer, shape = node.spec, at.shape
        self.number += 1
        where = f"{node.label or path} {layer.kind()}-{self.number}"
        if node.deferred:
            layer = self.evaluated(node, shape, where)
        try:
            _check_input(layer, shape)
            out = layer.output_shape(shape, self.num_classes)
            if math.prod(out) >= INT64_LIMIT:
                raise ShapeError(
                    f"the output {format_shape(out)} has {math.prod(out):,} values, beyond what "
                    "64-bit sizes can hold",
                    hint="use a much smaller input_shape or downsample before flattening",
                )
            params = layer.param_count(shape, self.num_classes)
            if params >= INT64_LIMIT:
                raise ShapeError(
                    f"{params:,} parameters in one layer, beyond what 64-bit sizes can hold",
                    hint="make the layer smaller (flatten a smaller map, fewer features)",
                )
        except ShapeError as e:
            src = (*node.src, e.field) if e.field else node.src
            self.fail(
                f"{e} (input {format_shape(shape)}); sizes along the way: "
                + " -> ".join(self.trace[-12:]),
                src,
                f"{where}.{e.field}" if e.field else where,
                e.hint,
                node.via,
            )
        field_name = layer.in_size_field
        written = getattr(layer, field_name) if field_name else None
        if written is not None and written != layer.in_size(shape):  # told; inference goes on
            self.soft.append(
                Problem(
                    f"{field_name} is written as {written} but the input has "
                    f"{layer.in_size(shape)} "
                    f"(input {format_shape(shape)})",
                    hint=f"remove {field_name}: it is inferred",
                    line=self.spec.line_of(*node.src, field_name),
                    where=f"{where}.{field_name}",
                )
            )
        rf, jump = _window_step(layer, at, out)
        resolved = ResolvedLayer(
            self.section,
            self.index,
            self.number,
            layer,
            shape,
            out,
            path,
            node.name,
            rf,
            jump,
            params,
            layer.mult_adds(shape, out, self.num_classes),
        )
        self.layers.append(resolved)
        self.rows.append(resolved)
        if out != shape:
            self.trace.append(f"{layer.kind()}-{self.number} {format_shape(out)}")
        return resolved, _At(out, rf, jump)

    def evaluated(self, node: Layer, shape: Shape, where: str) -> LayerSpec:
        """The layer with its fields that use the input's shape or the block's position
        computed, and checked as if written so."""
        values = node.spec.model_dump(exclude_unset=True)
        for name, value in node.deferred:
            use = value.anchor or node.use
            at = self.use_inputs.get(value.anchor, shape) if value.anchor else shape
            known = shape_names(at)
            if use is not None:
                known["block_index"] = use[1]
                known["block_count"] = self.spec.block_uses.get(use[0], use[1] + 1)
            missing = [n for n in value.names() if n not in known]
            if missing:
                self.fail(
                    f"{name}: {missing[0]} is not known here: "
                    + (
                        f"the input {format_shape(at)}"
                        + (" where the block is used" if value.anchor else "")
                        + f" has no {missing[0].removeprefix('in_')}"
                        if missing[0] in SHAPE_NAMES
                        else "the layer is in no block"
                    ),
                    (*node.src, name),
                    f"{where}.{name}",
                    "write the value itself"
                    if missing[0] in SHAPE_NAMES
                    else "block_index and block_count are those of the block a layer is in",
                    node.via,
                )
            try:
                values[name] = value.evaluate(known)
            except ParamError as e:
                self.fail(f"{name}: {e}", (*node.src, name), f"{where}.{name}", e.hint, node.via)
        result = validate_fields(
            type(node.spec), values, lambda p: self.spec.line_of(*p), node.src, where
        )
        if isinstance(result, list):
            problem = result[0]
            computed = ", ".join(f"{k} = {values[k]!r} from {v}" for k, v in node.deferred)
            self.fail(
                f"{problem.message} ({computed})", node.src, problem.where, problem.hint, node.via
            )
        return result

    def residual(self, node: Residual, at: _At, path: str) -> tuple:
        body, out = self.sequence(node.body, at, path)
        drop = None
        if node.drop is not None:  # shapes and cost as if applied; compiled to run on a sum only
            drop, dropped = self.sequence(node.drop, out, path)
            if dropped.shape != out.shape:
                self.fail(
                    f"drop_path must keep the body's shape {format_shape(out.shape)}, and gives "
                    f"{format_shape(dropped.shape)}",
                    (*node.src, "drop_path"),
                    node.label,
                    "put only StochasticDepth (or Dropout) in drop_path",
                    node.via,
                )
        auto, shortcut_node = "", node.shortcut
        if node.shortcut == "identity_or_none" and at.shape != out.shape:
            # MobileNet's use_res_connect: where the block changes the shape, there is no sum
            after = None
            if node.after is not None:
                after, out = self.sequence(node.after, out, path)
            resolved = RResidual(
                node.name,
                body,
                None,
                after,
                node.class_name,
                "",
                node.inline,
                False,
                drop,
                node.held,
            )
            return resolved, out
        if node.shortcut == "auto":
            shortcut_node, auto = self.projection(node, at.shape, out.shape, path)
        if isinstance(shortcut_node, Sequence):
            shortcut, side = self.sequence(shortcut_node, at, _join(path, SHORTCUT))
            if side.shape != out.shape:
                self.fail(
                    f"the shortcut gives {format_shape(side.shape)} but the body gives "
                    f"{format_shape(out.shape)}; a residual adds them, so they must agree",
                    (*node.src, "shortcut"),
                    node.label,
                    "change the shortcut's layers, or write shortcut: auto",
                    node.via,
                )
            note = f"shortcut auto: {auto}" if auto else "shortcut as written"
        else:
            shortcut, side = None, at
            if at.shape != out.shape:
                self.fail(
                    f"an identity shortcut cannot add the input {format_shape(at.shape)} to the "
                    f"body's output {format_shape(out.shape)}",
                    (*node.src, "shortcut"),
                    node.label,
                    "write shortcut: auto (a 1x1 conv projection) or the shortcut's layers",
                    node.via,
                )
            note = {
                "auto": "shortcut auto: identity",
                "identity_or_none": "shortcut identity_or_none: identity",
            }.get(str(node.shortcut), "shortcut identity")
        merged = _At(out.shape, _larger(out.rf, side.rf), _larger(out.jump, side.jump))
        self.rows.append(MergeRow(path, "add", note, merged.shape, merged.rf, merged.jump))
        after = None
        if node.after is not None:
            after, merged = self.sequence(node.after, merged, path)
        resolved = RResidual(
            node.name,
            body,
            shortcut,
            after,
            node.class_name,
            auto or "",
            node.inline,
            True,
            drop,
            node.held,
        )
        return resolved, merged

    def projection(
        self, node: Residual, shape: Shape, out: Shape, path: str
    ) -> tuple[Sequence | str, str]:
        """`shortcut: auto`: identity, or a 1x1 conv with the stride that maps `shape` to `out`
        (and BatchNorm2d when the body uses it), as torchvision's ResNet downsamples."""
        if shape == out:
            return "identity", ""
        stride = _projection_stride(shape, out)
        if stride is None:
            self.fail(
                f"the shortcut cannot be inferred: the body maps {format_shape(shape)} to "
                f"{format_shape(out)}, and no 1x1 convolution with a stride does that",
                (*node.src, "shortcut"),
                node.label,
                "write the shortcut's layers out (shortcut: [...]) or change the body",
                node.via,
            )
        batch_norm = any(leaf.spec.kind() == "BatchNorm2d" for leaf in leaves(node.body))
        conv = LAYER_KINDS["Conv2d"].model_validate(
            {"out_channels": out[0], "kernel_size": 1, "stride": stride, "bias": not batch_norm}
        )
        children: list[Node] = [Layer("0", conv, node.src, node.via)]
        if batch_norm:
            children.append(Layer("1", LAYER_KINDS["BatchNorm2d"](), node.src, node.via))
        what = f"1x1 conv stride {stride}" + (" + BatchNorm2d" if batch_norm else "")
        return Sequence(SHORTCUT, tuple(children), None, True, node.src, node.via), what

    def parallel(self, node: Parallel, at: _At, path: str) -> tuple:
        branches, ends = [], []
        if node.split:
            at = self.split_input(node, at)
        for branch in node.branches:
            here = path if node.flat else _join(path, branch.name)
            resolved, end = self.sequence(branch, at, here)
            branches.append(resolved)
            ends.append(end)
        shapes = [end.shape for end in ends]
        listed = ", ".join(
            f"{_branch_name(b)} {format_shape(s)}"
            for b, s in zip(node.branches, shapes, strict=True)
        )
        mult_adds = 0
        if node.merge == "multiply":
            out = _broadcast(shapes)
            need = "shapes that broadcast: equal sizes, or 1 (a Cx1x1 gate on a CxHxW map)"
            mult_adds = math.prod(out) * (len(shapes) - 1) if out is not None else 0
        elif node.merge == "concat":
            ok = all(layout_of(s) == CHW and s[1:] == shapes[0][1:] for s in shapes)
            out = (sum(s[0] for s in shapes), *shapes[0][1:]) if ok else None
            need = "the same size in every dimension but the channels"
        else:
            ok = all(s == shapes[0] for s in shapes)
            out = shapes[0] if ok else None
            need = "the same shape"
        if out is None:
            self.fail(
                f"the branches cannot be merged by {node.merge}: {listed} ({node.merge} needs "
                f"{need})",
                node.src,
                node.label,
                "change the branches' strides, padding or channels so that they agree",
                node.via,
            )
        rf, jump = ends[0].rf, ends[0].jump
        for end in ends[1:]:
            rf, jump = _larger(rf, end.rf), _larger(jump, end.jump)
        self.rows.append(MergeRow(path, node.merge, listed, out, rf, jump, mult_adds))
        merged = RParallel(
            node.name,
            tuple(branches),
            node.merge,
            node.class_name,
            node.flat,
            node.inline,
            node.split,
            node.held,
        )
        return merged, _At(out, rf, jump)

    def split_input(self, node: Parallel, at: _At) -> _At:
        """What each branch of `split: true` reads: its share of the channels."""
        count, shape = len(node.branches), at.shape
        if layout_of(shape) != CHW or shape[0] % count:
            self.fail(
                f"split: the input {format_shape(shape)} cannot be split into {count} equal "
                "shares of channels",
                (*node.src, "split"),
                node.label,
                f"make the channels a multiple of {count}, or remove split",
                node.via,
            )
        return _At((shape[0] // count, *shape[1:]), at.rf, at.jump)


def resolve(spec: Spec, num_classes: int | None, *, allow_unbound: bool = False) -> ResolvedSpec:
    """Infer every layer's shapes, receptive field and cost; raise SpecError at the first
    layer that does not fit."""
    if num_classes is None:
        users = _num_classes_fields(spec)
        if users and not allow_unbound:
            leaf, name = users[0]
            problem = Problem(
                f"{name} is num_classes but no task or class count was given",
                hint="pass --task domain|category or --num-classes N",
                line=spec.line_of(*leaf.src, name),
                where=f"{leaf.label} {leaf.spec.kind()}.{name}",
            )
            raise SpecError(spec.source, [problem])
        num_classes = PLACEHOLDER_NUM_CLASSES
    resolver = _Resolver(spec, num_classes)
    at = _At(spec.input_shape, (1, 1), (1, 1))
    flatten_before: list[str] = []
    sections: dict[str, RSequence] = {}
    for name, section in spec.sections.items():
        resolver.section = name
        if layout_of(at.shape) == CHW and _wants_flat(section):
            flatten_before.append(name)
            at = _At((math.prod(at.shape),), None, None)
            resolver.trace.append(f"flatten {format_shape(at.shape)}")
            if at.shape[0] >= INT64_LIMIT:
                resolver.fail(
                    f"flattening gives {at.shape[0]:,} features, beyond what 64-bit sizes hold",
                    ("sections", name),
                    f"section {name}",
                    "use a much smaller input_shape or downsample before flattening",
                )
        sections[name], at = resolver.sequence(section, at, name, top=True)
    if resolver.soft:
        raise SpecError(spec.source, resolver.soft)
    return ResolvedSpec(
        spec,
        num_classes,
        tuple(resolver.layers),
        tuple(flatten_before),
        sections,
        tuple(resolver.rows),
        at.shape,
    )


def _branch_name(branch: Sequence) -> str:
    """A branch as a message names it: by its name, or by its first layer when the branches
    add no name level (a list of mappings), or `identity`."""
    if not branch.children:
        return "identity"
    if branch.numbered or not branch.name.isdigit():
        return branch.name
    more = ", ..." if len(branch.children) > 1 else ""
    return f"branch {branch.name} ({branch.children[0].name}{more})"


def _broadcast(shapes: list[Shape]) -> Shape | None:
    """The shape of the branches multiplied, as torch broadcasts them; None if they do not."""
    if any(layout_of(s) != layout_of(shapes[0]) for s in shapes):
        return None
    out = []
    for sizes in zip(*shapes, strict=True):
        big = max(sizes)
        if any(size not in (1, big) for size in sizes):
            return None
        out.append(big)
    return laid(out, layout_of(shapes[0]))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _larger(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None or b is None:
        return a or b
    return (max(a[0], b[0]), max(a[1], b[1]))


def _window_step(layer: LayerSpec, at: _At, out: Shape) -> tuple:
    if layout_of(out) not in SPATIAL_AXES or at.rf is None or at.jump is None:
        return None, None  # flat, or tokens: each value may see the whole input
    window = layer.window(at.shape)
    if window is None:
        return at.rf, at.jump
    kernel, stride, dilation = window
    rf = tuple(
        r + (k - 1) * d * j for r, k, d, j in zip(at.rf, kernel, dilation, at.jump, strict=True)
    )
    jump = tuple(j * s for j, s in zip(at.jump, stride, strict=True))
    return rf, jump


def _projection_stride(shape: Shape, out: Shape) -> int | None:
    if layout_of(shape) != CHW or layout_of(out) != CHW:
        return None
    size, o = shape[1], out[1]
    low = max(1, (size - 1) // o) if o > 1 else size
    high = (size - 1) // (o - 1) + 1 if o > 1 else size
    for stride in range(low, min(high, low + 1000) + 1):  # the strides that could give `o`
        if all((size - 1) // stride + 1 == o for size, o in zip(shape[1:], out[1:], strict=True)):
            return stride
    return None


def _wants_flat(section: Sequence) -> bool:
    """A section wants a flat input if its first shape-sensitive layer is fully connected (not
    if a layer before it changes the layout itself: a Permute, a Flatten)."""
    for leaf in leaves(section):
        if leaf.spec.sets_layout:
            return False
        if leaf.spec.accepts != "any":
            return leaf.spec.accepts == "flat" or leaf.spec.flattens_maps
    return False


def shape_names(shape: Shape) -> dict[str, int]:
    """What `in_channels`, `in_height`, `in_width` and `in_tokens` are for `shape`, in its
    layout: the channels of a map, the features of a token or a vector."""
    layout = layout_of(shape)
    known = {"in_channels": shape[CHANNEL_AXIS.get(layout, 0)]}
    if layout in SPATIAL_AXES:
        height, width = SPATIAL_AXES[layout]
        known |= {"in_height": shape[height], "in_width": shape[width]}
    if layout in TOKEN_AXIS:
        known["in_tokens"] = shape[TOKEN_AXIS[layout]]
    return known


# What each `accepts` takes, and how a message names it.
ACCEPTED = {
    "spatial": ((CHW,), "a (channels, height, width) input"),
    "flat": ((FLAT,), "a flat input"),
    "last": (
        (HWC, TOKENS, WINDOWS, FLAT),
        "its features on the last axis (HxWxC, NxD tokens, GxPxC windows or flat)",
    ),
    "windows": ((WINDOWS,), "windows of positions (GxPxC, after a WindowPartition)"),
    "channels_last": ((HWC,), "a map with its channels last (HxWxC)"),
    "tokens": ((TOKENS,), "a sequence of tokens (NxD)"),
}


def _check_input(layer: LayerSpec, shape: Shape) -> None:
    if layer.accepts == "any":
        return
    layouts, wanted = ACCEPTED[layer.accepts]
    layout = layout_of(shape)
    if layout in layouts:
        return
    kind = layer.kind()
    if layer.accepts == "flat":
        raise ShapeError(
            f"{kind} needs a flat input but gets a spatial one; its in-size cannot be inferred",
            hint=f"put `- Flatten` before it, or start a new section at {kind}: the model "
            "flattens between a spatial section and a fully connected one by itself",
        )
    if layer.accepts == "spatial" and layout == FLAT:
        raise ShapeError(
            f"{kind} needs a (channels, height, width) input but gets a flat one",
            hint=f"move {kind} before the flatten (into the spatial section)",
        )
    if layer.accepts == "spatial" and layout == HWC:
        raise ShapeError(
            f"{kind} needs a (channels, height, width) input but gets one with the channels last",
            hint="permute back first: - Permute: {dims: [0, 3, 1, 2]}",
        )
    if layer.accepts == "last" and layout == CHW and kind != "LayerNorm":
        raise ShapeError(
            f"{kind} needs a flat input but gets a spatial one; its in-size cannot be inferred",
            hint=f"put `- Flatten` before it, or start a new section at {kind}: the model "
            "flattens between a spatial section and a fully connected one by itself (for a "
            "Linear at each position, permute to channels-last first: - Permute: "
            "{dims: [0, 2, 3, 1]})",
        )
    if layer.accepts == "last" and layout == CHW:
        raise ShapeError(
            f"{kind} normalizes the last axis, which for a CxHxW map is its width, not its "
            "channels",
            hint=f"use {kind}2d on a CxHxW map, or permute to channels-last first "
            "(- Permute: {dims: [0, 2, 3, 1]})",
        )
    raise ShapeError(
        f"{kind} needs {wanted} but gets {format_shape(shape)}"
        + ("" if layout not in (CHW, FLAT, "") else f" ({layout or f'{len(shape)}-d'})"),
        hint="a Permute or a Flatten changes the layout",
    )
