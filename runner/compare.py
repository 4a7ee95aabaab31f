"""`archspec compare`: how alike two runs' learned filters are, layer by layer, and how far each
moved from its start; with a baseline so "different" can be told from "no more alike than any
two unrelated filters".

For each conv layer (filters flattened over input channels x kernel, all in float64):

- A vs B: mean cosine similarity of corresponding filters (filter i of A against filter i of B).
- non-corresponding: the same mean over every pair i != j, the level unrelated filters reach.
- A / B vs start: each run against its starting weights, re-drawn with `seeded_model` when both
  runs record the same seed (then both started from the same conv weights).
- changes alike: the same A-vs-B similarity of what training changed, W - W0, with its own
  non-corresponding baseline. A shared start makes trained filters alike by itself; this says
  whether the two tasks also moved their filters the same way (> 0), unrelated ways (about
  the baseline) or opposite ways (< 0).
- moved: mean over filters of ||W_i - W0_i|| / ||W0_i||.

The figures and the table go to `compare-<A>-vs-<B>/` beside A's run directory by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from archspec.errors import UserError
from archspec.io import write_text_atomic
from runner.checkpoint import Checkpoint, find_checkpoint, load_checkpoint
from runner.model import seeded_model
from runner.visualize.filters import DEFAULT_MAX, FilterFigure, check_limits, is_rgb_layer
from runner.visualize.layers import ConvLayer, conv_layers

COMPARISON_FILE = "comparison.md"
# How far apart two mean cosines must be to be called different. A mean over n filters of
# cosines between random d-dim vectors has a spread of about 1 / sqrt(n * d): under 0.01 for
# every layer of the study (d >= 27, n >= 48), so 0.05 is well clear of chance.
MARGIN = 0.05


def _flat(w: torch.Tensor) -> torch.Tensor:
    return w.detach().to(torch.float64).flatten(1)  # (out, in, kh, kw) -> (out, in*kh*kw)


def _check_shapes(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"filters of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")


def corresponding_cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(out,) cosine of filter i of `a` with filter i of `b`; 0 where either filter is all zero."""
    _check_shapes(a, b)
    return torch.nn.functional.cosine_similarity(_flat(a), _flat(b), dim=1, eps=1e-300)


def filter_similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean cosine similarity of corresponding filters: 1 identical, -1 negated, 0 orthogonal."""
    return float(corresponding_cosines(a, b).mean())


def cross_similarity(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Mean cosine similarity over all non-corresponding pairs (filter i of a, filter j of b,
    i != j): what unrelated filters of these two sets reach. None for a single filter."""
    _check_shapes(a, b)
    n = a.shape[0]
    if n < 2:
        return None
    unit_a = torch.nn.functional.normalize(_flat(a), dim=1, eps=1e-300)
    unit_b = torch.nn.functional.normalize(_flat(b), dim=1, eps=1e-300)
    cosines = unit_a @ unit_b.T  # (n, n): [i, j] = cos(a_i, b_j)
    return float((cosines.sum() - cosines.trace()) / (n * (n - 1)))


def relative_change(w: torch.Tensor, w0: torch.Tensor) -> float:
    """Mean over filters of ||w_i - w0_i|| / ||w0_i||; filters that start all zero are left out."""
    _check_shapes(w, w0)
    start = _flat(w0).norm(dim=1)
    moved = (_flat(w) - _flat(w0)).norm(dim=1)
    keep = start > 0
    return float((moved[keep] / start[keep]).mean()) if keep.any() else float("nan")


@dataclass(frozen=True)
class LayerComparison:
    layer: str  # Conv2d-4
    kernels: str  # 256x96 kernels 5x5
    similarity: float  # A vs B, corresponding filters
    baseline: float | None  # A vs B, non-corresponding pairs
    a_to_start: float | None = None  # None: no known start
    b_to_start: float | None = None
    changes: float | None = None  # A - start vs B - start; None: no shared start
    changes_baseline: float | None = None  # the same, non-corresponding pairs
    a_moved: float | None = None
    b_moved: float | None = None

    def verdict(self) -> str:
        """unrelated | start (alike only through the shared start) | apart | alike."""
        if self.similarity - (self.baseline or 0.0) < MARGIN:
            return "unrelated"
        if self.changes is None:
            return "alike"
        lift = self.changes - (self.changes_baseline or 0.0)
        if lift > MARGIN:
            return "alike"
        if lift < -MARGIN:
            return "apart"
        return "start"


def compare_layers(
    a: ConvLayer, b: ConvLayer, start_a: torch.Tensor | None, start_b: torch.Tensor | None
) -> LayerComparison:
    wa, wb = a.weight, b.weight
    shared = start_a is not None and start_b is not None and torch.equal(start_a, start_b)
    moved_a = None if start_a is None else wa - start_a
    moved_b = None if start_b is None else wb - start_b
    return LayerComparison(
        layer=a.name,
        kernels=a.describe(),
        similarity=filter_similarity(wa, wb),
        baseline=cross_similarity(wa, wb),
        a_to_start=None if start_a is None else filter_similarity(wa, start_a),
        b_to_start=None if start_b is None else filter_similarity(wb, start_b),
        changes=filter_similarity(moved_a, moved_b) if shared else None,
        changes_baseline=cross_similarity(moved_a, moved_b) if shared else None,
        a_moved=None if start_a is None else relative_change(wa, start_a),
        b_moved=None if start_b is None else relative_change(wb, start_b),
    )


@dataclass(frozen=True)
class RunSide:
    checkpoint: Path
    run: str  # the run directory's name (plus the checkpoint's stem if not best.pt)
    label: str  # what the table calls it: the task when the tasks differ, else the run
    task: str
    seed: int | None
    epoch: int

    def details(self) -> str:
        seed = "seed unknown" if self.seed is None else f"seed {self.seed}"
        return f"{self.task} task, {self.checkpoint.name} after epoch {self.epoch}, {seed}"

    def describe(self) -> str:
        return f"{self.checkpoint} ({self.details()})"


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class Comparison:
    spec_name: str
    a: RunSide
    b: RunSide
    start: str  # one sentence on the starting weights
    shared_start: bool
    layers: tuple[LayerComparison, ...]

    def table(self) -> str:
        a, b = self.a.label, self.b.label
        header = (
            "Layer",
            "Kernels",
            f"{a} vs {b}",
            "non-corresponding",
            f"{a} vs start",
            f"{b} vs start",
            "changes alike",
            "changes non-corresponding",
            f"{a} moved",
            f"{b} moved",
        )
        rows = [
            (
                r.layer,
                r.kernels,
                _f(r.similarity),
                _f(r.baseline),
                _f(r.a_to_start),
                _f(r.b_to_start),
                _f(r.changes),
                _f(r.changes_baseline),
                _f(r.a_moved),
                _f(r.b_moved),
            )
            for r in self.layers
        ]
        lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)

    def legend(self) -> str:
        a, b = self.a.label, self.b.label
        return (
            f"Mean cosine similarity of corresponding filters ({a} vs {b}: filter i of one "
            "against filter i of the other, each flattened over input channels x kernel); "
            "*non-corresponding*: the same mean over every pair i != j, the level unrelated "
            "filters reach; *vs start*: each run against its starting weights; *changes*: the "
            f"same two numbers for what training changed (W - W0 of {a} against W - W0 of {b}): "
            "a shared start alone makes filters alike, this says whether the two tasks also "
            "moved them the same way (a high non-corresponding value means all filters moved "
            "in one common direction); *moved*: mean ||W - W0|| / ||W0|| per filter. "
            "Empty: no known shared start."
        )

    def _sentence(self, r: LayerComparison) -> str:
        a, b = self.a.label, self.b.label
        head = f"{r.layer}: "
        if r.a_moved is not None and r.b_moved is not None and self.shared_start:
            head += (
                f"the {a} filters moved {r.a_moved:.2f} and the {b} filters {r.b_moved:.2f} "
                "from their shared start; "
            )
        base = (
            "" if r.baseline is None else f" against {r.baseline:.2f} for non-corresponding pairs"
        )
        head += f"corresponding filters are {r.similarity:.2f} alike{base}"
        changes = (
            ""
            if r.changes is None
            else f"what training changed is {r.changes:.2f} alike (against "
            f"{_f(r.changes_baseline)} for non-corresponding pairs)"
        )
        clause = {
            "unrelated": "no more alike than unrelated filters",
            "start": f"but {changes}: they are alike through their shared start, and what "
            "each task changed is no more alike filter for filter than between different filters",
            "apart": f"but {changes}: the two tasks moved them in opposite ways",
            "alike": f"and {changes}: the two tasks moved their filters the same way"
            if r.changes is not None
            else "more alike than unrelated filters",
        }[r.verdict()]
        return f"{head}, {clause}"

    def reading(self) -> str:
        """One paragraph in words, generated from the numbers."""
        sentences = [self._sentence(r) for r in self.layers]
        groups: dict[str, list[str]] = {}
        for r in self.layers:
            groups.setdefault(r.verdict(), []).append(r.layer)
        claims = []
        if groups.get("unrelated"):
            claims.append(
                f"supported for {', '.join(groups['unrelated'])} "
                "(no more alike than unrelated filters)"
            )
        partly = [r.layer for r in self.layers if r.verdict() in ("start", "apart")]
        if partly:
            claims.append(
                f"only partly for {', '.join(partly)} (the filters are alike through their "
                "shared start, but what each task changed differs)"
            )
        if groups.get("alike"):
            claims.append(
                f"contradicted for {', '.join(groups['alike'])} "
                "(the two tasks learned alike filters)"
            )
        verdict = (
            "On the study's conclusion that \"the kernels are much different for the two "
            f'sets": {"; ".join(claims)}.'
        )
        return ". ".join(sentences) + ". " + verdict + f" (Margin for 'alike': {MARGIN}.)"

    def markdown(
        self, figures: Sequence[FilterFigure] = (), relative_to: Path | None = None
    ) -> str:
        lines = [
            f"# Filters of {self.spec_name}: {self.a.label} vs {self.b.label}",
            "",
            f"- A, *{self.a.label}*: `{self.a.checkpoint}` ({self.a.details()})",
            f"- B, *{self.b.label}*: `{self.b.checkpoint}` ({self.b.details()})",
            f"- Start: {self.start}",
            "",
            self.table(),
            "",
            self.legend(),
            "",
            self.reading(),
        ]
        if figures:
            lines += ["", "## Figures", ""]
            for fig in figures:
                link = fig.path if relative_to is None else fig.path.relative_to(relative_to)
                what = "as RGB" if fig.kind == "rgb" else "kernels"
                lines += [f"![{fig.layer} {what}]({link.as_posix()})", ""]
        return "\n".join(lines).rstrip() + "\n"


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
        RunSide(c.path, name, label, c.task, _seed(c), c.epoch)
        for c, name, label in zip((a, b), names, labels, strict=True)
    )


def compare_checkpoints(a: Checkpoint, b: Checkpoint) -> Comparison:
    """Per-layer numbers for two checkpoints of the same spec (UserError otherwise)."""
    difference = spec_difference(a, b)
    if difference:
        raise UserError(f"{difference}: compare needs two runs of the same spec")
    side_a, side_b = _sides(a, b)
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
    return Comparison(a.spec.name, side_a, side_b, start, starts is not None, rows)


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


def compare_runs(
    run_a: Path,
    run_b: Path,
    out: Path | None = None,
    max_in: int = DEFAULT_MAX,
    max_out: int = DEFAULT_MAX,
) -> ComparisonResult:
    """Compare two runs (directories or checkpoint files) of one spec; write side-by-side
    filter figures and comparison.md into `out`."""
    from runner.visualize.pairs import plot_grid_pair, plot_rgb_pair

    check_limits(max_in, max_out)
    a, b = (load_checkpoint(find_checkpoint(Path(p))) for p in (run_a, run_b))
    comparison = compare_checkpoints(a, b)
    out = default_compare_dir(run_a, run_b) if out is None else Path(out)
    titles = tuple(f"{s.label}: {s.run}, epoch {s.epoch}" for s in (comparison.a, comparison.b))
    title = f"{comparison.spec_name}, {comparison.a.label} vs {comparison.b.label}"
    figures = []
    layers_a, layers_b = conv_layers(a), conv_layers(b)
    for la, lb in zip(layers_a, layers_b, strict=True):
        path = out / f"{la.file_stem}.png"
        figures.append(plot_grid_pair(la, lb, titles, title, path, max_in, max_out))
        if la is layers_a[0] and is_rgb_layer(la):
            path = out / f"{la.file_stem}-rgb.png"
            figures.append(plot_rgb_pair(la, lb, titles, title, path))
    markdown = out / COMPARISON_FILE
    write_text_atomic(markdown, comparison.markdown(figures, relative_to=out))
    return ComparisonResult(comparison, out, markdown, figures)
