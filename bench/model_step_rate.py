"""Model-only training steps per second, with runner.training.step (the loop's own step function).

    python bench/model_step_rate.py --spec architectures/alexnet.yaml --device cuda --batch-size 128

Random uint8-range images already on the device, normalised once: what is left is forward,
cross-entropy, backward and Adam, in each memory format, in the run's precision. Compare with
the images_per_second column of a run's metrics.csv (same spec, device, precision, batch).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from archspec.spec import load_spec
from runner.training.device import pick_device, resolve_precision, torch_memory_format
from runner.training.model import seeded_model
from runner.training.step import time_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="architectures/tiny.yaml")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    device = pick_device(args.device)
    precision = resolve_precision(args.precision, device)
    spec = load_spec(args.spec)
    x = torch.randn(args.batch_size, *spec.input_shape, device=device)
    y = torch.randint(0, 7, (args.batch_size,), device=device)
    runs = {}
    for name in ("channels_last", "contiguous"):
        layout = torch_memory_format(name)
        model = seeded_model(spec, 7, 0).to(device=device, memory_format=layout)
        runs[name] = (
            model,
            torch.optim.Adam(model.parameters()),
            x.contiguous(memory_format=layout),
        )
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds):  # interleaved, so a busy machine slows both alike
        for name, (model, optimizer, batch) in runs.items():
            warmup = 3 if round_ == 0 else 0
            seconds = time_steps(
                model, optimizer, batch, y, precision, steps=args.steps, warmup=warmup
            )
            rates[name].append(args.batch_size / seconds)
    for name, values in rates.items():
        print(
            f"{spec.name} {device.type} {precision} {name} batch {args.batch_size}: "
            f"{statistics.median(values):,.0f} img/s "
            f"(min {min(values):,.0f}, max {max(values):,.0f})"
        )


if __name__ == "__main__":
    main()
