"""Where a training step's time goes beyond the model's own work, measured in interleaved rounds.

    python bench/step_anatomy.py --device cuda                 # tiny and alexnet, batch 128
    python bench/step_anatomy.py --specs architectures/tiny.yaml --batch-size 32

Per spec, in the runner's precision (bf16 autocast on CUDA, fp32 elsewhere) and in
--memory-format (default channels_last on CUDA, contiguous on a CPU), steps per second of:
  model-only        runner.training.step.train_step on a normalised batch already on the device, in
                    its memory format: the model's work alone
  + batch making    as the training loop does it (training.batches.BatchMaker): the batch's rows
                    picked from the uint8 set on the device, normalised and put in the memory
                    format
  + torchvision's normalize   the way the runner made batches before: torchvision's to_dtype
                    and normalize (four passes over the pixels in float32, mean and std copied
                    to the device in every call: on CUDA each copy makes the CPU wait for the
                    GPU), then the memory format
Each ratio is per round against model-only. A CUDA run also counts the waits of one step
of each kind, with torch's sync debug mode.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import timing
import torch
from torchvision.transforms.v2 import functional as F

from archspec.spec import load_spec
from runner.data import PACS_MEAN, PACS_STD
from runner.data.images import normalize
from runner.training.augment import Augmenter
from runner.training.batches import BatchMaker
from runner.training.device import resolve_precision, torch_memory_format
from runner.training.model import seeded_model
from runner.training.step import train_step

SET_SIZE = 1024  # at least: uint8 images resident on the device, as the runner keeps them


def torchvision_normalize(batch: torch.Tensor) -> torch.Tensor:
    x = F.to_dtype(batch, torch.float32, scale=True)
    return F.normalize(x, list(PACS_MEAN), list(PACS_STD))


def measure(
    spec_path: str, device: torch.device, batch: int, steps: int, rounds: int, layout_name: str
) -> None:
    spec = load_spec(spec_path)
    precision = resolve_precision("auto", device)
    layout = torch_memory_format(layout_name)
    g = torch.Generator().manual_seed(0)
    set_size = max(SET_SIZE, 4 * batch)
    images = torch.randint(0, 256, (set_size, *spec.input_shape), dtype=torch.uint8, generator=g)
    images = images.to(device)
    labels = torch.randint(0, 7, (set_size,), generator=g).to(device)
    model = seeded_model(spec, 7, 0).to(device=device, memory_format=layout).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ready = normalize(images[:batch], PACS_MEAN, PACS_STD).contiguous(memory_format=layout)
    order = torch.randperm(set_size, generator=g).to(device)

    def model_only(_: int) -> None:
        train_step(model, optimizer, None, ready, labels[:batch], precision)

    def made_with(make: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[int], None]:
        def step(i: int) -> None:
            start = (i * batch) % (set_size - batch)
            index = order[start : start + batch]
            train_step(model, optimizer, None, make(index), labels[index], precision)

        return step

    def as_before(index: torch.Tensor) -> torch.Tensor:
        return torchvision_normalize(images[index]).contiguous(memory_format=layout)

    batches = BatchMaker(images, device, PACS_MEAN, PACS_STD, layout, Augmenter("none", 3, 0))
    kinds = {
        "model-only": model_only,
        "+ batch making": made_with(batches),
        "+ torchvision's normalize": made_with(as_before),
    }

    def rate(step: Callable[[int], None]) -> Callable[[], float]:
        def run() -> float:
            step(0)  # untimed: this round's caches
            timing.synchronize(device)
            started = time.perf_counter()
            for i in range(steps):
                step(i)
            timing.synchronize(device)
            return steps * batch / (time.perf_counter() - started)

        return run

    for step in kinds.values():  # warm-up: cuDNN's choices, the allocator
        for i in range(3):
            step(i)
    results = timing.interleave(rounds, {name: rate(step) for name, step in kinds.items()})
    print(
        f"\n{spec.name} ({spec_path}), batch {batch}, {device} ({precision}, {layout_name}), "
        f"{rounds} interleaved rounds of {steps} steps"
    )
    print("| measure | images/s (median) | range | vs model-only: median (range) | waits a step |")
    print("|---|---:|---:|---:|---:|")
    for name, series in results.items():
        per_round = timing.ratios(series, [results["model-only"]])
        ratio = f"{statistics.median(per_round):.3f} ({min(per_round):.3f}–{max(per_round):.3f})"
        waits = count_waits(kinds[name]) if device.type == "cuda" else "–"
        print(f"| {name} | {series.median:,.0f} | {series.spread(0)} | {ratio} | {waits} |")


def count_waits(step: Callable[[int], None]) -> int:
    """How many times one step makes the CPU wait for the GPU (torch's sync debug mode)."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step(0)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("called a synchronizing CUDA operation" in str(w.message) for w in caught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="architectures/tiny.yaml,architectures/alexnet.yaml")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, help="steps per measure (default: 30 CUDA, 3 CPU)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-format", choices=("channels_last", "contiguous"))
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the runner does on CUDA
    steps = args.steps or (30 if device.type == "cuda" else 3)
    print(f"machine: {timing.machine(device)}")
    for spec_path in args.specs.split(","):
        layout = args.memory_format or ("channels_last" if device.type == "cuda" else "contiguous")
        measure(spec_path, device, args.batch_size, steps, args.rounds, layout)


if __name__ == "__main__":
    main()
