"""A sweep's runs and what each needs: the plan (every variant x task x seed) and each run's
status, read from its run directory, the single source of truth, whatever process or job
trained it.

Runs go to `<out>/<variant>-<task>[-holdout-<domain>][-seed<N>]/`, the variant being the spec's
stem, followed by its `--grid` values when there is a grid; `-seed<N>` only when `--seeds` is
given, so a sweep without seeds keeps its folders. A run with summary.json is finished and
skipped, a run with last.pt but no summary.json is resumed from it (train_run saves last.pt on
Ctrl-C), anything else is trained. A finished run asked for more epochs is extended (resumed to
the new count). Runs are only ever reused when they were trained with the same spec and the same
settings; otherwise the sweep stops and says which setting differs, rather than mixing results
of different settings in one report.
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
from runner.study.grid import (
    Axis,
    Point,
    check_distinct_names,
    grid_points,
    point_label,
    point_sets,
    point_suffix,
)
from runner.training.config import TrainConfig
from runner.training.recipe import RECIPE_FIELDS
from runner.training.rundir import RunDir

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
    path: Path  # <out>/<variant>-<task>[-holdout-<domain>][-seed<N>]
    holdout: str | None = None  # leave-one-domain-out: the domain this run tests on
    seed: int = 0  # the run's seed (TrainConfig.seed)
    grid: Point = ()  # the --grid values that make this variant of the spec

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def variant(self) -> str:
        """The spec's stem and grid values: what the runs of one variant share."""
        return variant_name(self.spec_path, self.grid)

    @property
    def label(self) -> str:
        """The variant as tables name it: the spec's name and its grid values."""
        return f"{self.spec.name} ({point_label(self.grid)})" if self.grid else self.spec.name

    @property
    def spec_set(self) -> tuple[str, ...]:
        """The --set arguments the grid adds to the sweep's own."""
        return point_sets(self.grid)


def variant_name(spec_path: Path, point: Point) -> str:
    return f"{spec_path.stem}-{point_suffix(point)}" if point else spec_path.stem


def run_name(variant: str, task: str, holdout: str | None, seed: int | None) -> str:
    """The run's folder name; `seed` None (no --seeds) adds no suffix."""
    name = f"{variant}-{task}" + (f"-holdout-{holdout}" if holdout else "")
    return name if seed is None else f"{name}-seed{seed}"


def plan_sweep(
    specs: Sequence[Path],
    tasks: Sequence[str],
    out: Path,
    spec_set: Sequence[str] = (),
    holdouts: Sequence[str | None] = (None,),
    seeds: Sequence[int] | None = None,
    grid: Sequence[Axis] = (),
    default_seed: int = 0,
) -> list[SweepRun]:
    """Every (variant, task, held-out domain, seed), variant by variant; every variant checked
    for every task before any run.

    `spec_set`: `--set PATH=VALUE` changes applied to every spec. `holdouts`: the held-out
    domain of each run, one run per domain (None: no held-out domain). `seeds`: one run per
    seed, named `-seed<N>` (None: one run of `default_seed`, unnamed). `grid`: the axes whose
    product makes the variants of each spec."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise UserError(f"unknown task {', '.join(unknown)}; the tasks are {', '.join(TASKS)}")
    tasks = list(dict.fromkeys(tasks))
    check_distinct_names(grid)
    stems: dict[str, Path] = {}
    for path in specs:
        other = stems.setdefault(Path(path).stem, Path(path))
        if other != Path(path):
            raise UserError(
                f"{other} and {path} would share the run directories {Path(path).stem}-<task>: "
                "rename one of them"
            )
    points = grid_points(grid)
    runs, problems = [], []
    for path in stems.values():
        for point in points:
            try:
                spec = load_spec(path, (*spec_set, *point_sets(point)))
                for task in tasks:
                    resolve(spec, num_classes_for(task))
            except SpecError as e:
                where = f"with --grid {point_label(point)}: " if point else ""
                problems.append(where + str(e))
                continue
            variant = variant_name(path, point)
            runs += [
                SweepRun(
                    path,
                    spec,
                    task,
                    Path(out) / run_name(variant, task, d, seed),
                    d,
                    default_seed if seed is None else seed,
                    point,
                )
                for task in tasks
                for d in holdouts
                for seed in (seeds if seeds is not None else (None,))
            ]
    if problems:
        raise UserError("nothing trained; fix these specs first:\n" + "\n".join(problems))
    return runs


def parse_seeds(values: Sequence[int]) -> list[int]:
    """`--seeds 3` means seeds 0, 1, 2; `--seeds 0 4 7` those seeds."""
    if len(values) == 1:
        if values[0] < 1:
            raise UserError(f"--seeds {values[0]}: give how many seeds (1 or more), e.g. --seeds 3")
        return list(range(values[0]))
    negative = [v for v in values if v < 0]
    if negative:
        raise UserError(f"--seeds: seeds are 0 or more, got {', '.join(map(str, negative))}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise UserError(f"--seeds: seed {', '.join(map(str, repeated))} given twice; give it once")
    return list(values)


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
