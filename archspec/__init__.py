"""archspec: convolutional networks as YAML specs, compiled into PyTorch modules.

    import archspec
    model = archspec.build("resnet18", num_classes=10)      # a shipped spec, a path or a dict
    print(archspec.summarize("tiny", task="domain"))          # shapes, receptive fields, cost
    archspec.validate_spec({"name": "Net", "sections": {...}})    # SpecError names line and fix

Importing archspec does not import torch; `build` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported when first used: importing the package itself loads nothing (the layer
# registry, with the plugins' kinds, is loaded by the first call, whose errors a caller and the
# command line can then catch).
_HOMES = {
    "ModelSummary": "archspec.summary",
    "Problem": "archspec.errors",
    "ResolvedSpec": "archspec.shapes",
    "Spec": "archspec.spec",
    "SpecDiff": "archspec.diff",
    "SpecError": "archspec.errors",
    "UserError": "archspec.errors",
    **{
        name: "archspec.api"
        for name in (
            "SpecLike",
            "build",
            "diff_specs",
            "expand_spec",
            "layer_kinds",
            "list_models",
            "load_spec",
            "summarize",
            "validate_spec",
        )
    },
}

if TYPE_CHECKING:
    from archspec.api import (
        SpecLike,
        build,
        diff_specs,
        expand_spec,
        layer_kinds,
        list_models,
        load_spec,
        summarize,
        validate_spec,
    )
    from archspec.diff import SpecDiff
    from archspec.errors import Problem, SpecError, UserError
    from archspec.shapes import ResolvedSpec
    from archspec.spec import Spec
    from archspec.summary import ModelSummary


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from archspec.version import archspec_version

        return archspec_version()
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # found once
        return value
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ModelSummary",
    "Problem",
    "ResolvedSpec",
    "Spec",
    "SpecDiff",
    "SpecError",
    "SpecLike",
    "UserError",
    "__version__",
    "build",
    "diff_specs",
    "expand_spec",
    "layer_kinds",
    "list_models",
    "load_spec",
    "summarize",
    "validate_spec",
]
