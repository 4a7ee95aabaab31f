"""The model a run trains, drawn from the run's seed so its starting weights can be re-drawn."""

from __future__ import annotations

import torch

from archspec.compiler import SpecModel, compile_spec
from archspec.shapes import resolve
from archspec.spec import Spec


def seeded_model(spec: Spec, num_classes: int, seed: int) -> SpecModel:
    """The model as training starts. `compare` re-draws it to measure how far filters moved."""
    torch.manual_seed(seed)
    return compile_spec(resolve(spec, num_classes))
