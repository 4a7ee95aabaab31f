"""What `--resume` may change: a run continues as it was set up, except how long and where.

The flags the user gave with `--resume` are compared with the run's config.yaml settings; one
that differs is refused, listing every difference, rather than ignored without a word.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from runner.training.config import TrainConfig

# How long the run goes on and where it computes; everything else is what it learns.
MAY_CHANGE = ("epochs", "device", "workers", "checkpoint_every")
# Chosen when the run starts; "auto" asks for that same choice again.
RESOLVED_AT_START = ("precision", "memory_format")


def resumed_config(
    run: Path, stored: dict[str, Any], asked: TrainConfig, given: Collection[str] | None
) -> TrainConfig:
    """The run's own settings with the allowed changes from `asked`.

    `given` names the settings the user set explicitly; None means every one of `asked` is a
    request that was already checked (a sweep compares the settings itself).
    """
    config = TrainConfig.from_data(stored)
    if given is None:
        return replace(config, **{name: getattr(asked, name) for name in MAY_CHANGE})
    known = {f.name for f in fields(TrainConfig)}
    differ = [
        f"--{name.replace('_', '-')} {_shown(getattr(asked, name))} (the run has "
        f"{_shown(getattr(config, name))})"
        for name in sorted(given)
        if name in known
        and name not in MAY_CHANGE
        and not _same(name, getattr(config, name), getattr(asked, name))
    ]
    if differ:
        raise UserError(
            f"cannot resume {run} with other settings: {'; '.join(differ)}. A resumed run keeps "
            "its own settings (see its config.yaml); only --epochs, --device, --workers and "
            "--checkpoint-every may change. Leave the others out, or start a new run without "
            "--resume"
        )
    return replace(config, **{name: getattr(asked, name) for name in MAY_CHANGE if name in given})


def _same(name: str, stored: Any, asked: Any) -> bool:
    if name in RESOLVED_AT_START and asked == "auto":
        return True
    if name == "data" and stored is not None and asked is not None:
        return Path(stored).resolve() == Path(asked).resolve()
    return stored == asked


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
