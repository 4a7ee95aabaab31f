"""`archspec sweep`: train every spec for every task, then write one report of the whole study.

With `--seeds`, every (spec, task) is trained once per seed; with `--grid`, every spec is swept
over the grid's values. Runs go to `<out>/<spec stem>-<task>/` (sweep_plan.py names them with
the grid and the seed, and says what each needs). They are trained one
after another in this process, or spread by a launcher (runner/launch/) over local processes or
SLURM jobs. Each run is trained under its run directory's lock, so two sweeps on one `--out`
never train into the same directory; a sweep finding a run locked goes on with the others and
waits for it last. report.md is written once every run has finished.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from archspec.text import plural
from runner.launch import BUSY, Job, Launch, RunLock, train_one
from runner.launch.status import run_status
from runner.study import report
from runner.study.grid import Axis
from runner.study.lodo_table import expand_holdouts
from runner.study.plan import TASKS, SweepRun, parse_seeds, plan_sweep
from runner.training.config import TrainConfig
from runner.training.rundir import RunDir
from runner.training.train import train_run

__all__ = ["SweepResult", "SweepRun", "parse_seeds", "plan_sweep", "run_sweep"]


@dataclass(frozen=True)
class SweepResult:
    runs: list[SweepRun]
    statuses: dict[str, str]  # run name -> what it needed: new | finished | extend | resume | busy
    report: Path | None  # None until every run has finished
    failed: dict[str, Path] = field(default_factory=dict)  # run name -> its job's log


def _current_status(run: SweepRun, config: TrainConfig) -> str:
    """The run's status, or BUSY without touching it while another process trains it."""
    lock = RunLock(run.path)
    if not lock.acquire(wait=False):
        return BUSY
    try:
        return run_status(run, config)
    finally:
        lock.release()


def _one_by_one(
    jobs: Sequence[Job],
    statuses: dict[str, str],
    where: dict[str, str],
    progress: bool,
    say: Callable[[str], None],
) -> None:
    """In this process, in plan order; a run another process holds is left for last."""
    later = []
    for job in jobs:
        here = where[job.run.name]
        status = statuses[job.run.name]
        say(
            {
                "new": f"{here}: training {plural(job.config.epochs, 'epoch')}",
                "resume": f"{here}: resuming from last.pt",
                "extend": f"{here}: extending to {plural(job.config.epochs, 'epoch')}",
                BUSY: f"{here}: being trained by another process; left for last",
            }[status]
        )
        if status == BUSY or _train_here(job, wait=False, progress=progress, say=say) == BUSY:
            later.append(job)
    for job in later:
        _train_here(job, wait=True, progress=progress, say=say)


def _train_here(job: Job, *, wait: bool, progress: bool, say: Callable[[str], None]) -> str:
    try:
        # train_run looked up here at call time, so tests can stand in for it.
        return train_one(job, wait=wait, progress=progress, train=train_run, say=say)
    except KeyboardInterrupt:
        say(f"sweep interrupted in {job.run.path}; run the same command again to continue")
        raise


# Long: the sweep's steps in order (check, plan, every run's status, launch, report), each short.
def run_sweep(
    specs: Sequence[Path],
    tasks: Sequence[str] = TASKS,
    out: Path = Path("runs/sweep"),
    training: Mapping[str, Any] | None = None,
    *,
    launch: Launch | None = None,
    progress: bool = True,
    tensorboard: bool = False,
    seeds: Sequence[int] | None = None,
    grid: Sequence[Axis] = (),
    say: Callable[[str], None] = print,
) -> SweepResult:
    """Train what is missing (resuming what was interrupted), then write `<out>/report.md`;
    `tensorboard`: every run also logs to <run>/tensorboard/. `seeds`: train every run once per
    seed (None: once, with `training`'s seed). `grid`: the (PATH, values) axes of `--grid`."""
    out = Path(out)
    launch = launch or Launch()
    training = dict(training or {})
    for reserved in ("spec", "task", "out", "name"):
        training.pop(reserved, None)
    _check_options(training, tasks, seeds, launch, tensorboard)
    holdouts = expand_holdouts(training.pop("holdout_domain", None), training)
    spec_set = tuple(training.pop("spec_set", ()))
    runs = plan_sweep(specs, tasks, out, spec_set, holdouts, seeds, grid, training.pop("seed", 0))
    configs = [
        TrainConfig(
            str(r.spec_path),
            r.task,
            out=str(out),
            name=r.name,
            holdout_domain=r.holdout,
            seed=r.seed,
            spec_set=(*spec_set, *r.spec_set),  # the run builds its variant as the plan did
            **training,
        )
        for r in runs
    ]
    statuses = {r.name: _current_status(r, c) for r, c in zip(runs, configs, strict=True)}
    where = {r.name: f"[{n}/{len(runs)}] {r.path}" for n, r in enumerate(runs, start=1)}
    for run in runs:
        if statuses[run.name] == "finished":
            say(f"{where[run.name]}: finished, skipped")
    jobs = [
        Job(r, c, tensorboard)
        for r, c in zip(runs, configs, strict=True)
        if statuses[r.name] != "finished"
    ]

    failed = _launch(jobs, statuses, where, launch, out, progress, say)
    if failed is None:  # submitted, not waited for
        return SweepResult(runs, statuses, None)
    if failed:
        listing = "\n".join(f"  {name}: see {log}" for name, log in failed.items())
        raise UserError(
            f"{len(failed)} of {plural(len(jobs), 'run')} failed (the others went on):\n{listing}\n"
            "fix the cause and run the same command again: finished runs are skipped"
        )
    unfinished = [r for r in runs if not RunDir(r.path).finished]
    if unfinished:
        names = ", ".join(r.name for r in unfinished)
        say(
            f"{plural(len(unfinished), 'run')} not finished yet ({names}); "
            "run the same command again once they have, to write the report"
        )
        return SweepResult(runs, statuses, None)
    return SweepResult(runs, statuses, report.write_report(out, runs, say=say))


def _check_options(
    training: Mapping[str, Any],
    tasks: Sequence[str],
    seeds: Sequence[int] | None,
    launch: Launch,
    tensorboard: bool,
) -> None:
    """What can be refused before anything is planned, trained or submitted."""
    if seeds is not None and "seed" in training:
        raise UserError("--seed and --seeds do not go together: give every seed in --seeds 0 1 2")
    if training.get("holdout_domain") and "domain" in tasks:
        # Caught here, not after hours of training the category runs.
        raise UserError(
            "--holdout-domain leaves a domain out of training, so it cannot go with the domain "
            "task: pass --task category"
        )
    if tensorboard:
        from runner.training.tensorboard import require_tensorboard

        require_tensorboard()
    if launch.launcher == "slurm":
        from runner.launch.slurm import check_slurm

        check_slurm(launch.slurm)  # before anything is trained or submitted
    if launch.launcher == "local":
        from runner.launch.local import check_devices

        check_devices(launch.devices)


def _launch(
    jobs: list[Job],
    statuses: dict[str, str],
    where: dict[str, str],
    launch: Launch,
    out: Path,
    progress: bool,
    say: Callable[[str], None],
) -> dict[str, Path] | None:
    """Train the jobs with the chosen launcher; the failed runs -> their logs (None: submitted
    to SLURM and not waited for)."""
    failed: dict[str, Path] = {}
    if launch.launcher is None:
        _one_by_one(jobs, statuses, where, progress, say)
    elif launch.launcher == "local" and jobs:
        from runner.launch.local import run_local

        say(f"training {plural(len(jobs), 'run')}, {launch.jobs} at a time; logs in {out / 'logs'}")
        failed = run_local(jobs, launch.jobs, launch.devices, out, say)
    elif launch.launcher == "slurm" and jobs:
        from runner.launch import slurm

        for job in jobs:
            if statuses[job.run.name] == BUSY:
                say(f"{job.run.path}: being trained by {RunLock(job.run.path).holder()}")
        submitted = slurm.submit(
            [j for j in jobs if statuses[j.run.name] != BUSY], launch.slurm, out
        )
        for job, sjob in submitted:
            say(f"{job.run.path}: submitted as job {sjob.job_id}")
        if not launch.wait:
            say(
                "submitted; run the same command again once the jobs have ended to write the report"
            )
            return None
        failed = slurm.wait(submitted, say)

    return failed
