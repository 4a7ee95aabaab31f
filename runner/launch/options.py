"""A sweep's launcher settings, checked before anything is trained or submitted."""

from __future__ import annotations

from dataclasses import dataclass, field

from archspec.errors import UserError

LAUNCHERS = ("local", "slurm")


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    time_min: int = 60 * 24  # a job's time limit; the study's 100 epochs of AlexNet fit in hours
    gpus_per_job: int = 1
    cpus_per_job: int | None = None
    sbatch: dict[str, str] = field(default_factory=dict)  # extra `#SBATCH --key=value` lines
    cluster: str | None = None  # submitit's: None = SLURM ("local" runs jobs here, for tests)


@dataclass(frozen=True)
class Launch:
    launcher: str | None = None  # None: one run after another in this process
    jobs: int = 1  # local: runs at once
    devices: tuple[str, ...] = ()  # local: one per process, in turn; () = every GPU, else cpu
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    wait: bool = True  # slurm: False returns once the jobs are submitted

    def __post_init__(self) -> None:
        if self.launcher not in (None, *LAUNCHERS):
            raise UserError(f"--launcher {self.launcher}: choose one of {', '.join(LAUNCHERS)}")
        if self.jobs < 1:
            raise UserError(f"--jobs must be at least 1, got {self.jobs}")
        if not self.wait and self.launcher != "slurm":
            raise UserError("--no-wait needs --launcher slurm: local runs end with this command")
        if self.slurm.gpus_per_job < 0 or self.slurm.time_min < 1:
            raise UserError("--gpus-per-job must be 0 or more and --time at least 1 minute")


def parse_minutes(text: str) -> int:
    """`90`, `1:30:00`, `2-00:00:00` (days-hours:minutes:seconds, as sbatch) -> minutes."""
    days, _, clock = text.rpartition("-")
    try:
        parts = [int(p) for p in clock.split(":")]
        if len(parts) == 1:
            minutes = parts[0]
        elif len(parts) == 2:
            minutes = parts[0] * 60 + parts[1]
        elif len(parts) == 3:
            minutes = parts[0] * 60 + parts[1] + (parts[2] > 0)
        else:
            raise ValueError
        minutes += int(days or 0) * 24 * 60
    except ValueError:
        raise UserError(
            f"--time {text}: give minutes (90) or hours:minutes:seconds (1:30:00)"
        ) from None
    if minutes < 1:
        raise UserError(f"--time {text}: a job needs at least 1 minute")
    return minutes


def parse_sbatch(items: list[str]) -> dict[str, str]:
    """`--sbatch account=vision --sbatch qos=high` -> {"account": "vision", "qos": "high"}."""
    options = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not eq or not key:
            raise UserError(f"--sbatch {item}: give KEY=VALUE, e.g. --sbatch account=vision")
        options[key] = value
    return options
