"""`--launcher slurm`: each run one SLURM job, submitted through submitit.

A job trains its run under the run directory's lock, exactly as a local run; a job that is
killed (time limit, preemption, scancel) leaves last.pt behind and the same sweep, run again,
resumes it. submitit keeps each job's script and logs in `<out>/slurm/`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from runner.launch.job import Job, train_one
from runner.launch.options import SlurmOptions


def import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise UserError(
            "--launcher slurm needs submitit, which is not installed: pip install 'archspec[slurm]'"
        ) from None
    return submitit


def check_slurm(options: SlurmOptions) -> None:
    """Before anything is submitted: submitit is installed and, for a real cluster, SLURM's
    `sbatch` is on the PATH. Without it submitit would quietly run every job on this machine."""
    import_submitit()
    if options.cluster is None and shutil.which("sbatch") is None:
        raise UserError(
            "--launcher slurm: SLURM's sbatch is not on this machine's PATH; run the sweep on the "
            "cluster's login node, or use --launcher local here"
        )


def slurm_job(job: Job) -> str:
    """What a SLURM job runs (picklable: a module-level function of plain data)."""
    return train_one(job, wait=True, progress=False)


def submit(jobs: Sequence[Job], options: SlurmOptions, out: Path) -> list[tuple[Job, Any]]:
    submitit = import_submitit()
    executor = submitit.AutoExecutor(folder=out / "slurm", cluster=options.cluster or "slurm")
    parameters: dict[str, Any] = {
        "name": "archspec-sweep",
        "timeout_min": options.time_min,
        "gpus_per_node": options.gpus_per_job,
        "tasks_per_node": 1,
        "nodes": 1,
        "slurm_additional_parameters": dict(options.sbatch),
    }
    if options.partition:
        parameters["slurm_partition"] = options.partition
    if options.cpus_per_job:
        parameters["cpus_per_task"] = options.cpus_per_job
    executor.update_parameters(**parameters)
    return [(job, executor.submit(slurm_job, job)) for job in jobs]


def log_of(submitted: Any) -> Path:
    return Path(submitted.paths.stderr)


def wait(
    submitted: Sequence[tuple[Job, Any]], say: Callable[[str], None] = print
) -> dict[str, Path]:
    """Wait for every job; the failed runs -> their log files (the others go on)."""
    failed: dict[str, Path] = {}
    for job, sjob in submitted:
        try:
            status = sjob.result()
        except Exception as error:  # submitit's FailedJobError / UncompletedJobError
            failed[job.run.name] = log_of(sjob)
            reason = str(error).strip().splitlines()
            say(f"{job.run.path}: job {sjob.job_id} failed ({reason[0] if reason else error}); "
                f"log {log_of(sjob)}")  # fmt: skip
        else:
            say(f"{job.run.path}: job {sjob.job_id} done ({status})")
    return failed
