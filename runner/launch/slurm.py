"""`--launcher slurm`: each run one SLURM job, submitted through submitit.

A job trains its run under the run directory's lock, exactly as a local run; a job that is
killed (time limit, preemption, scancel) leaves last.pt behind and the same sweep, run again,
resumes it. submitit keeps each job's script and logs in `<out>/slurm/`.
"""

from __future__ import annotations

import shutil
import signal
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


class SlurmRun:
    """What a SLURM job runs: one run, trained as a local one (picklable: plain data).

    submitit binds the job's USR2 (it asks SLURM for `--signal=USR2@90`) and, on it, calls
    `checkpoint` and requeues the job when the callable has one. While training, the run's own
    handler takes the signal first, so that last.pt is written at the end of the batch; it then
    hands the signal on to submitit's handler, which requeues. The requeued job finds last.pt and
    resumes the run where it stopped.
    """

    def __call__(self, job: Job) -> str:
        try:
            return train_one(job, wait=True, progress=False)
        except KeyboardInterrupt as stopped:
            name = getattr(stopped, "signal_name", None)  # runner.training.stop.Preempted
            if name:
                handler = signal.getsignal(signal.Signals[name])
                if callable(handler):
                    handler(signal.Signals[name], None)  # submitit's: requeue and exit
            raise

    def checkpoint(self, job: Job) -> Any:
        """The job to requeue: the same run; its last.pt makes it resume."""
        return import_submitit().helpers.DelayedSubmission(self, job)


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
    return [(job, executor.submit(SlurmRun(), job)) for job in jobs]


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
