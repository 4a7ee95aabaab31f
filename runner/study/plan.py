"""A sweep's runs: the plan (every variant x task x seed), each with its run directory.

Runs go to `<out>/<variant>-<task>[-holdout-<domain>][-seed<N>]/`, the variant being the spec's
stem, followed by its `--grid` values when there is a grid; `-seed<N>` only when `--seeds` is
given, so a sweep without seeds keeps its folders. Whether each run is new, resumed, extended or
finished is read from its run directory by runner.launch.status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import SpecError, UserError
from archspec.shapes import num_classes_for, resolve
from archspec.spec import Spec, load_spec
from runner.study.grid import (
    Axis,
    Point,
    check_distinct_names,
    grid_points,
    point_label,
    point_sets,
    point_suffix,
)

TASKS = ("category", "domain")


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
