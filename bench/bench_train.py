"""Training throughput: the model alone in both memory formats, `archspec train`, the study's
DataLoader pipeline; with --study, the whole study's time projected from measured parts.

Run by hand (not a test), on an otherwise idle machine:

    python bench/bench_train.py                           # CPU: tiny and alexnet, 5 rounds
    python bench/bench_train.py --quick                   # 3 rounds, fewer steps: no verdicts
    python bench/bench_train.py --device cuda --study --quick    # the GPU check, ~3 minutes
    python bench/bench_train.py --study --quick --no-throughput  # CPU, under 3 minutes

Per spec (tiny.yaml at batch 128; alexnet.yaml at batch 32 on the CPU, 128 on a GPU), measured
in interleaved rounds (every measure once per round), each a median with its range:
  model-only       forward + cross-entropy + backward + Adam on a random batch already on the
                   device, in the runner's precision (bf16 autocast on CUDA, fp32 elsewhere), in
                   channels_last and in contiguous (NCHW) memory format
  archspec train   `archspec train` (train_run), one epoch over the benchmark set;
                   images/s from the end of its first step to the end of its last full batch
                   (warm-up, a smaller last batch, evaluation, checkpoints and figures left
                   out): the per-step speed of the training loop
  study pipeline   the study's input pipeline: ImageFolder, per-image decode, ToTensor, Normalize,
                   a DataLoader with 2 workers, feeding the same step in the better format
Every ratio is taken per round against the better model-only format of that round. A verdict
(target: archspec train >= 0.95 of model-only) is printed only when at least 5 rounds all fall
on the same side of it.

--study trains each of the study's five specs for a few epochs on a PACS-sized set of JPEGs (8,000
training and 2,000 validation images on a GPU, fewer on the CPU, scaled up linearly), times each
part of a run (decoding, fresh and from the decoded-image cache; training steps; evaluation;
checkpoints and bookkeeping between epochs; start-up and figures) and projects the study:
5 specs x 2 tasks x 100 epochs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import timing
import torch
from bench_decode import measure_decoding, print_table
from synthetic_set import image_paths, write_set
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

import runner.training.train as train_module
from archspec.spec import load_spec
from runner.data import PACS_MEAN, PACS_STD
from runner.training.config import TrainConfig
from runner.training.model import seeded_model

TARGET = 0.95  # archspec train per step, against the better model-only format
FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
STUDY_SPEC_NAMES = ("tiny", "alexnet", "large_kernel", "avg_pooling", "dilation")  # the study's
STUDY_SPECS = len(STUDY_SPEC_NAMES)
STUDY_TASKS = 2
STUDY_EPOCHS = 100
STUDY_TRAIN = 8000
STUDY_VAL = 2000


def precision_context(device: torch.device) -> contextlib.AbstractContextManager:
    """The runner's default precision: bf16 autocast on CUDA where supported, else fp32."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def precision_name(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


class Stepper:
    """One model and optimizer in one memory format; `rate(batches)` = images/s over them."""

    def __init__(self, spec, classes: int, device: torch.device, layout: torch.memory_format):
        self.device, self.layout = device, layout
        self.model = seeded_model(spec, classes, seed=0).to(device=device, memory_format=layout)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.layout)
        y = y.to(self.device, non_blocking=True)
        with precision_context(self.device):
            loss = self.loss(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def rate(self, batches: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int) -> float:
        self.step(*batches())  # one untimed step: this round's caches and clocks
        timing.synchronize(self.device)
        started, seen = time.perf_counter(), 0
        for _ in range(steps):
            x, y = batches()
            self.step(x, y)
            seen += len(y)
        timing.synchronize(self.device)  # once, at the end: no sync per step
        return seen / (time.perf_counter() - started)


@dataclass
class RunTimes:
    """What one `train_run` spent where, from its step hook and wrapped functions."""

    wall: float = 0.0
    output: str = ""  # what the run printed
    prepare: list[float] = None  # seconds in prepare_data (decoding or cache)
    evaluate: list[float] = None  # seconds per evaluate() call, in order
    step_times: dict[int, list[float]] = None  # epoch -> [time of each timed step]

    def __post_init__(self):
        self.prepare, self.evaluate, self.step_times = [], [], {}


def timed_train_run(config: TrainConfig, device: torch.device, last_step: int) -> RunTimes:
    """Run `train_run` quietly, timing its parts. The step hook synchronises the GPU only at
    the end of the first step and of step `last_step` of each epoch, so the loop runs as it
    would."""
    times = RunTimes()
    marks = {0, last_step}

    def on_step(epoch: int, batch: int) -> None:
        if batch in marks:
            timing.synchronize(device)
            times.step_times.setdefault(epoch, []).append(time.perf_counter())

    def timed(name: str, into: list[float]):
        original = getattr(train_module, name, None)
        if original is None:  # the loop was restructured: that part is left unseparated
            return contextlib.nullcontext()

        def wrapper(*args, **kwargs):
            timing.synchronize(device)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timing.synchronize(device)
                into.append(time.perf_counter() - started)

        return _patched(train_module, name, wrapper)

    printed = io.StringIO()
    with (
        timed("prepare_data", times.prepare),
        timed("evaluate", times.evaluate),
        contextlib.redirect_stdout(printed),
    ):
        started = time.perf_counter()
        train_module.train_run(config, progress=False, on_step=on_step)
        times.wall = time.perf_counter() - started
    times.output = printed.getvalue()
    return times


@contextlib.contextmanager
def _patched(module, name, value):
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def archspec_config(spec: str, data: Path, out: Path, batch: int, device: str, epochs: int):
    return TrainConfig(
        spec=spec,
        task="domain",
        data=str(data),
        epochs=epochs,
        batch_size=batch,
        device=device,
        out=str(out),
        name=f"run-{time.perf_counter_ns()}",
    )


def throughput(spec_path: str, args, device: torch.device, data: Path, work: Path) -> None:
    """The interleaved table for one spec."""
    spec = load_spec(spec_path)
    size = spec.input_shape[1]
    alexnet_on_cpu = Path(spec_path).stem == "alexnet" and device.type == "cpu"
    batch = args.batch_size or (32 if alexnet_on_cpu else 128)
    n_train = len(image_paths(data))
    # Timed up to the epoch's last full batch: a smaller last one does the fixed work of a step
    # (the optimizer's update) for fewer images, which model-only never does.
    full_batches = n_train // batch
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    y = torch.randint(0, 4, (batch,), generator=g).to(device)
    steppers = {name: Stepper(spec, 4, device, layout) for name, layout in FORMATS.items()}
    # The random batch already in each format: model-only is then the model's work alone.
    inputs = {name: (x.contiguous(memory_format=layout), y) for name, layout in FORMATS.items()}
    for name, stepper in steppers.items():
        stepper.rate(lambda name=name: inputs[name], 2)  # warm-up: cuDNN's kernels, allocator

    loader = DataLoader(
        datasets.ImageFolder(
            str(data / "train"),
            transform=transforms.Compose(
                [transforms.ToTensor(), transforms.Normalize(PACS_MEAN, PACS_STD)]
            ),
        ),
        batch_size=batch,
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
        pin_memory=device.type == "cuda",
    )
    stream = _forever(loader)
    first = {
        name: s.rate(lambda name=name: inputs[name], args.steps) for name, s in steppers.items()
    }
    best_format = max(first, key=first.get)
    study_stepper = steppers[best_format]

    def model_only(name: str) -> Callable[[], float]:
        return lambda: steppers[name].rate(lambda: inputs[name], args.steps)

    said: list[str] = []

    def archspec() -> float:
        config = archspec_config(spec_path, data, work / "runs", batch, str(device), 1)
        times = timed_train_run(config, device, full_batches - 1)
        if not said:
            said.extend(line for line in times.output.splitlines() if "memory format" in line)
        first, last = times.step_times[0]
        # From the end of the first step (warm-up, the epoch's start) to the end of the last
        # full one.
        return (full_batches - 1) * batch / (last - first)

    def study() -> float:
        return study_stepper.rate(lambda: next(stream), max(2, args.steps // 2))

    measures = {f"model-only, {name}": model_only(name) for name in FORMATS}
    measures["archspec train, per step"] = archspec
    measures["study pipeline (DataLoader)"] = study
    results = timing.interleave(args.rounds, measures)

    model_series = [results[f"model-only, {name}"] for name in FORMATS]
    print(
        f"\n{spec.name} ({spec_path}), batch {batch}, {device} ({precision_name(device)}), "
        f"{args.rounds} interleaved rounds, {n_train} training images of {size}x{size}"
    )
    print("| measure | images/s (median) | range | vs better model-only | verdict |")
    print("|---|---:|---:|---:|---|")
    for name, series in results.items():
        per_round = timing.ratios(series, model_series)
        ratio = f"{statistics.median(per_round):.2f} ({min(per_round):.2f}–{max(per_round):.2f})"
        verdict = timing.verdict(per_round, TARGET) if name.startswith("archspec") else ""
        print(f"| {name} | {series.median:,.1f} | {series.spread()} | {ratio} | {verdict} |")
    for line in said:
        print(f"archspec train said: {line.strip()}")


def _forever(loader):
    while True:
        yield from loader


def study(args, device: torch.device, data: Path, work: Path) -> None:
    """Train every shipped spec briefly on the PACS-sized set; project the whole study."""
    n_train, n_val = len(image_paths(data)), len(image_paths(data, "val"))
    batch = args.batch_size or 128  # the study's
    batches = math.ceil(n_train / batch)
    scale_val = STUDY_VAL / n_val
    decode = measure_decoding(data, device, rounds=args.rounds, jpeg=True)
    print_table(decode, n_train, "JPEG")
    # Training decodes on the CPU threads, also on a GPU machine (nvjpeg is shown for comparison).
    fresh_name = "fresh decode, CPU threads"
    fresh_rate = decode[fresh_name].median
    hit = decode["cache hit (s)"]
    # Measured on the training split; the study decodes both splits, 10,000 images.
    fresh_study = (STUDY_TRAIN + STUDY_VAL) / fresh_rate
    hit_study = hit.median * (STUDY_TRAIN + STUDY_VAL) / n_train
    print(
        f"\ndecoding {n_train} JPEGs: fresh {fresh_rate:,.0f} img/s ({fresh_name}; "
        f"{decode[fresh_name].spread(0)}), from the cache {hit.median:.3f} s ({hit.spread(3)})"
    )
    specs = [f"architectures/{name}.yaml" for name in STUDY_SPEC_NAMES]
    rows = []
    for spec_path in specs:
        config = archspec_config(spec_path, data, work / "runs", batch, str(device), args.epochs)
        times = timed_train_run(config, device, batches - 1)
        rows.append((spec_path, project(times, args.epochs, batch, n_train, scale_val)))
    print(
        f"\nThe study projected: {STUDY_SPECS} specs x {STUDY_TASKS} tasks x {STUDY_EPOCHS} epochs "
        f"of {STUDY_TRAIN:,} training and {STUDY_VAL:,} validation images, batch {batch}, "
        f"{device} ({precision_name(device)}); measured on {n_train} + {n_val} images over "
        f"{args.epochs} epochs, scaled linearly (checkpoints and start-up not scaled)"
    )
    print(
        "| spec | steps img/s | steps | evaluation | checkpoints, bookkeeping | start-up, "
        "figures | one run |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    per_run_total = 0.0
    for spec_path, p in rows:
        print(
            f"| {Path(spec_path).stem} | {p['rate']:,.{0 if p['rate'] >= 100 else 1}f} | "
            f"{_minutes(p['steps'])} | "
            f"{_minutes(p['evaluate'])} | {_minutes(p['between'])} | {p['fixed']:.1f} s | "
            f"{_minutes(p['run'])} |"
        )
        per_run_total += p["run"]
    runs = STUDY_TASKS * per_run_total * STUDY_SPECS / len(rows)
    runs_count = STUDY_SPECS * STUDY_TASKS
    with_cache = runs + fresh_study + (runs_count - 1) * hit_study
    without = runs + runs_count * fresh_study
    print(
        f"\ndecoding per run: fresh {fresh_study:.1f} s, from the cache {hit_study:.2f} s"
        f"\nwhole study: {_minutes(with_cache)} with the decoded-image cache "
        f"(decoding once), {_minutes(without)} decoding in every run"
    )


def project(times: RunTimes, epochs: int, batch: int, n_train: int, scale_val: float) -> dict:
    """One run's parts at the study's size and length, from one short measured run."""
    steady = [e for e in sorted(times.step_times) if e >= 1] or sorted(times.step_times)
    # Steps: from the end of each epoch's first step to the end of its last.
    per_epoch_rates = [
        (n_train - batch) / (times.step_times[e][-1] - times.step_times[e][0]) for e in steady
    ]
    rate = statistics.median(per_epoch_rates)
    step_seconds = batch / rate
    # Between epochs: from the last step of one to the first step of the next, less that step.
    gaps = [
        times.step_times[e + 1][0] - times.step_times[e][-1] - step_seconds
        for e in sorted(times.step_times)
        if e + 1 in times.step_times
    ]
    evaluations = times.evaluate[:epochs]  # the last call is the final report's
    evaluation = statistics.median(evaluations) if evaluations else 0.0
    between = max(0.0, statistics.median(gaps) - evaluation) if gaps else 0.0
    epoch_seconds = {e: t[-1] - t[0] + step_seconds for e, t in times.step_times.items()}
    # Start-up and finish: all the rest, less the last epoch's evaluation and checkpoints
    # (they come after its last step, so no gap holds them; the projection counts them).
    fixed = (
        times.wall
        - sum(times.prepare)
        - sum(epoch_seconds.values())
        - sum(gaps)
        - (times.evaluate[-1] if len(times.evaluate) > epochs else 0.0)
        - evaluation
        - between
    )
    steps = STUDY_EPOCHS * STUDY_TRAIN / rate
    evaluate = STUDY_EPOCHS * evaluation * scale_val
    between_total = STUDY_EPOCHS * between
    return {
        "rate": rate,
        "steps": steps,
        "evaluate": evaluate,
        "between": between_total,
        "fixed": fixed,
        "run": steps + evaluate + between_total + fixed,
    }


def _minutes(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--specs",
        default="architectures/tiny.yaml,architectures/alexnet.yaml",
        help="comma-separated spec files for the throughput tables",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batch-size", type=int, help="default: 128; alexnet 32 on the CPU")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; --quick 3)")
    parser.add_argument("--steps", type=int, help="model-only steps per measure")
    parser.add_argument("--train-images", type=int, help="benchmark set size")
    parser.add_argument(
        "--epochs", type=int, help="epochs per spec in --study (default 3; --quick on a CPU 2)"
    )
    parser.add_argument("--study", action="store_true", help="project the whole study's time")
    parser.add_argument("--no-throughput", action="store_true", help="only --study")
    parser.add_argument("--quick", action="store_true", help="3 rounds, fewer steps and images")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    cuda = device.type == "cuda"
    args.rounds = args.rounds or (3 if args.quick else 5)
    if args.steps is None:
        args.steps = (20 if args.quick else 50) if cuda else (3 if args.quick else 5)
    # --quick --study on a CPU: 2 epochs of 3 batches of 64 per spec, so that the five specs
    # finish in under 3 minutes on 2 cores; the projection then rests on a smaller batch than
    # the study's 128, which its table says.
    quick_cpu_study = args.quick and args.study and not cuda
    args.epochs = args.epochs or (2 if quick_cpu_study else 3)
    if quick_cpu_study and args.batch_size is None:
        args.batch_size = 64
    quick_images = 3 * args.batch_size if quick_cpu_study else 384
    n_train = args.train_images or (STUDY_TRAIN if cuda else (quick_images if args.quick else 512))
    n_val = max(28, n_train // 4)
    if n_train < 3 * (args.batch_size or 128):
        parser.error("--train-images must give at least 3 batches (default batch 128)")
    if cuda:
        torch.backends.cudnn.benchmark = True  # as the runner does on CUDA
    print(f"machine: {timing.machine(device)}; {args.rounds} rounds; load: {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        work = Path(tmp)
        # Decoded images go to this benchmark's own cache, never the user's.
        os.environ["ARCHSPEC_DECODED_CACHE"] = str(work / "decoded")
        started = time.perf_counter()
        data = write_set(work / "data", n_train, n_val, jpeg=True)
        print(
            f"wrote {len(image_paths(data))} + {len(image_paths(data, 'val'))} JPEGs in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if not args.no_throughput:
            for spec_path in args.specs.split(","):
                throughput(spec_path, args, device, data, work)
        if args.study:
            study(args, device, data, work)


def _load() -> str:
    with contextlib.suppress(OSError):
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return "unknown"


if __name__ == "__main__":
    main()
