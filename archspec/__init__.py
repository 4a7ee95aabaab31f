"""archspec: convolutional networks as YAML specs, compiled into PyTorch modules.

    import archspec
    model = archspec.build("resnet18", num_classes=10)      # a shipped spec, a path or a dict
    print(archspec.summarize("tiny", task="domain"))          # shapes, receptive fields, cost
    archspec.validate_spec({"name": "Net", "sections": {...}})    # SpecError names line and fix

Importing archspec does not import torch; `build` does.
"""

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
from archspec.cli.version import archspec_version as _version
from archspec.diff import SpecDiff
from archspec.errors import Problem, SpecError, UserError
from archspec.shapes import ResolvedSpec
from archspec.spec import Spec
from archspec.summary import ModelSummary

__version__ = _version()

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
