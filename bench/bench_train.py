"""Training throughput: the model alone, `archspec train`, and the study's original input pipeline.

Run by hand (not a test), on an otherwise idle machine:

    python bench/bench_train.py                  # tiny.yaml, batch 64, ~3 minutes on 2 cores
    python bench/bench_train.py --quick          # fewer steps
    python bench/bench_train.py --spec architectures/alexnet.yaml --device cuda --batch-size 128

Three numbers in one run, on the same images (the synthetic set at the spec's input size):
  model-only    forward + cross-entropy + backward + Adam on random tensors already on the device
  archspec      `archspec train` for two epochs: uint8 images in memory, normalised per batch;
                the 2nd epoch's images/s from metrics.csv (the training loop: no decoding, eval)
  study         per-image decode, ToTensor, Normalize through a DataLoader (ImageFolder), as the
                study's code did, feeding the same model
The target: archspec >= 0.9 x model-only.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from archspec.spec import load_spec
from runner.config import TrainConfig
from runner.data import PACS_MEAN, PACS_STD, write_synthetic
from runner.device import pick_device
from runner.model import seeded_model
from runner.train import train_run


def step_rate(model, optimizer, batches, device, steps: int, warmup: int) -> float:
    """Images per second over `steps` training steps, after `warmup` untimed ones."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    seen, elapsed = 0, 0.0
    iterator = iter(batches)
    for i in range(warmup + steps):
        started = time.perf_counter()
        x, y = next(iterator)
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            elapsed += time.perf_counter() - started
            seen += len(y)
    return seen / elapsed


def forever(loader):
    while True:
        yield from loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="architectures/tiny.yaml")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="4 steps, a smaller dataset")
    args = parser.parse_args()
    steps, per_class = (4, 5) if args.quick else (args.steps, 16)
    device = pick_device(args.device)
    spec = load_spec(args.spec)
    size = spec.input_shape[1]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_synthetic(data, seed=0, train_per_class=per_class, val_per_class=1, size=size)
        n_train = 28 * per_class

        # 1. Model only: random normalised tensors, already on the device.
        model = seeded_model(spec, 4, seed=0).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(args.batch_size, 3, size, size, device=device)
        y = torch.randint(0, 4, (args.batch_size,), device=device)
        model_only = step_rate(model, optimizer, forever([(x, y)]), device, steps, warmup=2)

        # 2. archspec train, two epochs over the same images; the second one is timed (warm).
        config = TrainConfig(
            spec=args.spec,
            task="domain",
            data=str(data),
            epochs=2,
            batch_size=args.batch_size,
            device=args.device,
            out=str(Path(tmp) / "runs"),
        )
        started = time.perf_counter()
        run = train_run(config, progress=False)
        wall = time.perf_counter() - started
        with (run / "metrics.csv").open() as f:
            archspec_rate = float(list(csv.DictReader(f))[-1]["images_per_second"])

        # 3. The study's pipeline: decode every image every epoch, in DataLoader workers.
        folder = datasets.ImageFolder(
            str(data / "train"),  # domain folders as classes; images found recursively
            transform=transforms.Compose(
                [transforms.ToTensor(), transforms.Normalize(PACS_MEAN, PACS_STD)]
            ),
        )
        loader = DataLoader(
            folder, batch_size=args.batch_size, shuffle=True, num_workers=2, persistent_workers=True
        )
        model = seeded_model(spec, len(folder.classes), seed=0).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        study = step_rate(model, optimizer, forever(loader), device, steps, warmup=2)

    rows = [
        ("model-only (random tensors)", model_only, 1.0),
        ("archspec train (training loop)", archspec_rate, archspec_rate / model_only),
        ("study pipeline (DataLoader, per-image decode)", study, study / model_only),
    ]
    print(
        f"\n{spec.name}, batch {args.batch_size}, {device}, {torch.get_num_threads()} threads, "
        f"{n_train} training images of {size}x{size}"
    )
    print("| pipeline | images/s | vs model-only |\n|---|---:|---:|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:.1f} | {ratio:.2f} |")
    print(
        f"\narchspec train wall time for 2 epochs, decoding and evaluation included: "
        f"{wall:.1f} s ({2 * n_train / wall:.1f} training images/s)"
    )


if __name__ == "__main__":
    main()
