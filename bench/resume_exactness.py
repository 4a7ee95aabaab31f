"""How exact a stopped and resumed run is on this device, with and without --deterministic.

Run by hand (on a GPU: it is what the README's statement about CUDA rests on):

    python bench/resume_exactness.py --device cuda

For each setting it trains AlexNetTiny three times on a small synthetic set: once straight
through, once more straight through (what two identical runs differ by), and once stopped in
the second epoch and resumed. It prints the largest weight difference of each against the first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

# Read when CUDA starts: set before torch touches the GPU, for the deterministic runs.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch

from runner.data import write_synthetic
from runner.training.checkpoint import load_checkpoint
from runner.training.config import TrainConfig
from runner.training.train import train_run


def largest_difference(a: Path, b: Path) -> float:
    x, y = load_checkpoint(a / "last.pt").model_state, load_checkpoint(b / "last.pt").model_state
    return max(float((x[k].double() - y[k].double()).abs().max()) for k in x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--spec", default="architectures/tiny.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_synthetic(root / "data", seed=0, train_per_class=4, val_per_class=1)

        def config(out: str, deterministic: bool) -> TrainConfig:
            return TrainConfig(
                spec=args.spec, task="domain", data=str(data), epochs=3, batch_size=32,
                device=args.device, out=str(root / out), deterministic=deterministic,
                memory_format="channels_last" if args.device == "cuda" else "contiguous",
            )  # fmt: skip

        def stop(epoch: int, batch: int) -> None:
            if (epoch, batch) == (1, 1):
                raise KeyboardInterrupt

        for deterministic in (False, True):
            name = "deterministic" if deterministic else "default"
            first = train_run(config(f"{name}-a", deterministic), progress=False)
            second = train_run(config(f"{name}-b", deterministic), progress=False)
            with contextlib.suppress(KeyboardInterrupt):
                train_run(config(f"{name}-c", deterministic), progress=False, on_step=stop)
            stopped = next((root / f"{name}-c").iterdir())
            resumed = train_run(config(f"{name}-c", deterministic), resume=stopped, progress=False)
            print(
                f"{args.device} {name}: largest weight difference from the first run: "
                f"second run {largest_difference(first, second):.3g}, "
                f"stopped and resumed {largest_difference(first, resumed):.3g}",
                flush=True,
            )
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
