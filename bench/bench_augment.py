"""What the `domainbed` augmentation costs a training epoch, against no augmentation.

Run by hand (not a test), on an otherwise idle machine:

    python bench/bench_augment.py                     # tiny.yaml, batch 128, 2 threads, CPU
    python bench/bench_augment.py --device cuda --threads 16

In one run, on the same uint8 batches (random pixels at the spec's input size; augmentation
cost does not depend on the content) and the same model (AlexNetTiny by default):
  step       forward + cross-entropy + backward + Adam, normalisation included
  normalise  what a step without augmentation does to the batch: uint8 -> normalised float
  augment    what a step with `domainbed` does instead: per-image crop, flip, colour,
             grayscale and normalisation, in one pass of the augmenter
The share is (augment - normalise) / step: what `--augment domainbed` adds to an epoch's
training time (evaluation, never augmented, is left out, so the true share of an epoch is lower).
Target: at most 10% for AlexNetTiny on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from archspec.spec import load_spec
from runner.data import normalize
from runner.training.augment import Augmenter
from runner.training.device import pick_device
from runner.training.model import seeded_model

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, device: torch.device, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "architectures" / "tiny.yaml")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    spec = load_spec(args.spec)
    channels, height, width = spec.input_shape
    model = seeded_model(spec, 7, seed=0).to(device)
    optimizer = torch.optim.Adam(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (args.batch_size, channels, height, width), generator=generator)
    batch = batch.to(torch.uint8).to(device)
    labels = torch.randint(0, 7, (args.batch_size,), generator=generator).to(device)
    augmenter = Augmenter("domainbed", channels, seed=0)

    def step() -> None:
        loss = loss_fn(model(normalize(batch)), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    mean, std = (0.5,) * channels, (0.25,) * channels

    def augment() -> None:
        augmenter(batch, mean, std)

    def plain() -> None:
        normalize(batch, mean, std)

    for fn in (step, augment, plain):  # warm-up: allocator, kernels
        timed(fn, device, 1)
    step_s = statistics.median(timed(step, device, args.repeats))
    augment_s = statistics.median(timed(augment, device, args.repeats))
    plain_s = statistics.median(timed(plain, device, args.repeats))
    added = augment_s - plain_s
    print(
        f"{spec.name}, batch {args.batch_size} of {channels}x{height}x{width}, {device}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"  training step (no augmentation):    {step_s * 1000:8.1f} ms")
    print(f"  normalise the batch (no augment.):  {plain_s * 1000:8.1f} ms")
    print(f"  domainbed + normalise:              {augment_s * 1000:8.1f} ms")
    print(f"  added to a training step:           {added / step_s:8.1%}   (target <= 10%)")


if __name__ == "__main__":
    main()
