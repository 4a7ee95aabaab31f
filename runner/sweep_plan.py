"""A sweep's runs and what each needs: the plan (every spec x task) and each run's status, read
from its run directory, the single source of truth, whatever process or job trained it.

Runs go to `<out>/<spec stem>-<task>/`. A run with summary.json is finished and skipped, a run
with last.pt but no summary.json is resumed from it (train_run saves last.pt on Ctrl-C), anything
else is trained. A finished run asked for more epochs is extended (resumed to the new count). Runs
are only ever reused when they were trained with the same spec and the same settings; otherwise
the sweep stops and says which setting differs, rather than mixing results of different settings
in one report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import SpecError, UserError
from archspec.shapes import num_classes_for, resolve
from archspec.spec import Spec, load_spec, spec_from_data
from archspec.text import plural
from runner.config import TrainConfig
from runner.recipe import RECIPE_FIELDS
from runner.rundir import RunDir, default_run_name

TASKS = ("category", "domain")
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


@dataclass(frozen=True)
class SweepRun:
    spec_path: Path
    spec: Spec
    task: str
    path: Path  # <out>/<spec stem>-<task>[-holdout-<domain>]
    holdout: str | None = None  # leave-one-domain-out: the domain this run tests on

    @property
    def name(self) -> str:
        return self.path.name


def plan_sweep(
    specs: Sequence[Path],
    tasks: Sequence[str],
    out: Path,
    spec_set: Sequence[str] = (),
    holdouts: Sequence[str | None] = (None,),
) -> list[SweepRun]:
    """Every (spec, task) pair, spec by spec; every spec checked for every task before any run.

    `spec_set`: `--set PATH=VALUE` changes applied to every spec. `holdouts`: the held-out
    domain of each run, one run per domain (None: no held-out domain)."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise UserError(f"unknown task {', '.join(unknown)}; the tasks are {', '.join(TASKS)}")
    tasks = list(dict.fromkeys(tasks))
    stems: dict[str, Path] = {}
    for path in specs:
        other = stems.setdefault(Path(path).stem, Path(path))
        if other != Path(path):
            raise UserError(
                f"{other} and {path} would share the run directories {Path(path).stem}-<task>: "
                "rename one of them"
            )
    runs, problems = [], []
    for path in stems.values():
        try:
            spec = load_spec(path, spec_set)
            for task in tasks:
                resolve(spec, num_classes_for(task))
        except SpecError as e:
            problems.append(str(e))
            continue
        runs += [
            SweepRun(path, spec, task, Path(out) / default_run_name(str(path), task, d), d)
            for task in tasks
            for d in holdouts
        ]
    if problems:
        raise UserError("nothing trained; fix these specs first:\n" + "\n".join(problems))
    return runs


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


def _same(field: str, a: Any, b: Any) -> bool:
    if field == "data" and a is not None and b is not None:
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def check_reusable(run: SweepRun, config: TrainConfig) -> None:
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


def remove_unstarted(run: SweepRun) -> None:
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


def run_status(run: SweepRun, config: TrainConfig) -> str:
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
