"""The expanded network as a tree of plain data: what `expand` produces and `resolve` walks.

Each node is one module of the compiled model, named as its parent's attribute (`conv1`, `0`,
`downsample`); `src` is where the user wrote it in the file, for error messages, and `via` says
through which block uses it was reached ("layer2[0] BasicBlock").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from archspec.layers.base import LayerSpec
from archspec.params import Deferred

Path_ = tuple[object, ...]

# HELD: a module's own children in the order it holds them (a block's or structure's `holds:`),
# where that differs from the order they run, the order they are written in: torchvision's
# __init__ registers Swin V2's norm1 before attn and runs attn first. The state_dict and the
# printout follow the order held.


@dataclass(frozen=True)
class Layer:
    """One PyTorch layer (a leaf of the module tree)."""

    name: str
    spec: LayerSpec
    src: Path_ = field(default=(), compare=False)
    via: str = field(default="", compare=False)
    label: str = field(default="", compare=False)  # for messages: layer2[0].conv1
    # Fields that use the input's shape or the block's position (params.Deferred), evaluated
    # when shapes are inferred; `spec` holds stand-ins for them until then.
    deferred: tuple[tuple[str, Deferred], ...] = ()
    # The innermost block use it is in: (block name, its index among that block's uses).
    use: tuple[str, int] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Sequence:
    """Children run in order. `numbered`: written as a list, so named 0, 1, 2 like nn.Sequential.

    `class_name` is a block's name (printed as the module's class); None prints `Sequential`.
    """

    name: str
    children: tuple[Node, ...]
    class_name: str | None = None
    numbered: bool = True
    src: Path_ = field(default=(), compare=False)
    via: str = field(default="", compare=False)
    label: str = field(default="", compare=False)  # for messages: layer2[0].conv1
    # A section written as one layer (`fc: {Linear: ...}`): the model's attribute is that layer
    # itself, as torchvision's ResNet has `fc`, not `fc.0`.
    bare: bool = False
    use: tuple[str, int] | None = field(default=None, compare=False)  # the block use it is
    held: tuple[str, ...] | None = None  # `holds:`, see HELD


@dataclass(frozen=True)
class Residual:
    """out = after(body(x) + shortcut(x)); the body's and after's layers are the module's own
    attributes (conv1, bn1, ...), the shortcut is `downsample`, as in torchvision's BasicBlock.

    shortcut: "identity", "auto" (identity if the shapes match, else a 1x1 conv with the body's
    stride, plus BatchNorm when the body uses it), "identity_or_none" (identity if the shapes
    match, else no sum at all: MobileNet's use_res_connect), or the layers written out.

    `inline`: written under the key `Residual` in a mapping of named layers, so it is not a
    module of its own and its layers are named in the enclosing module.
    """

    name: str
    body: Sequence
    shortcut: Literal["identity", "auto", "identity_or_none"] | Sequence
    after: Sequence | None = None
    class_name: str | None = None
    src: Path_ = field(default=(), compare=False)
    via: str = field(default="", compare=False)
    label: str = field(default="", compare=False)  # for messages: layer2[0].conv1
    inline: bool = False
    # `drop_path`: layers applied to the body's output only where it is summed with the
    # shortcut (stochastic depth, as EfficientNet's MBConv applies it): out = drop(body(x)) + x.
    drop: Sequence | None = None
    use: tuple[str, int] | None = field(default=None, compare=False)  # the block use it is
    held: tuple[str, ...] | None = None  # `holds:`, see HELD


@dataclass(frozen=True)
class Parallel:
    """Branches on the same input, merged by channel concatenation, by sum, or by multiply
    (a gate: `x * g(x)` with g's Cx1x1 broadcast, as squeeze-and-excitation does).

    `flat`: the branches were written as a list of mappings of named layers, so a branch is not
    a module of its own: its layers are the Parallel's own attributes (Inception's branch1x1,
    branch3x3_1, ...). An empty branch is the identity. `inline`: as for Residual.
    """

    name: str
    branches: tuple[Sequence, ...]
    merge: Literal["concat", "sum", "multiply"]
    class_name: str | None = None
    src: Path_ = field(default=(), compare=False)
    via: str = field(default="", compare=False)
    label: str = field(default="", compare=False)  # for messages: layer2[0].conv1
    flat: bool = False
    inline: bool = False
    # Each branch reads its own consecutive share of the input's channels (torch.chunk), as
    # ShuffleNet v2's unit splits its input in two, rather than all of it.
    split: bool = False
    use: tuple[str, int] | None = field(default=None, compare=False)  # the block use it is
    held: tuple[str, ...] | None = None  # `holds:`, see HELD


Node = Union[Layer, Sequence, Residual, Parallel]  # noqa: UP007 (used at runtime)


def leaves(node: Node) -> list[Layer]:
    """Every layer under `node`, in the order the model runs them."""
    if isinstance(node, Layer):
        return [node]
    if isinstance(node, Sequence):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, Residual):
        out = leaves(node.body) + (leaves(node.drop) if node.drop else [])
        if isinstance(node.shortcut, Sequence):
            out += leaves(node.shortcut)
        return out + (leaves(node.after) if node.after else [])
    return [leaf for branch in node.branches for leaf in leaves(branch)]
