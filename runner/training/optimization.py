"""The recipe's optimizer and learning-rate schedule, built for a model's parameters."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from runner.training.recipe import Recipe, lr_factor


def build_optimizer(recipe: Recipe, parameters: Iterable[torch.nn.Parameter]):
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
    # AdamW decouples weight decay from the gradient; Adam adds it to the gradient (the study's).
    kind = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)


def build_schedule(
    recipe: Recipe, optimizer: torch.optim.Optimizer, epochs: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per epoch; its state (the epoch count) goes into last.pt."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe, epochs))
