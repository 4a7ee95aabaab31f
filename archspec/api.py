"""The Python API: what the command line does, as functions (`archspec.build("tiny")`).

A spec is given as a shipped spec's name (`"resnet18"`), a path to a YAML file, or a mapping
of the same data. Mistakes raise `SpecError`, whose message is the located one the command line
prints (line, layer, fix). Only `build` imports torch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from archspec.catalog import shipped_specs, spec_path
from archspec.compose import compose
from archspec.diff import SpecDiff
from archspec.diff import diff_specs as _diff_specs
from archspec.errors import Problem, SpecError, UserError
from archspec.expanded_spec import expanded_yaml
from archspec.loader import Document, read_spec_file
from archspec.shapes import TASK_NUM_CLASSES, ResolvedSpec, num_classes_for, resolve
from archspec.spec import Spec, parse_spec
from archspec.summary import ModelSummary, summarize_resolved

if TYPE_CHECKING:
    import torch
    from torch import nn

    from archspec.layers import LayerSpec

SpecLike = str | Path | Mapping[str, Any] | Spec
IMAGENET_CLASSES = 1000  # the class count when none is given, as torchvision and timm build


def load_spec(spec: SpecLike, *, sets: Iterable[str] = ()) -> Spec:
    """Read, compose (`extends`, overrides, `sets` as `--set PATH=VALUE`) and check a spec."""
    if isinstance(spec, Spec):
        if not sets:
            return spec
        spec = spec.to_data()
    if isinstance(spec, Mapping):
        # Composed as a file in the working folder would be: `extends` is relative to it.
        doc = Document(data=copy.deepcopy(dict(spec)), source="<spec>")
        return parse_spec(compose(doc, list(sets)))
    if isinstance(spec, str | Path):
        return parse_spec(compose(read_spec_file(spec_path(spec)), list(sets)))
    raise SpecError(
        "<spec>",
        [Problem(f"a spec is a name, a path or a mapping, got {type(spec).__name__}")],
    )


def validate_spec(
    spec: SpecLike,
    *,
    num_classes: int | None = None,
    task: str | None = None,
    sets: Iterable[str] = (),
) -> ResolvedSpec:
    """Check a spec and infer every shape; `num_classes` may stay unbound. Raises SpecError."""
    loaded = load_spec(spec, sets=sets)
    return resolve(loaded, _class_count(task, num_classes), allow_unbound=True)


def build(
    spec: SpecLike,
    *,
    num_classes: int | None = None,
    task: str | None = None,
    sets: Iterable[str] = (),
    device: str | torch.device | None = None,
) -> nn.Module:
    """The model a spec describes, with freshly initialized weights.

    `num_classes` binds the spec's `num_classes` (default 1000, or the count of `task`). Under
    `with torch.device("meta"):`, or with `device="meta"`, no weight memory is allocated.
    Weights that cannot fit in the device's free memory raise UserError before any is made (a
    ViT's position embedding grows with the square of the input size).
    """
    import torch

    from archspec.compiler import compile_spec
    from archspec.memory import check_memory

    resolved = _resolved(spec, num_classes, task, sets)
    target = torch.device(device) if device is not None else torch.get_default_device()
    if target.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"cannot build {resolved.spec.name} on {target}: this machine has no CUDA device "
            "that torch can use; build on 'cpu', or on 'meta' to allocate nothing"
        )
    if target.type != "meta":
        check_memory(resolved, target, 0, training=False, what="build")
    return compile_spec(resolved, device=device)


def summarize(
    spec: SpecLike,
    *,
    num_classes: int | None = None,
    task: str | None = None,
    sets: Iterable[str] = (),
) -> ModelSummary:
    """Every layer's output shape, receptive field, parameters; totals. `str()` renders it as
    `archspec build` prints it. Needs no torch."""
    return summarize_resolved(_resolved(spec, num_classes, task, sets))


def expand_spec(
    spec: SpecLike,
    *,
    num_classes: int | None = None,
    task: str | None = None,
    sets: Iterable[str] = (),
) -> str:
    """The spec as YAML with `extends`, blocks and repeats written out and every size inferred."""
    return expanded_yaml(load_spec(spec, sets=sets), _class_count(task, num_classes))


def diff_specs(a: SpecLike, b: SpecLike, *, num_classes: int | None = None) -> SpecDiff:
    """What differs between two specs, layer by layer, and their totals (`.equal`, `.render()`,
    `.to_json()`)."""
    return _diff_specs(load_spec(a), load_spec(b), _class_count(None, num_classes))


def layer_kinds() -> Mapping[str, type[LayerSpec]]:
    """The closed registry of layer kinds a spec may use: name -> its Pydantic model."""
    from archspec.layers import LAYER_KINDS

    return MappingProxyType(LAYER_KINDS)


def list_models() -> list[str]:
    """The names of the shipped specs, each usable wherever a spec is."""
    return list(shipped_specs())


def _resolved(
    spec: SpecLike, num_classes: int | None, task: str | None, sets: Iterable[str]
) -> ResolvedSpec:
    bound = _class_count(task, num_classes)
    return resolve(load_spec(spec, sets=sets), IMAGENET_CLASSES if bound is None else bound)


def _class_count(task: str | None, num_classes: int | None) -> int | None:
    if task is not None and task not in TASK_NUM_CLASSES:
        raise ValueError(f"task must be one of {', '.join(TASK_NUM_CLASSES)}, got {task!r}")
    if num_classes is not None and (isinstance(num_classes, bool) or num_classes < 1):
        raise ValueError(f"num_classes must be a count of at least 1, got {num_classes!r}")
    return num_classes_for(task, num_classes)
