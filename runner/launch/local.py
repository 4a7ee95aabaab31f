"""`--launcher local --jobs N`: N runs at once on this machine, one process and one device each.

A worker process takes one device for its whole life. A GPU is given as the only visible one
(CUDA_VISIBLE_DEVICES, set before CUDA starts), so the run records device `cuda` and resumes on
whichever GPU a later sweep gives it. On the CPU the processes share the cores: each gets its
share of torch's threads, so N processes do not each start a thread per core.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from archspec.errors import UserError
from runner.launch.job import Job, train_one

_device = "cpu"  # this worker's device, set once by _start_worker


def check_devices(devices: Sequence[str]) -> tuple[str, ...]:
    """Every named device exists here (UserError naming the missing one otherwise)."""
    import torch

    from runner.training.device import pick_device

    for name in devices:
        if name.startswith("cuda"):
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            index = name.partition(":")[2]
            if not index.isdigit() or int(index) >= count:
                have = ", ".join(f"cuda:{i}" for i in range(count)) or "none"
                raise UserError(
                    f"--devices {name}: no such device here (CUDA devices: {have}); name them "
                    "as cuda:0,cuda:1,... or use cpu"
                )
        else:
            pick_device(name)
    return tuple(devices)


def default_devices(jobs: int) -> tuple[str, ...]:
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return tuple(f"cuda:{i % count}" for i in range(jobs)) if count else ("cpu",)


def _start_worker(devices: multiprocessing.Queue, threads: int) -> None:
    global _device
    _device = devices.get()
    if _device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = _device.partition(":")[2]
        _device = "cuda"
    import torch

    torch.set_num_threads(threads)


def _work(job: Job, log: Path) -> str:
    """Train one run in this worker, its output going to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        try:
            job = replace(job, config=replace(job.config, device=_device))
            print(f"training {job.run.path} on {_device}", flush=True)
            return train_one(job, wait=True, progress=False)
        except BaseException:
            traceback.print_exc()
            raise


def log_path(out: Path, job: Job) -> Path:
    return out / "logs" / f"{job.run.name}.log"


def run_local(
    jobs: Sequence[Job],
    workers: int,
    devices: Sequence[str],
    out: Path,
    say: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Train `jobs` in `workers` processes; the failed runs -> their log files."""
    devices = devices or default_devices(workers)
    cpu_share = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # no forked copy of torch's threads
    queue = context.Queue()
    for i in range(workers):
        queue.put(devices[i % len(devices)])
    failed: dict[str, Path] = {}
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(queue, cpu_share)
    ) as pool:
        futures = {pool.submit(_work, job, log_path(out, job)): job for job in jobs}
        for future in as_completed(futures):
            job, log = futures[future], log_path(out, futures[future])
            error = future.exception()
            if error is None:
                say(f"{job.run.path}: done ({future.result()}); log {log}")
            else:
                failed[job.run.name] = log
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                say(f"{job.run.path}: failed ({reason}); log {log}")
    return failed
