"""Whether a run directory may be trained into, and how: new, resumed from last.pt, extended
to more epochs, or finished. The run directory is the single source of truth, whatever process
or job trained it, so every launcher reads the status again under the run's lock.

A run is only ever reused when it was trained with the same spec and the same settings;
otherwise this stops and says which setting differs, rather than mixing results of different
settings in one report.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol

import yaml

from archspec.errors import SpecError, UserError
from archspec.spec import Spec, spec_from_data
from archspec.text import plural
from runner.training.config import TrainConfig
from runner.training.recipe import RECIPE_FIELDS
from runner.training.rundir import RunDir


class PlannedRun(Protocol):
    """What the launchers need of a run: where it goes and what it trains. A study's SweepRun
    is one; launch never imports the study that plans it."""

    @property
    def spec_path(self) -> Path: ...
    @property
    def spec(self) -> Spec: ...
    @property
    def path(self) -> Path: ...
    @property
    def name(self) -> str: ...


# Settings that change what a run learns; device and workers do not, so they may differ.
RESULT_FIELDS = tuple(  # once each: some recipe fields are also plain training flags
    dict.fromkeys(
        (
            "task",
            "data",
            "batch_size",
            "lr",
            "weight_decay",
            "seed",
            "holdout_domain",
            "val_fraction",
            "skip_bad_images",
            *RECIPE_FIELDS,
            "init",
        )
    )
)
# What TrainConfig assumes for a field an older run's config.yaml does not have.
DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
# What train_run writes before its first checkpoint; a folder holding only these never trained.
UNSTARTED_FILES = frozenset({"config.yaml", "spec.yaml", "metrics.csv"})


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


def _same(field: str, a: Any, b: Any) -> bool:
    if field == "data" and a is not None and b is not None:
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def check_reusable(run: PlannedRun, config: TrainConfig) -> None:
    """The existing run directory was trained with this spec and these settings."""
    stored_spec = run.path / "spec.yaml"
    if stored_spec.is_file():
        try:
            same_spec = spec_from_data(_read_yaml(stored_spec), str(stored_spec)) == run.spec
        except SpecError:
            same_spec = False
        if not same_spec:
            raise UserError(
                f"{run.path} was trained with another version of {run.spec_path} (see its "
                "spec.yaml): give another --out, or move that run away to train it again"
            )
    stored_config = run.path / "config.yaml"
    if not stored_config.is_file():
        return
    stored = _read_yaml(stored_config) or {}
    wanted = config.to_data()
    differ = [
        f"{f}={stored.get(f)!r} there, {wanted[f]!r} now"
        for f in RESULT_FIELDS
        if not _same(f, stored.get(f, DEFAULTS[f]), wanted[f])
    ]
    if differ:
        raise UserError(
            f"{run.path} was trained with other settings ({'; '.join(differ)}): give another "
            "--out, or the same settings, to continue this sweep"
        )


def remove_unstarted(run: PlannedRun) -> None:
    """Delete a run folder that never reached a checkpoint (train_run never overwrites one)."""
    entries = list(run.path.iterdir())
    if any(p.name not in UNSTARTED_FILES or not p.is_file() for p in entries):
        raise UserError(
            f"{run.path} has no checkpoint to resume but holds other files "
            f"({', '.join(sorted(p.name for p in entries))}): move it away to train it again"
        )
    for p in entries:
        p.unlink()
    run.path.rmdir()


def run_status(run: PlannedRun, config: TrainConfig) -> str:
    """new | finished | extend | resume, after checking an existing run may be reused."""
    run_dir = RunDir(run.path)
    if not run.path.exists():
        return "new"
    check_reusable(run, config)
    if run_dir.finished:
        epochs = int(run_dir.read_summary().get("epochs", config.epochs))
        if epochs > config.epochs:
            raise UserError(
                f"{run.path} was trained for {plural(epochs, 'epoch')}, this sweep asks for "
                f"{config.epochs}: give --epochs {epochs} (or more, to extend it) or another --out"
            )
        return "extend" if config.epochs > epochs else "finished"
    if run_dir.last.is_file():
        return "resume"
    if run_dir.best.is_file():
        raise UserError(
            f"{run.path} has best.pt but no last.pt to resume from: move it away to train it again"
        )
    remove_unstarted(run)
    return "new"
