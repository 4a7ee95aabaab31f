"""How long the spec tooling takes, as an editor or a pre-commit hook runs it: each command in a
fresh interpreter, wall and CPU time, median of several runs (the machine may be shared, so the
CPU time says what the command itself costs).

    python bench/bench_tooling.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted(str(p.relative_to(REPO)) for p in (REPO / "architectures").glob("*.yaml"))
COMMANDS = {
    "python -c pass (the interpreter alone)": ["-c", "pass"],
    "archspec validate architectures/*.yaml": ["-m", "archspec", "validate", *SPECS],
    "archspec expand architectures/zoo/resnet18.yaml": [
        "-m",
        "archspec",
        "expand",
        "architectures/zoo/resnet18.yaml",
    ],
    "archspec diff alexnet.yaml dilation.yaml": [
        "-m",
        "archspec",
        "diff",
        "architectures/alexnet.yaml",
        "architectures/dilation.yaml",
    ],
    "python -c 'import torch' (for comparison)": ["-c", "import torch"],
}


def run_once(args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter running `args`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):  # diff exits 1 when the specs differ
        raise SystemExit(f"{args} failed:\n{result.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command (default: 9)")
    args = parser.parse_args()
    print(f"{len(SPECS)} specs; median of {args.runs} runs; load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':48} {'wall (s)':>9} {'min':>7} {'CPU (s)':>8}")
    for label, command in COMMANDS.items():
        runs = [run_once(command) for _ in range(args.runs)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{label:48} {statistics.median(walls):9.3f} {min(walls):7.3f} "
            f"{statistics.median(cpus):8.3f}"
        )


if __name__ == "__main__":
    main()
