"""`archspec report DIR...`: the runs of one or more sweep folders, read back from their run
directories, checked to be comparable, for one report.

A run directory says all there is to know (config.yaml, spec.yaml, summary.json), so no record
of the sweep is needed. The `--set` changes that differ between runs become their grid values
(those every run shares are the sweep's own and name nothing). Runs are refused, with the
reason, when they were trained on other data or another validation split, or with other
settings, since their accuracies would not measure the same thing; unfinished runs are left out
and named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import SpecError, UserError
from archspec.spec import spec_from_data
from runner.launch.status import DEFAULTS, RESULT_FIELDS
from runner.study.plan import SweepRun, variant_name
from runner.training.rundir import RunDir

# What makes two runs measure the same thing: the data and its split, and how they learned.
# The seed is the axis a report pools over; the task and held-out domain are its columns.
COMPARABLE = tuple(
    f for f in (*RESULT_FIELDS, "epochs") if f not in ("seed", "task", "holdout_domain")
)


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


def _run_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give sweep folders (the --out of a sweep)")
    runs = sorted(p for p in folder.iterdir() if (p / "config.yaml").is_file())
    if not runs:
        raise UserError(
            f"{folder} holds no run directories (folders with config.yaml): give the --out "
            "folder of a sweep"
        )
    return runs


def _value(config: dict[str, Any], field: str) -> Any:
    value = config.get(field, DEFAULTS.get(field))
    if field == "data" and value is not None:
        return str(Path(value).resolve())
    return value


def read_runs(folders: Sequence[Path], say: Callable[[str], None] = print) -> list[SweepRun]:
    """Every finished run of the folders, as the sweep planned them, checked to be comparable."""
    found: list[tuple[Path, dict[str, Any], Any]] = []
    for folder in folders:
        for path in _run_folders(Path(folder)):
            if not RunDir(path).finished:
                say(f"{path}: not finished (no summary.json); left out")
                continue
            found.append((path, _read(path / "config.yaml") or {}, _read(path / "spec.yaml")))
    if not found:
        raise UserError("no finished run in " + ", ".join(map(str, folders)))
    _check_comparable([(p, c) for p, c, _ in found])
    sets = [tuple(c.get("spec_set") or ()) for _, c, _ in found]
    shared = set.intersection(*(set(s) for s in sets))
    runs = []
    for (path, config, spec_data), run_sets in zip(found, sets, strict=True):
        try:
            spec = spec_from_data(spec_data, str(path / "spec.yaml"))
        except SpecError as e:
            raise UserError(f"{path}: its spec.yaml does not validate:\n{e}") from None
        grid = tuple(tuple(s.split("=", 1)) for s in run_sets if s not in shared and "=" in s)
        seed = int(config.get("seed") or 0)
        runs.append(
            SweepRun(
                Path(config["spec"]),
                spec,
                config["task"],
                path,
                config.get("holdout_domain"),
                seed,
                grid,
            )
        )
    _check_cells(runs)
    return sorted(runs, key=lambda r: (r.variant, r.task, r.holdout or "", r.seed))


def _check_comparable(found: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    for field in COMPARABLE:
        by_value: dict[str, list[Path]] = {}
        for path, config in found:
            by_value.setdefault(repr(_value(config, field)), []).append(path)
        if len(by_value) > 1:
            listing = "\n".join(
                f"  {field}={value}: {', '.join(str(p) for p in paths[:3])}"
                + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
                for value, paths in by_value.items()
            )
            why = {
                "data": "they were trained on other data",
                "val_fraction": "their validation splits differ",
            }.get(field, "they were trained with other settings")
            raise UserError(
                f"these runs are not comparable: {why} ({field}):\n{listing}\n"
                "report them apart, or train them alike"
            )


def _check_cells(runs: Sequence[SweepRun]) -> None:
    """A run name given twice, or one variant built from two different specs, would be pooled
    as if they were one."""
    names: dict[str, SweepRun] = {}
    specs: dict[str, SweepRun] = {}
    for run in runs:
        other = names.setdefault(run.name, run)
        if other is not run:
            raise UserError(
                f"{other.path} and {run.path} are both named {run.name}: report them apart, or "
                "train one of them with other --seeds"
            )
        first = specs.setdefault(variant_name(run.spec_path, run.grid), run)
        if first.spec != run.spec:
            raise UserError(
                f"{first.path} and {run.path} were trained from different versions of "
                f"{run.spec_path.name}: their accuracies are not one variant's; report them apart"
            )
