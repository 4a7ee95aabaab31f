"""Two runs on disk compared: their checkpoints loaded and checked to be of one spec, the
starting weights re-drawn from the seed, side-by-side figures and comparison.md written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from archspec.errors import UserError
from archspec.io import write_text_atomic
from runner.compare.activations import Probe, cka_matrices
from runner.compare.comparison import Comparison, RunSide
from runner.compare.layer_comparison import compare_layers
from runner.compare.measured import measured_layers, pooled_names
from runner.compare.representation import CkaResult
from runner.data.validation import validation_images
from runner.training.checkpoint import Checkpoint, find_checkpoint, load_checkpoint
from runner.training.model import seeded_model
from runner.visualize.filters import DEFAULT_MAX, FilterFigure, check_limits, is_rgb_layer
from runner.visualize.layers import conv_layers

COMPARISON_FILE = "comparison.md"
CKA_FILE = "cka.png"


def spec_difference(a: Checkpoint, b: Checkpoint) -> str | None:
    """None if both checkpoints hold the same spec data, else where they first differ."""
    da, db = a.spec.to_data(), b.spec.to_data()
    if da == db:
        return None
    if da["name"] != db["name"]:
        return f"{a.path} is a run of {da['name']} and {b.path} a run of {db['name']}"
    for key in ("input_shape", "description"):
        if da.get(key) != db.get(key):
            return f"both are runs of {da['name']} but their {key} differs"
    for section in dict.fromkeys([*da["sections"], *db["sections"]]):
        la, lb = da["sections"].get(section, []), db["sections"].get(section, [])
        for index in range(max(len(la), len(lb))):
            if la[index : index + 1] != lb[index : index + 1]:
                return f"both are runs of {da['name']} but their specs differ at {section}[{index}]"
    return f"both are runs of {da['name']} but their specs differ"


def start_weights(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    """Conv layer name -> the weight the run started from, re-drawn from its seed."""
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's random stream
        model = seeded_model(ckpt.spec, len(ckpt.labels), int(ckpt.config["seed"]))
    start = Checkpoint(ckpt.path, ckpt.spec, ckpt.task, ckpt.labels, model.state_dict(), {}, 0, {})
    return {layer.name: layer.weight for layer in conv_layers(start)}


def _seed(ckpt: Checkpoint) -> int | None:
    seed = ckpt.config.get("seed") if isinstance(ckpt.config, dict) else None
    return seed if isinstance(seed, int) else None


def _holdout(ckpt: Checkpoint) -> str | None:
    held = ckpt.config.get("holdout_domain") if isinstance(ckpt.config, dict) else None
    return held if isinstance(held, str) else None


def run_name(checkpoint: Path) -> str:
    name = checkpoint.parent.name
    return name if checkpoint.name == "best.pt" else f"{name}-{checkpoint.stem}"


def _sides(a: Checkpoint, b: Checkpoint) -> tuple[RunSide, RunSide]:
    names = run_name(a.path), run_name(b.path)
    if a.task != b.task:
        labels = (a.task, b.task)
    elif names[0] != names[1]:
        labels = names
    else:
        labels = ("A", "B")
    return tuple(  # type: ignore[return-value]
        RunSide(c.path, name, label, c.task, _seed(c), c.epoch, c.spec.name, _holdout(c))
        for c, name, label in zip((a, b), names, labels, strict=True)
    )


def compare_checkpoints(a: Checkpoint, b: Checkpoint, cka: CkaResult | None = None) -> Comparison:
    """Per-layer numbers for two checkpoints: filter by filter when both are of one spec (the
    filters of different specs do not correspond), and the CKA measured by `measure_cka`."""
    side_a, side_b = _sides(a, b)
    difference = spec_difference(a, b)
    if difference:
        spec_name = f"{a.spec.name} vs {b.spec.name}" if a.spec.name != b.spec.name else a.spec.name
        start = f"{difference}, so only their representations are compared"
        return Comparison(spec_name, side_a, side_b, start, False, (), cka, same_spec=False)
    layers_a, layers_b = conv_layers(a), conv_layers(b)
    if side_a.seed is None or side_b.seed is None:
        starts = None
        start = "a checkpoint does not record its seed, so the starting weights are unknown"
    elif side_a.seed != side_b.seed:
        starts = None
        start = (
            f"the runs started from different seeds ({side_a.seed} and {side_b.seed}), so they "
            "have no shared start and the start columns are left empty"
        )
    else:
        starts = (start_weights(a), start_weights(b))
        start = f"both runs started from the same weights (seed {side_a.seed}), re-drawn here"
    rows = tuple(
        compare_layers(
            la,
            lb,
            None if starts is None else starts[0][la.name],
            None if starts is None else starts[1][lb.name],
        )
        for la, lb in zip(layers_a, layers_b, strict=True)
    )
    return Comparison(a.spec.name, side_a, side_b, start, starts is not None, rows, cka)


def _probe(ckpt: Checkpoint, model: torch.nn.Module | None = None) -> Probe:
    """The run's model, fed as it was trained: its input channels and its normalisation."""
    from runner.training.recipe import run_normalization

    channels = int(ckpt.spec.input_shape[0])
    mean, std = run_normalization(ckpt.config, channels)
    return Probe(
        model or ckpt.build_model(),
        measured_layers(ckpt.spec, len(ckpt.labels)),
        tuple(ckpt.spec.input_shape[1:]),
        channels,
        tuple(mean),
        tuple(std),
    )


def measure_cka(
    a: Checkpoint,
    b: Checkpoint,
    *,
    baseline: Checkpoint | None = None,
    images: int | None = None,
    data: Path | None = None,
    device: torch.device | None = None,
) -> CkaResult:
    """Linear CKA between every conv and attention layer of A and of B (measured.py) on A's
    validation images (or `data`'s),
    and of each layer of A against the same layer of the baseline: the run `baseline` of A's
    spec when given, else A's own starting weights re-drawn from its seed."""
    if baseline is not None:
        difference = spec_difference(a, baseline)
        if difference:
            raise UserError(f"{difference}: --baseline needs another run of A's spec")
        seed = "unknown" if _seed(baseline) is None else _seed(baseline)
        what = f"{run_name(baseline.path)} ({baseline.task} task, seed {seed})"
        base: Probe | None = _probe(baseline)
    elif _seed(a) is not None:
        with torch.random.fork_rng(devices=[]):
            start = seeded_model(a.spec, len(a.labels), _seed(a)).eval()
        what, base = f"its own start (seed {_seed(a)})", _probe(a, start)
    else:
        what, base = "no baseline (A records no seed; give --baseline RUN)", None
    chosen = validation_images(a.config if isinstance(a.config, dict) else {}, images, data)
    probe_a, probe_b = _probe(a), _probe(b)
    matrices = cka_matrices(probe_a, [probe_b] + ([base] if base else []), chosen, device=device)
    base_diagonal = None
    if base is not None:
        base_diagonal = tuple(matrices[1][i][i] for i in range(len(probe_a.layers)))
    return CkaResult(
        tuple(c.name for c in probe_a.layers),
        tuple(c.name for c in probe_b.layers),
        tuple(tuple(row) for row in matrices[0]),
        chosen.what,
        what,
        base_diagonal,
        pooled=pooled_names([*probe_a.layers, *probe_b.layers]),
    )


def default_compare_dir(run_a: Path, run_b: Path) -> Path:
    """`compare-<A>-vs-<B>/` in the folder holding A's run directory."""
    paths = [find_checkpoint(Path(p)) for p in (run_a, run_b)]
    return paths[0].parent.parent / f"compare-{run_name(paths[0])}-vs-{run_name(paths[1])}"


@dataclass(frozen=True)
class ComparisonResult:
    comparison: Comparison
    out: Path
    markdown: Path  # comparison.md
    figures: list[FilterFigure]
    heatmap: Path  # cka.png


def compare_runs(
    run_a: Path,
    run_b: Path,
    out: Path | None = None,
    max_in: int = DEFAULT_MAX,
    max_out: int = DEFAULT_MAX,
    *,
    images: int | None = None,
    data: Path | None = None,
    baseline: Path | None = None,
    device: torch.device | None = None,
) -> ComparisonResult:
    """Compare two runs (directories or checkpoint files); write side-by-side filter figures
    (runs of one spec), the CKA heatmap cka.png and comparison.md into `out`."""
    from runner.compare.heatmap import plot_cka
    from runner.visualize.pairs import plot_grid_pair, plot_rgb_pair

    check_limits(max_in, max_out)
    a, b = (load_checkpoint(find_checkpoint(Path(p))) for p in (run_a, run_b))
    for run, checkpoint in ((run_a, a), (run_b, b)):
        if not measured_layers(checkpoint.spec, len(checkpoint.labels)):
            raise UserError(
                f"{run} ({checkpoint.spec.name}) has no conv or attention layer: compare looks "
                "at conv filters and at what conv and attention layers compute, so both runs "
                "need at least one"
            )
    base = None if baseline is None else load_checkpoint(find_checkpoint(Path(baseline)))
    cka = measure_cka(a, b, baseline=base, images=images, data=data, device=device)
    comparison = compare_checkpoints(a, b, cka)
    out = default_compare_dir(run_a, run_b) if out is None else Path(out)
    titles = tuple(f"{s.label}: {s.run}, epoch {s.epoch}" for s in (comparison.a, comparison.b))
    title = f"{comparison.spec_name}, {comparison.a.label} vs {comparison.b.label}"
    figures = []
    if comparison.layers:  # filters correspond only within one spec
        layers_a, layers_b = conv_layers(a), conv_layers(b)
        for la, lb in zip(layers_a, layers_b, strict=True):
            path = out / f"{la.file_stem}.png"
            figures.append(plot_grid_pair(la, lb, titles, title, path, max_in, max_out))
            if la is layers_a[0] and is_rgb_layer(la):
                path = out / f"{la.file_stem}-rgb.png"
                figures.append(plot_rgb_pair(la, lb, titles, title, path))
    heatmap = plot_cka(
        cka, comparison.a.label, comparison.b.label, f"{title}: linear CKA", out / CKA_FILE
    )
    markdown = out / COMPARISON_FILE
    write_text_atomic(markdown, comparison.markdown(figures, relative_to=out))
    return ComparisonResult(comparison, out, markdown, figures, heatmap)
