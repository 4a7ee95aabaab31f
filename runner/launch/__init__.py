"""How a sweep's runs are spread: in this process, over local processes (one device each), or as
SLURM jobs through submitit. Every launcher trains a run the same way (job.py, under the run
directory's lock), so the run directories stay the single source of truth."""

from runner.launch.job import BUSY, Job, train_one
from runner.launch.lock import RunLock, lock_path
from runner.launch.options import LAUNCHERS, Launch, SlurmOptions

__all__ = [
    "BUSY",
    "LAUNCHERS",
    "Job",
    "Launch",
    "RunLock",
    "SlurmOptions",
    "lock_path",
    "train_one",
]
