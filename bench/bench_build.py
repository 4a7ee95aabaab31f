"""How long archspec takes to turn a spec into a model, and whether the model trains as fast as
the same network written by hand. Run by hand, never as a test:

    python bench/bench_build.py            # about 3 minutes on 2 CPU cores
    python bench/bench_build.py --quick    # well under a minute, for a smoke check

Measured on this machine, in one run:
  (a) `import torch` alone, in a fresh interpreter (what every command pays first);
  (b) load + validate + infer architectures/alexnet.yaml (no weights allocated);
  (c) build the module (weight initialisation), beside (c') constructing the hand-written
      AlexNet, which pays the same initialisation: (b) + (c) - (c') is archspec's own cost;
  (d) everything beyond `import torch`: importing archspec, (b) and (c);
  (e) training-step throughput (forward, cross-entropy, backward, Adam step) of the compiled
      AlexNet against the hand-written one in tests/archspec/hand_written.py, measured in
      interleaved rounds (A B B A ...) so that drift of the machine hits both alike; the
      ratio is given by wall clock and by CPU time (steadier on a machine shared with others).
  (f) `archspec build` itself (printout and table, no weights allocated) on alexnet.yaml and
      resnet18.yaml: peak memory of the process against `python -c "import torch"`, and wall
      time beyond `import torch` (targets: within 50 MB, under 0.3 s).
(a)-(d) are medians over fresh interpreters (cold, as a user's `archspec build` runs); (b) and
(c) are also given warm (repeated in this process).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "architectures" / "alexnet.yaml"
HAND_WRITTEN = REPO / "tests" / "archspec" / "hand_written.py"
NUM_CLASSES = 4  # --task domain

# Runs in a fresh interpreter: the phases of `archspec build` up to the printout.
COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from archspec.compiler import compile_spec
from archspec.shapes import resolve
from archspec.spec import load_spec
t2 = time.perf_counter()
resolved = resolve(load_spec(sys.argv[1]), int(sys.argv[2]))
t3 = time.perf_counter()
model = compile_spec(resolved)
t4 = time.perf_counter()
print(json.dumps({"import_torch": t1 - t0, "import_archspec": t2 - t1, "infer": t3 - t2,
                  "build": t4 - t3, "beyond_torch": t4 - t1}))
"""


# Runs in a fresh interpreter: `import torch` alone, or then `archspec build SPEC`; reports the
# process's peak resident memory and the seconds after `import torch`.
BUILD_CHILD = r"""
import contextlib, io, json, resource, sys, time
import torch
start, cpu = time.perf_counter(), time.process_time()
if len(sys.argv) > 1:
    from archspec_cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", sys.argv[1], "--num-classes", "1000"])
    assert code == 0
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_kb / 1024}))
"""
BUILD_SPECS = ("alexnet.yaml", "zoo/resnet18.yaml")


def build_command_cost(runs: int) -> dict[str, dict[str, float]]:
    """Median peak memory (MB) and seconds beyond `import torch` of `archspec build` per spec,
    and of `import torch` alone ("torch")."""
    results: dict[str, dict[str, float]] = {}
    for name in ("torch", *BUILD_SPECS):
        args = [] if name == "torch" else [str(REPO / "architectures" / name)]
        samples: dict[str, list[float]] = {"seconds": [], "cpu_seconds": [], "peak_mb": []}
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", BUILD_CHILD, *args],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for key, value in json.loads(out).items():
                samples[key].append(value)
        results[name] = {key: statistics.median(values) for key, values in samples.items()}
    return results


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cold_phases(runs: int) -> dict[str, float]:
    """Median seconds of each phase over `runs` fresh interpreters."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD_CHILD, str(SPEC), str(NUM_CLASSES)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for phase, seconds in json.loads(out).items():
            samples.setdefault(phase, []).append(seconds)
    return {phase: statistics.median(values) for phase, values in samples.items()}


def warm_phases(runs: int) -> dict[str, float]:
    """Median seconds of inference and of building, repeated in this (warmed-up) process, and
    of constructing the hand-written AlexNet: the weight initialisation any PyTorch code pays."""
    from archspec.compiler import compile_spec
    from archspec.shapes import resolve
    from archspec.spec import load_spec

    resolved = resolve(load_spec(SPEC), NUM_CLASSES)  # warm-up: first call, caches
    hand_class = type(hand_written_alexnet())
    samples: dict[str, list[float]] = {"infer": [], "build": [], "hand_build": []}
    for _ in range(runs):
        start = time.perf_counter()
        resolved = resolve(load_spec(SPEC), NUM_CLASSES)
        samples["infer"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model = compile_spec(resolved)
        samples["build"].append(time.perf_counter() - start)
        del model
        start = time.perf_counter()
        model = hand_class(num_classes=NUM_CLASSES)
        samples["hand_build"].append(time.perf_counter() - start)
        del model
    return {phase: statistics.median(values) for phase, values in samples.items()}


def hand_written_alexnet() -> nn.Module:
    spec = importlib.util.spec_from_file_location("hand_written", HAND_WRITTEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AlexNet(num_classes=NUM_CLASSES)


class Trainer:
    """One model with its own Adam, stepping on a fixed batch."""

    def __init__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor):
        self.model = model.train()
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        self.images, self.labels = images, labels

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(self.images), self.labels)
        loss.backward()
        self.optimizer.step()

    def timed(self, steps: int) -> tuple[float, float]:
        """Images per second over `steps` training steps, by wall clock and by CPU time (the
        latter is less hurt by other processes taking the cores)."""
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.step()
        images = steps * len(self.images)
        return images / (time.perf_counter() - wall), images / (time.process_time() - cpu)


def throughput(
    batch: int, warmup: int, rounds: int, steps: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) images/s of each model, per round; the two models alternate going first."""
    from archspec.compiler import build_model

    torch.manual_seed(0)
    hand = hand_written_alexnet()
    torch.manual_seed(0)
    compiled = build_model(SPEC, num_classes=NUM_CLASSES)
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, 227, 227, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (batch,), generator=generator)
    trainers = {
        "hand-written": Trainer(hand, images, labels),
        "compiled": Trainer(compiled, images, labels),
    }
    for _ in range(warmup):
        for trainer in trainers.values():
            trainer.step()
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in trainers}
    order = list(trainers)
    for _ in range(rounds):
        for name in order:  # A B, then B A: each model goes first as often as second
            rates[name].append(trainers[name].timed(steps))
            progress(f"  {name}: {rates[name][-1][0]:.2f} img/s")
        order.reverse()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and a smaller batch")
    parser.add_argument(
        "--build-only", action="store_true", help="only (f): `archspec build`'s memory and time"
    )
    args = parser.parse_args()
    progress("timing `archspec build` in fresh interpreters ...")
    build_runs = 3 if args.quick else 7
    build = build_command_cost(build_runs)
    build_rows = [
        (f"(f) `python -c \"import torch\"`: peak memory (median of {build_runs})",
         f"{build['torch']['peak_mb']:.0f} MB", ""),
    ]  # fmt: skip
    for name in BUILD_SPECS:
        extra = build[name]["peak_mb"] - build["torch"]["peak_mb"]
        seconds = build[name]["seconds"]
        build_rows += [
            (f"(f) `archspec build {name} --num-classes 1000`: peak memory beyond `import torch`",
             f"{extra:.0f} MB", f"< 50 MB {'(met)' if extra < 50 else '(MISSED)'}"),
            (f"(f) `archspec build {name}`: wall time beyond `import torch`",
             f"{seconds:.3f} s", f"< 0.3 s {'(met)' if seconds < 0.3 else '(MISSED)'}"),
            (f"(f) `archspec build {name}`: CPU time beyond `import torch` (steadier when the "
             "machine is shared)", f"{build[name]['cpu_seconds']:.3f} s", ""),
        ]  # fmt: skip
    if args.build_only:
        print("| measure | result | target |")
        print("|---|---|---|")
        for row in build_rows:
            print("| " + " | ".join(row) + " |")
        return
    if args.quick:
        cold_runs, warm_runs, batch, warmup, rounds, steps = 3, 3, 8, 2, 2, 1
    else:
        cold_runs, warm_runs, batch, warmup, rounds, steps = 7, 5, 32, 2, 8, 1

    progress(f"timing {cold_runs} fresh interpreters, then {warm_runs} warm builds ...")
    cold = cold_phases(cold_runs)
    warm = warm_phases(warm_runs)
    progress(f"training both models: {warmup} warm-up steps, {rounds} interleaved rounds ...")
    rates = throughput(batch, warmup, rounds, steps)
    hand_rate = statistics.median(wall for wall, _ in rates["hand-written"])
    compiled_rate = statistics.median(wall for wall, _ in rates["compiled"])
    per_round = [
        (c[0] / h[0], c[1] / h[1])
        for c, h in zip(rates["compiled"], rates["hand-written"], strict=True)
    ]
    ratio = statistics.median(wall for wall, _ in per_round)
    cpu_ratio = statistics.median(cpu for _, cpu in per_round)
    wall_range = f"{min(w for w, _ in per_round):.3f}-{max(w for w, _ in per_round):.3f}"

    infer_compile = cold["infer"] + cold["build"]
    overhead = warm["infer"] + warm["build"] - warm["hand_build"]
    print(
        f"archspec build benchmark: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'--quick' if args.quick else 'full run'}"
    )
    met = {True: "(met)", False: "(MISSED)"}
    rows = [
        (f"(a) `import torch`, fresh interpreter (median of {cold_runs})",
         f"{cold['import_torch']:.3f} s", ""),
        ("importing archspec (pydantic schemas, registry)",
         f"{cold['import_archspec']:.3f} s", ""),
        ("(b) load + validate + infer alexnet.yaml, cold / warm",
         f"{cold['infer'] * 1e3:.1f} ms / {warm['infer'] * 1e3:.1f} ms", ""),
        ("(c) build the module (weight init), cold / warm",
         f"{cold['build']:.3f} s / {warm['build']:.3f} s", ""),
        ("(c') for scale: hand-written `AlexNet()`, same weight init, warm",
         f"{warm['hand_build']:.3f} s", ""),
        ("(b) + (c), cold", f"{infer_compile:.3f} s", f"< 0.5 s {met[infer_compile < 0.5]}"),
        ("(b) + (c) - (c'): archspec's own cost, warm", f"{overhead * 1e3:.1f} ms", ""),
        ("(d) total beyond `import torch`, cold", f"{cold['beyond_torch']:.3f} s", ""),
        (f"(e) training, hand-written AlexNet (batch {batch}, median of {rounds} rounds "
         f"x {steps} step{'s' if steps > 1 else ''})", f"{hand_rate:.2f} img/s", ""),
        ("(e) training, compiled alexnet.yaml", f"{compiled_rate:.2f} img/s", ""),
        (f"(e) ratio compiled / hand-written, wall clock (median per round; range "
         f"{wall_range})", f"{ratio:.3f}", f"1.00 +/- 0.03 {met[abs(ratio - 1) <= 0.03]}"),
        ("(e) ratio compiled / hand-written, CPU time (median per round)",
         f"{cpu_ratio:.3f}", f"1.00 +/- 0.03 {met[abs(cpu_ratio - 1) <= 0.03]}"),
        *build_rows,
    ]  # fmt: skip
    print()
    print("| measure | result | target |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
