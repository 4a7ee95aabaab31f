"""Comparing two runs' filters: the numbers on hand-built weights, the report, the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from archspec.cli import main
from archspec.errors import UserError
from archspec.spec import spec_from_text
from runner.checkpoint import load_checkpoint
from runner.compare import (
    Comparison,
    LayerComparison,
    RunSide,
    compare_checkpoints,
    compare_runs,
    cross_similarity,
    filter_similarity,
    relative_change,
)
from runner.model import seeded_model
from tests.runner.helpers import write_checkpoint

TINY = """
name: {name}
input_shape: [3, 12, 12]
sections:
  features:
    - Conv2d: {{out_channels: 4, kernel_size: 3}}
    - ReLU
    - Conv2d: {{out_channels: 5, kernel_size: 3}}
  classifier:
    - Linear: {{out_features: num_classes}}
"""
TASK_LABELS = {"category": ("a", "b", "c"), "domain": ("p", "q")}


def filters(*rows: list[float]) -> torch.Tensor:
    """Filters given as flat rows -> a (out, 1, 1, k) conv weight."""
    return torch.tensor(rows, dtype=torch.float32)[:, None, None, :]


def save_run(
    root: Path,
    name: str,
    task: str,
    *,
    seed: int | None = 0,
    spec_name: str = "Tiny",
    change=None,
) -> Path:
    """A run directory whose best.pt holds the seeded start, changed in place by `change(state)`;
    `seed=None` starts from seed 0 but records no seed."""
    spec = spec_from_text(TINY.format(name=spec_name))
    labels = TASK_LABELS[task]
    model = seeded_model(spec, len(labels), 0 if seed is None else seed)
    if change is not None:
        with torch.no_grad():
            change(model.state_dict())  # its tensors share the model's storage
    config = {} if seed is None else {"seed": seed}
    write_checkpoint(
        root / name / "best.pt", spec, labels, task=task, model=model, config=config, epoch=7
    )
    return root / name


# ---- the numbers on hand-built weights ----------------------------------------------------------


def test_filter_similarity_identical_negated_orthogonal_scaled():
    a = filters([1.0, 0.0, 2.0], [0.0, 3.0, 0.0])
    assert filter_similarity(a, a) == pytest.approx(1.0)
    assert filter_similarity(a, -a) == pytest.approx(-1.0)
    orthogonal = filters([-2.0, 5.0, 1.0], [7.0, 0.0, -1.0])  # each filter dot its partner = 0
    assert filter_similarity(a, orthogonal) == pytest.approx(0.0, abs=1e-12)
    assert filter_similarity(a, 3 * a) == pytest.approx(1.0)
    half = filters([1.0, 0.0, 2.0], [0.0, -3.0, 0.0])  # first identical, second negated
    assert filter_similarity(a, half) == pytest.approx(0.0, abs=1e-12)


def test_similarity_flattens_over_input_channels_and_kernel():
    a = torch.zeros(2, 3, 2, 2)
    a[0, 0, 0, 0] = 1.0
    a[1, 2, 1, 1] = 1.0
    b = a.clone()
    b[0, 1, 1, 0] = 1.0  # filter 0 of b = e1 + e2: cos with e1 is 1/sqrt(2)
    assert filter_similarity(a, b) == pytest.approx((1 / math.sqrt(2) + 1.0) / 2)


def test_an_all_zero_filter_counts_as_unlike_anything():
    a = filters([1.0, 0.0], [0.0, 1.0])
    b = filters([0.0, 0.0], [0.0, 1.0])
    assert filter_similarity(a, b) == pytest.approx(0.5)


def test_non_corresponding_baseline_averages_every_pair_i_not_j():
    a = filters([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    assert cross_similarity(a, a) == pytest.approx(0.0)
    rolled = a.roll(1, dims=0)  # filter i of b is filter i-1 of a
    assert filter_similarity(a, rolled) == pytest.approx(0.0)
    assert cross_similarity(a, rolled) == pytest.approx(3 / 6)  # 3 of the 6 off pairs match
    assert cross_similarity(filters([1.0, 2.0]), filters([1.0, 2.0])) is None


def test_relative_change_is_the_mean_per_filter_distance_over_the_start_norm():
    start = filters([3.0, 4.0], [0.0, 2.0])
    assert relative_change(start, start) == pytest.approx(0.0)
    assert relative_change(1.5 * start, start) == pytest.approx(0.5)
    moved = filters([3.0, 4.0], [0.0, 4.0])  # filter 0 unchanged, filter 1 moved by its norm
    assert relative_change(moved, start) == pytest.approx(0.5)
    assert relative_change(-start, start) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("similarity", "baseline", "changes", "verdict"),
    [
        (0.03, 0.01, 0.90, "unrelated"),  # no more alike than unrelated filters
        (0.50, 0.00, 0.02, "start"),  # alike, but the changes are unrelated: the shared start
        (0.90, 0.00, 0.50, "alike"),  # the tasks moved the filters the same way
        (0.60, 0.00, -0.40, "apart"),  # the tasks moved the filters opposite ways
        (0.70, 0.00, None, "alike"),  # no shared start: alike beyond unrelated filters
    ],
)
def test_verdict(similarity, baseline, changes, verdict):
    row = LayerComparison("Conv2d-1", "", similarity, baseline, changes=changes)
    assert row.verdict() == verdict


def test_the_changes_baseline_is_subtracted_before_calling_changes_alike():
    row = LayerComparison("Conv2d-1", "", 0.8, 0.0, changes=0.3, changes_baseline=0.28)
    assert row.verdict() == "start"  # every change shares one direction: not a per-filter match


def test_the_reading_says_each_verdict_once_with_the_range_of_its_layers_numbers():
    numbers = {  # similarity, its baseline, changes alike, their baseline, A moved, B moved
        "Conv2d-1": (0.90, 0.00, 0.06, 0.05, 0.42, 0.24),  # start
        "Conv2d-4": (0.03, 0.01, 0.50, 0.00, 0.50, 0.60),  # unrelated
        "Conv2d-7": (0.72, 0.07, 0.56, 0.55, 0.77, 0.56),  # start
    }
    rows = tuple(
        LayerComparison(layer, "", s, b, changes=c, changes_baseline=cb, a_moved=ma, b_moved=mb)
        for layer, (s, b, c, cb, ma, mb) in numbers.items()
    )
    sides = [RunSide(Path(f"{t}/best.pt"), t, t, t, 0, 7) for t in ("category", "domain")]
    text = Comparison("Tiny", *sides, "", True, rows).reading()
    assert [row.verdict() for row in rows] == ["start", "unrelated", "start"]
    start, unrelated, claim = text.split(". ", 2)
    assert start == (
        "Conv2d-1, -7: the category filters moved 0.42–0.77 and the domain filters 0.24–0.56 "
        "from their shared start; corresponding filters are 0.72–0.90 alike (0.00–0.07 for "
        "unrelated pairs); what training changed is no more alike filter for filter "
        "(0.06–0.56) than between different filters (0.05–0.55)"
    )
    assert unrelated == (
        "Conv2d-4: the category filters moved 0.50 and the domain filters 0.60 from their "
        "shared start; corresponding filters are 0.03 alike (0.01 for unrelated pairs), "
        "no more alike than unrelated filters"
    )
    assert claim.startswith(
        'On the study\'s conclusion that "the kernels are much different for the two sets": '
        "supported for Conv2d-4 (no more alike than unrelated filters); only partly for "
        "Conv2d-1, Conv2d-7 (the filters are alike through their shared start"
    )


# ---- comparing checkpoints ----------------------------------------------------------------------


def negate_first_conv(state):
    state["features.0.weight"].neg_()


def test_compare_checkpoints_measures_each_run_against_the_shared_start(tmp_path):
    a = load_checkpoint(save_run(tmp_path, "a", "category", change=negate_first_conv) / "best.pt")
    b = load_checkpoint(save_run(tmp_path, "b", "domain") / "best.pt")  # still at its start
    c = compare_checkpoints(a, b)
    assert c.shared_start
    assert (c.a.label, c.b.label) == ("category", "domain")
    first, second = c.layers
    assert (first.layer, second.layer) == ("Conv2d-1", "Conv2d-3")
    assert first.kernels == "4x3 kernels 3x3"
    assert first.similarity == pytest.approx(-1.0)
    assert first.a_to_start == pytest.approx(-1.0) and first.b_to_start == pytest.approx(1.0)
    assert first.a_moved == pytest.approx(2.0) and first.b_moved == pytest.approx(0.0)
    assert first.changes == pytest.approx(0.0)  # B did not change: nothing to be alike
    assert second.similarity == pytest.approx(1.0) and second.a_moved == pytest.approx(0.0)
    assert second.verdict() == "start"  # identical only because neither moved


def test_changes_alike_compares_what_training_changed(tmp_path):
    def shift(by):
        def change(state):
            w = state["features.0.weight"]
            w.add_(by * w.flip(0))  # filter i moves towards filter -i

        return change

    a = load_checkpoint(save_run(tmp_path, "a", "category", change=shift(1.0)) / "best.pt")
    same = load_checkpoint(save_run(tmp_path, "b", "domain", change=shift(0.5)) / "best.pt")
    opposite = load_checkpoint(save_run(tmp_path, "c", "domain", change=shift(-1.0)) / "best.pt")
    assert compare_checkpoints(a, same).layers[0].changes == pytest.approx(1.0)
    assert compare_checkpoints(a, opposite).layers[0].changes == pytest.approx(-1.0)
    assert compare_checkpoints(a, opposite).layers[0].verdict() in ("apart", "unrelated")


def test_compare_leaves_the_start_columns_empty_when_the_seeds_differ(tmp_path):
    a = load_checkpoint(save_run(tmp_path, "a", "category", seed=1) / "best.pt")
    b = load_checkpoint(save_run(tmp_path, "b", "domain", seed=2) / "best.pt")
    c = compare_checkpoints(a, b)
    assert not c.shared_start
    assert "different seeds (1 and 2)" in c.start
    row = c.layers[0]
    assert (row.a_to_start, row.b_to_start, row.changes, row.a_moved) == (None,) * 4
    first_row = c.table().splitlines()[2]
    cells = [cell.strip() for cell in first_row.strip("|").split("|")]
    assert cells[0] == "Conv2d-1" and cells[2] != "" and cells[3] != ""
    assert cells[4:] == [""] * 6


def test_compare_does_not_disturb_the_callers_random_stream(tmp_path):
    a = load_checkpoint(save_run(tmp_path, "a", "category") / "best.pt")
    b = load_checkpoint(save_run(tmp_path, "b", "domain") / "best.pt")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    compare_checkpoints(a, b)
    assert torch.equal(torch.rand(3), expected)


def test_runs_of_different_specs_are_refused(tmp_path):
    a = load_checkpoint(save_run(tmp_path, "a", "category") / "best.pt")
    b = load_checkpoint(save_run(tmp_path, "b", "domain", spec_name="Other") / "best.pt")
    with pytest.raises(UserError, match=r"run of Tiny .* run of Other"):
        compare_checkpoints(a, b)


def test_compare_runs_writes_side_by_side_figures_and_the_table(tmp_path):
    run_a = save_run(tmp_path, "tiny-category", "category", change=negate_first_conv)
    run_b = save_run(tmp_path, "tiny-domain", "domain")
    result = compare_runs(run_a, run_b)
    assert result.out == tmp_path / "compare-tiny-category-vs-tiny-domain"
    assert sorted(p.name for p in result.out.iterdir()) == [
        "comparison.md",
        "conv2d-1-rgb.png",
        "conv2d-1.png",
        "conv2d-3.png",
    ]
    text = result.markdown.read_text()
    assert "| Conv2d-1 | 4x3 kernels 3x3 | -1.00 | " in text
    assert "Conv2d-1: the category filters moved 2.00 and the domain filters 0.00" in text
    assert "](conv2d-3.png)" in text  # links relative to the comparison's folder


# ---- the command line ---------------------------------------------------------------------------


def test_cli_compare_prints_the_table(tmp_path, capsys):
    run_a = save_run(tmp_path, "tiny-category", "category")
    run_b = save_run(tmp_path, "tiny-domain", "domain")
    assert main(["compare", str(run_a), str(run_b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "| Layer | Kernels | category vs domain | non-corresponding |" in out
    assert "the kernels are much different for the two sets" in out
    assert (tmp_path / "cmp" / "comparison.md").is_file()


def test_cli_compare_runs_of_different_specs(tmp_path, capsys):
    run_a = save_run(tmp_path, "a", "category", spec_name="AlexNet")
    run_b = save_run(tmp_path, "b", "domain", spec_name="AlexNetTiny")
    assert main(["compare", str(run_a), str(run_b)]) == 2
    err = capsys.readouterr().err
    assert "AlexNet and" in err and "AlexNetTiny" in err and "same spec" in err
    assert "Traceback" not in err


def test_cli_compare_run_without_checkpoint(tmp_path, capsys):
    run_a = save_run(tmp_path, "a", "category")
    (tmp_path / "b").mkdir()
    assert main(["compare", str(run_a), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "has no best.pt" in err and "Traceback" not in err
