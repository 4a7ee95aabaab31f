"""A model compiled from a shipped archspec spec against torchvision's model of the same name:
training steps on the CPU, side by side in one run, and the spec tooling's cost per name.

    python bench/bench_zoo.py                                  # resnet18 squeezenet1_1, 5 rounds
    python bench/bench_zoo.py --models resnet18 --rounds 3 --steps 1    # a smoke check
    python bench/bench_zoo.py --models resnet50 mobilenet_v3_large efficientnet_b0

Per name (a name without a shipped spec, or without a torchvision model, is skipped and said so):
  parameters       both models' parameter counts, built with the same class count (1000);
                   a warning where they differ (the timing is then of two different networks)
  training         forward + cross-entropy + backward (+ an SGD step, unless --step backward) on
                   one random batch of the spec's input shape, train mode, fp32, contiguous
                   memory format; a few untimed warm-up steps each, then interleaved rounds
                   (archspec, torchvision, archspec, torchvision, ...; the order swapped every
                   round) so that the machine's drift hits both alike. Images/s is a median
                   over rounds with its range; the ratio archspec / torchvision is taken per
                   round (both measured in that round's conditions), its median and min-max,
                   by wall clock and by CPU time.
  tooling          archspec.validate_spec(name) (load, compose, check, infer every shape) and
                   archspec.summarize(name) rendered as `archspec build NAME` prints it, in this
                   process after one untimed call: the median of --calls calls; beside them
                   archspec.build(name) (weights initialised) and torchvision's constructor.

The tables are printed and written to bench/results/<machine>-<date>/bench_zoo.md and .json
(--out to choose the folder, --no-save to write nothing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import timing
import torch
import torchvision
from torch import nn

import archspec
from archspec.catalog import shipped_specs

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ("resnet18", "squeezenet1_1")
NUM_CLASSES = 1000
SOURCES = ("archspec", "torchvision")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def skip_reason(name: str) -> str | None:
    """Why `name` cannot be compared, or None."""
    if name not in shipped_specs():
        return f"archspec ships no spec named {name!r} (shipped: {', '.join(shipped_specs())})"
    if name not in torchvision.models.list_models(module=torchvision.models):
        return f"torchvision {torchvision.__version__} has no classification model {name!r}"
    return None


def build_pair(name: str) -> dict[str, nn.Module]:
    """Both models with fresh weights, from the same seed."""
    torch.manual_seed(0)
    compiled = archspec.build(name, num_classes=NUM_CLASSES)
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None, num_classes=NUM_CLASSES)
    return {"archspec": compiled, "torchvision": reference}


class Trainer:
    """One model (train mode) and its optimizer, stepping on a fixed batch."""

    def __init__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, sgd: bool):
        self.model = model.train()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if sgd else None
        self.images, self.labels = images, labels
        self.cpu_rates: list[float] = []  # by CPU time, one per rate() call

    def step(self) -> None:
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
        else:
            self.model.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(self.model(self.images), self.labels)
        loss.backward()
        if self.optimizer is not None:
            self.optimizer.step()

    def rate(self, steps: int) -> float:
        """Images per second over `steps` steps, by wall clock; by CPU time (less hurt by other
        processes taking the cores) into `cpu_rates`."""
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.step()
        images = steps * len(self.images)
        self.cpu_rates.append(images / (time.process_time() - cpu))
        return images / (time.perf_counter() - started)


def alternating(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, timing.Series]:
    """timing.interleave, with the order reversed every round (A B, B A, ...): each model goes
    first as often as second."""
    results = {name: timing.Series(name) for name in measures}
    order = list(measures)
    for round_ in range(rounds):
        for name, series in timing.interleave(1, {n: measures[n] for n in order}).items():
            results[name].values.extend(series.values)
        progress(
            f"  round {round_ + 1}/{rounds}: "
            + ", ".join(f"{n} {results[n].values[-1]:.2f} img/s" for n in measures)
        )
        order.reverse()
    return results


def training(name: str, models: dict[str, nn.Module], args) -> dict:
    shape = archspec.load_spec(name).input_shape
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(args.batch_size, *shape, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (args.batch_size,), generator=generator)
    trainers = {
        source: Trainer(model, images, labels, sgd=args.step == "sgd")
        for source, model in models.items()
    }
    for trainer in trainers.values():
        for _ in range(args.warmup):
            trainer.step()
    series = alternating(
        args.rounds,
        {source: (lambda t=trainer: t.rate(args.steps)) for source, trainer in trainers.items()},
    )
    per_round = timing.ratios(series["archspec"], [series["torchvision"]])
    cpu = {source: timing.Series(source, trainer.cpu_rates) for source, trainer in trainers.items()}
    cpu_per_round = timing.ratios(cpu["archspec"], [cpu["torchvision"]])
    return {
        "input_shape": list(shape),
        "images_per_second": {s: series[s].values for s in SOURCES},
        "median_images_per_second": {s: series[s].median for s in SOURCES},
        "ratio_per_round": per_round,
        "ratio_median": statistics.median(per_round),
        "ratio_min": min(per_round),
        "ratio_max": max(per_round),
        "cpu_images_per_second": {s: cpu[s].values for s in SOURCES},
        "cpu_ratio_per_round": cpu_per_round,
        "cpu_ratio_median": statistics.median(cpu_per_round),
        "cpu_ratio_min": min(cpu_per_round),
        "cpu_ratio_max": max(cpu_per_round),
    }


def median_seconds(call: Callable[[], object], calls: int) -> float:
    call()  # untimed: imports, caches
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def tooling(name: str, calls: int) -> dict[str, float]:
    """Median seconds of the spec tooling's work on `name`, in this process."""
    return {
        "validate_spec": median_seconds(lambda: archspec.validate_spec(name), calls),
        "summarize": median_seconds(
            lambda: str(archspec.summarize(name, num_classes=NUM_CLASSES)), calls
        ),
        "archspec.build": median_seconds(
            lambda: archspec.build(name, num_classes=NUM_CLASSES), calls
        ),
        "torchvision constructor": median_seconds(
            lambda: torchvision.models.get_model(name, weights=None, num_classes=NUM_CLASSES),
            calls,
        ),
    }


def report(results: dict, skipped: dict[str, str], args, heading: str) -> str:
    """The result as markdown."""
    step = "forward + backward + SGD step" if args.step == "sgd" else "forward + backward"
    lines = [
        f"# bench/bench_zoo.py, {results['date']}",
        "",
        heading,
        "",
        f"`{results['command']}`",
        "",
        f"Training: {step}, batch {args.batch_size}, fp32, train mode, {args.warmup} untimed "
        f"warm-up step{'s' if args.warmup != 1 else ''}, {args.rounds} interleaved "
        f"rounds (order swapped each round) of {args.steps} step{'s' if args.steps > 1 else ''}; "
        "ratio archspec / torchvision taken per round, by wall clock and by CPU time (steadier "
        "when other processes share the cores).",
        "",
        "| model | input | parameters (archspec / torchvision) | archspec img/s (range) | "
        "torchvision img/s (range) | ratio, median (min–max) | ratio by CPU time |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["models"].items():
        t = r["training"]
        rates = t["images_per_second"]
        cells = [
            f"{statistics.median(rates[s]):.2f} ({min(rates[s]):.2f}–{max(rates[s]):.2f})"
            for s in SOURCES
        ]
        params = r["parameters"]
        same = "" if params["archspec"] == params["torchvision"] else " **differ**"
        lines.append(
            f"| {name} | {'x'.join(map(str, t['input_shape']))} | "
            f"{params['archspec']:,} / {params['torchvision']:,}{same} | {cells[0]} | {cells[1]} | "
            f"{t['ratio_median']:.3f} ({t['ratio_min']:.3f}–{t['ratio_max']:.3f}) | "
            f"{t['cpu_ratio_median']:.3f} ({t['cpu_ratio_min']:.3f}–{t['cpu_ratio_max']:.3f}) |"
        )
    lines += [
        "",
        f"Tooling, in this process, median of {args.calls} calls after one untimed call:",
        "",
        "| model | validate_spec | summarize (rendered) | archspec.build | "
        "torchvision constructor |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results["models"].items():
        t = r["tooling"]
        lines.append(
            f"| {name} | {t['validate_spec'] * 1e3:.1f} ms | {t['summarize'] * 1e3:.1f} ms | "
            f"{t['archspec.build'] * 1e3:.1f} ms | {t['torchvision constructor'] * 1e3:.1f} ms |"
        )
    for name, why in skipped.items():
        lines += ["", f"Skipped {name}: {why}."]
    for warning in results["warnings"]:
        lines += ["", f"Warning: {warning}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), metavar="NAME")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=2, help="training steps per measure")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    parser.add_argument(
        "--step", choices=("sgd", "backward"), default="sgd", help="with or without SGD's update"
    )
    parser.add_argument("--threads", type=int, default=cores(), help="default: all cores")
    parser.add_argument("--calls", type=int, default=5, help="calls per tooling median")
    parser.add_argument("--out", type=Path, help="default: bench/results/<machine>-<date>/")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    date = datetime.date.today().isoformat()
    heading = (
        f"Machine: {timing.machine(torch.device('cpu'))}, torchvision {torchvision.__version__}, "
        f"{torch.get_num_threads()} threads; load {', '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    print(heading)
    results: dict = {
        "date": date,
        "command": "python bench/bench_zoo.py " + " ".join(sys.argv[1:]),
        "machine": heading,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "models": {},
        "skipped": {},
        "warnings": [],
    }
    for name in args.models:
        why = skip_reason(name)
        if why:
            print(f"skipping {name}: {why}")
            results["skipped"][name] = why
            continue
        progress(f"{name}: building both models ...")
        models = build_pair(name)
        params = {source: parameter_count(model) for source, model in models.items()}
        if params["archspec"] != params["torchvision"]:
            warning = (
                f"{name}: archspec's model has {params['archspec']:,} parameters, torchvision's "
                f"{params['torchvision']:,}: the two are not the same network"
            )
            print(f"WARNING: {warning}")
            results["warnings"].append(warning)
        progress(f"{name}: training, {args.warmup} warm-up steps, {args.rounds} rounds ...")
        train = training(name, models, args)
        del models
        progress(f"{name}: tooling, {args.calls} calls each ...")
        results["models"][name] = {
            "parameters": params,
            "training": train,
            "tooling": tooling(name, args.calls),
        }
    markdown = report(results, results["skipped"], args, heading)
    print()
    print(markdown)
    if not args.no_save:
        out = args.out or REPO / "bench" / "results" / f"cpu{cores()}-{date}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench_zoo.md").write_text(markdown)
        (out / "bench_zoo.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out / 'bench_zoo.md'} and bench_zoo.json")


if __name__ == "__main__":
    main()
