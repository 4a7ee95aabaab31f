"""Comparing two runs: filter numbers on hand-built weights, CKA and its reading, the CLI."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from archspec.errors import UserError
from archspec.spec import spec_from_text
from archspec_cli import main
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
from runner.compare.representation import CkaResult
from runner.training.checkpoint import load_checkpoint
from runner.training.model import seeded_model
from tests.runner.helpers import write_checkpoint
from tests.runner.study_data import small_cache, small_embedded  # noqa: F401 (fixtures)

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


# CKA runs on the validation images; here the small embedded set's 56.
pytestmark = pytest.mark.usefixtures("small_embedded")


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
    holdout: str | None = None,
    text: str = TINY,
) -> Path:
    """A run directory whose best.pt holds the seeded start, changed in place by `change(state)`;
    `seed=None` starts from seed 0 but records no seed."""
    spec = spec_from_text(text.format(name=spec_name))
    labels = TASK_LABELS[task]
    model = seeded_model(spec, len(labels), 0 if seed is None else seed)
    if change is not None:
        with torch.no_grad():
            change(model.state_dict())  # its tensors share the model's storage
    config = {} if seed is None else {"seed": seed}
    if holdout:
        config["holdout_domain"] = holdout
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


def test_runs_of_different_specs_are_compared_by_cka_only(tmp_path):
    run_a = save_run(tmp_path, "a", "category")
    run_b = save_run(tmp_path, "b", "domain", spec_name="Other")
    result = compare_runs(run_a, run_b, tmp_path / "out")
    c = result.comparison
    assert c.layers == () and c.cka is not None
    assert sorted(p.name for p in result.out.iterdir()) == ["cka.png", "comparison.md"]
    assert "run of Tiny" in c.start and "only their representations" in c.start
    assert c.table().splitlines()[0] == "| category layer | domain layer | CKA | CKA baseline |"
    assert c.reading().count("On the study's conclusion that \"the kernels") == 1


def test_compare_runs_writes_side_by_side_figures_and_the_table(tmp_path):
    run_a = save_run(tmp_path, "tiny-category", "category", change=negate_first_conv)
    run_b = save_run(tmp_path, "tiny-domain", "domain")
    result = compare_runs(run_a, run_b)
    assert result.out == tmp_path / "compare-tiny-category-vs-tiny-domain"
    assert sorted(p.name for p in result.out.iterdir()) == [
        "cka.png",
        "comparison.md",
        "conv2d-1-rgb.png",
        "conv2d-1.png",
        "conv2d-3.png",
    ]
    text = result.markdown.read_text()
    assert "| Conv2d-1 | 4x3 kernels 3x3 | -1.00 | " in text
    assert "Conv2d-1: the category filters moved 2.00 and the domain filters 0.00" in text
    assert "](conv2d-3.png)" in text  # links relative to the comparison's folder
    assert "](cka.png)" in text and "| category \\ domain | Conv2d-1 | Conv2d-3 |" in text


# ---- the command line ---------------------------------------------------------------------------


def test_cli_compare_prints_the_table(tmp_path, capsys):
    run_a = save_run(tmp_path, "tiny-category", "category")
    run_b = save_run(tmp_path, "tiny-domain", "domain")
    assert main(["compare", str(run_a), str(run_b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "| Layer | Kernels | category vs domain | non-corresponding |" in out
    assert "the kernels are much different for the two sets" in out
    assert (tmp_path / "cmp" / "comparison.md").is_file()


def test_cli_compare_run_without_checkpoint(tmp_path, capsys):
    run_a = save_run(tmp_path, "a", "category")
    (tmp_path / "b").mkdir()
    assert main(["compare", str(run_a), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "has no best.pt" in err and "Traceback" not in err


# ---- CKA in the comparison ----------------------------------------------------------------------


def side(task: str, holdout: str | None = None) -> RunSide:
    return RunSide(Path(f"{task}/best.pt"), task, task, task, 0, 7, "Tiny", holdout)


def cka_result(diagonal, baseline) -> CkaResult:
    names = tuple(f"Conv2d-{i}" for i in range(1, len(diagonal) + 1))
    values = tuple(
        tuple(d if i == j else 0.1 for j in range(len(diagonal))) for i, d in enumerate(diagonal)
    )
    return CkaResult(names, names, values, "56 images", "its own start (seed 0)", baseline)


def test_the_reading_says_where_cka_and_the_filters_disagree():
    rows = (
        LayerComparison("Conv2d-1", "", 0.03, 0.01),  # filters unrelated ...
        LayerComparison("Conv2d-2", "", 0.90, 0.00),  # filters alike (no shared start known)
        LayerComparison("Conv2d-3", "", 0.02, 0.00),  # unrelated
    )
    cka = cka_result([0.95, 0.50, 0.40], (0.60, 0.70, 0.41))  # ... CKA alike; apart; baseline
    text = Comparison("Tiny", side("category"), side("domain"), "", False, rows, cka).reading()
    assert (
        "Linear CKA of corresponding layers (category vs domain): Conv2d-1 at 0.95, more alike "
        "than category and its own start (seed 0) (0.60); Conv2d-2 at 0.50, less alike than "
        "category and its own start (seed 0) (0.70); Conv2d-3 at 0.40, as alike as" in text
    )
    assert (
        "The two measures disagree: at Conv2d-1 the filters are not alike filter for filter "
        "(beyond unrelated filters), yet the layers compute alike features" in text
    )
    assert "at Conv2d-2 the two tasks moved the filters the same way, yet" in text
    assert "Conv2d-3" not in text.split("The two measures disagree")[1].split(".")[0]
    assert (
        "By CKA, supported for Conv2d-2 (less alike than the baseline); undecided for Conv2d-3 "
        "(as alike as the baseline); contradicted for Conv2d-1 (more alike than the baseline)"
    ) in text


# A conv, window attention on the channels-last map, and a conv again: attention between convs.
WINDOWS = """
name: {name}
input_shape: [3, 12, 12]
sections:
  stem: {{Conv2d: {{out_channels: 8, kernel_size: 3, padding: 1}}}}
  to_last: {{Permute: {{dims: [0, 2, 3, 1]}}}}
  attn: {{ShiftedWindowAttention: {{window_size: 4, shift_size: 2, num_heads: 2}}}}
  to_first: {{Permute: {{dims: [0, 3, 1, 2]}}}}
  conv: {{Conv2d: {{out_channels: 5, kernel_size: 3}}}}
  classifier:
    - Flatten
    - Linear: {{out_features: num_classes}}
"""


def test_attention_layers_get_cka_rows_in_model_order_and_no_filter_figures(tmp_path):
    def negate_stem(state):
        state["stem.weight"].neg_()

    run_a = save_run(tmp_path, "w-category", "category", text=WINDOWS, change=negate_stem)
    run_b = save_run(tmp_path, "w-domain", "domain", text=WINDOWS)
    result = compare_runs(run_a, run_b)
    c = result.comparison
    assert c.cka.layers_a == ("Conv2d-1", "ShiftedWindowAttention-3", "Conv2d-5")
    assert c.cka.pooled == ("ShiftedWindowAttention-3",)  # named once, though both have it
    rows = [line.split(" | ") for line in c.table().splitlines()[2:]]
    assert [r[0].strip("| ") for r in rows] == [*c.cka.layers_a]
    attention = rows[1]
    assert attention[1] == "no kernels (attention)" and attention[2:10] == [""] * 8
    assert attention[10] == f"{c.cka.diagonal()[1]:.2f}"  # its own CKA, not a conv's
    assert rows[2][1] == "5x8 kernels 3x3" and rows[2][10] == f"{c.cka.diagonal()[2]:.2f}"
    assert "averaged over its positions" in c.legend()
    assert "every conv and attention layer of category" in result.markdown.read_text()
    figures = sorted(p.name for p in result.out.glob("conv2d-*.png"))
    assert figures == ["conv2d-1-rgb.png", "conv2d-1.png", "conv2d-5.png"]


def test_the_filters_and_cka_disagree_by_layer_name_not_by_position():
    rows = (  # the convs, with filter numbers; CKA has an attention layer between them
        LayerComparison("Conv2d-1", "", 0.90, 0.00),  # filters alike
        LayerComparison("Conv2d-5", "", 0.02, 0.00),  # filters unrelated
    )
    names = ("Conv2d-1", "ShiftedWindowAttention-3", "Conv2d-5")
    # by position, Conv2d-5 (row 1) would read the attention layer's 0.10: no disagreement
    values = ((0.30, 0.1, 0.1), (0.1, 0.10, 0.1), (0.1, 0.1, 0.95))
    cka = CkaResult(names, names, values, "56 images", "its own start", (0.60, 0.20, 0.50))
    cka = dataclasses.replace(cka, pooled=("ShiftedWindowAttention-3",))
    text = Comparison("W", side("category"), side("domain"), "", False, rows, cka).reading()
    disagree = text.split("The two measures disagree: ")[1]
    assert "at Conv2d-1 the two tasks moved the filters the same way, yet" in disagree
    assert "at Conv2d-5 the filters are not alike filter for filter" in disagree
    assert "ShiftedWindowAttention-3" not in disagree.split(".")[0]
    # the study's claim is about kernels: judged on the convs alone
    assert "ShiftedWindowAttention" not in text.split("By CKA, ")[1]


def test_runs_of_different_specs_name_both_layers_of_each_pair():
    a, b = ("Conv2d-1", "MultiheadAttention-7"), ("Conv2d-1", "Conv2d-3")
    values = ((0.9, 0.1), (0.1, 0.3))
    cka = CkaResult(
        a, b, values, "56 images", "its own start", (0.5, 0.6), ("MultiheadAttention-7",)
    )
    c = Comparison("ViT vs CNN", side("category"), side("domain"), "", False, (), cka, False)
    text = c.reading()
    assert "MultiheadAttention-7/Conv2d-3 at 0.30, less alike than" in text
    assert "by CKA: contradicted for Conv2d-1 (more alike" in text
    assert "MultiheadAttention" not in text.split("by CKA: ")[1]  # no kernels on one side


# Window attention and no conv: runs of one spec, with nothing but CKA to compare.
NO_CONV = """
name: {name}
input_shape: [3, 12, 12]
sections:
  to_last: {{Permute: {{dims: [0, 2, 3, 1]}}}}
  attn: {{ShiftedWindowAttention: {{window_size: 4, shift_size: 2, num_heads: 1}}}}
  classifier:
    - Flatten
    - Linear: {{out_features: num_classes}}
"""


def test_runs_of_one_spec_without_convs_are_not_called_different_specs(tmp_path):
    run_a = save_run(tmp_path, "a-category", "category", text=NO_CONV)
    run_b = save_run(tmp_path, "a-domain", "domain", text=NO_CONV)
    c = compare_runs(run_a, run_b).comparison
    assert c.same_spec and c.layers == ()
    assert "different specs" not in c.legend()
    rows = c.table().splitlines()[2:]
    assert len(rows) == 1 and rows[0].startswith("| ShiftedWindowAttention-2 | no kernels")
    assert "no verdict (no conv layer: the claim is about kernels)" in c.reading()


def test_the_claim_is_judged_only_for_a_category_run_against_a_domain_run():
    rows = (LayerComparison("Conv2d-1", "", 0.03, 0.01),)
    cka = cka_result([0.5], (0.9,))
    judged = Comparison("T", side("category"), side("domain"), "", False, rows, cka).reading()
    assert "the kernels are much different" in judged and "By CKA, supported" in judged
    for a, b in [("category", "category"), ("domain", "domain")]:
        text = Comparison("T", side(a), side(b), "", False, rows, cka).reading()
        assert "the kernels are much different" not in text and "By CKA" not in text
        assert "not a category run against a domain run" in text
    text = Comparison("T", side("domain"), side("domain"), "", False, rows, cka).reading()
    assert "The two measures agree at every layer" in text


def test_compare_states_each_runs_spec_task_held_out_domain_and_seed(tmp_path):
    run_a = save_run(tmp_path, "a", "category", seed=3, holdout="sketch")
    run_b = save_run(tmp_path, "b", "domain", seed=3)
    text = compare_runs(run_a, run_b, tmp_path / "out").markdown.read_text()
    assert "Tiny, category task, held-out domain sketch, seed 3, best.pt after epoch 7" in text
    assert "Tiny, domain task, no held-out domain, seed 3, best.pt after epoch 7" in text


def test_a_run_against_itself_has_cka_one_and_no_verdict_on_the_claim(tmp_path):
    run = save_run(tmp_path, "a", "category", change=negate_first_conv)
    c = compare_runs(run, run, tmp_path / "out").comparison
    assert c.cka.diagonal() == pytest.approx([1.0, 1.0])
    assert c.cka.baseline == "its own start (seed 0)"
    # The first layer's filters were negated from the start: CKA is blind to the sign, but the
    # ReLU after it is not, so the second layer computes something else than at the start.
    assert c.cka.baseline_values[0] == pytest.approx(1.0)
    assert c.cka.baseline_values[1] < 0.9
    assert "the kernels are much different" not in c.reading()
    header, _, first, _ = c.table().splitlines()
    assert header.endswith("| CKA | CKA baseline |")
    assert first.endswith("| 1.00 | 1.00 |")


def test_the_baseline_is_another_run_of_the_same_spec(tmp_path):
    def scramble(state):
        state["features.0.weight"].copy_(torch.randn_like(state["features.0.weight"]))

    run_a = save_run(tmp_path, "a", "category")
    run_b = save_run(tmp_path, "b", "domain")
    other_seed = save_run(tmp_path, "a-seed1", "category", seed=1, change=scramble)
    c = compare_runs(run_a, run_b, tmp_path / "o1", baseline=other_seed).comparison
    assert c.cka.baseline == "a-seed1 (category task, seed 1)"
    assert c.cka.baseline_values[0] < 0.99  # another start: not the same features
    assert c.cka.diagonal() == pytest.approx([1.0, 1.0])  # A and B both still at seed 0's start
    other_spec = save_run(tmp_path, "c", "category", spec_name="Other")
    with pytest.raises(UserError, match="--baseline needs another run of A's spec"):
        compare_runs(run_a, run_b, tmp_path / "o2", baseline=other_spec)


def test_without_a_recorded_seed_there_is_no_baseline(tmp_path):
    run_a = save_run(tmp_path, "a", "category", seed=None)
    run_b = save_run(tmp_path, "b", "domain", seed=None)
    c = compare_runs(run_a, run_b, tmp_path / "out").comparison
    assert c.cka.baseline_values is None and "give --baseline RUN" in c.cka.baseline
    assert "By CKA, no verdict (no baseline)" in c.reading()


def test_cli_compare_on_some_of_the_images(tmp_path, capsys):
    run_a = save_run(tmp_path, "a", "category")
    run_b = save_run(tmp_path, "b", "domain")
    assert (
        main(["compare", str(run_a), str(run_b), "--images", "8", "--out", str(tmp_path / "o")])
        == 0
    )
    assert (
        "CKA*: linear CKA of each layer's whole output on 8 validation images of"
        in (tmp_path / "o" / "comparison.md").read_text()
    )
    assert (tmp_path / "o" / "cka.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ("0", "--images must be at least 4"),
        ("-3", "--images must be at least 4"),
        ("57", "holds only 56 images; give --images 56 or fewer"),
    ],
)
def test_cli_compare_refuses_an_impossible_number_of_images(tmp_path, capsys, images, message):
    run_a = save_run(tmp_path, "a", "category")
    run_b = save_run(tmp_path, "b", "domain")
    out = tmp_path / "o"
    assert main(["compare", str(run_a), str(run_b), "--images", images, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()  # nothing written


def test_cli_compare_with_data_that_does_not_exist(tmp_path, capsys):
    run_a = save_run(tmp_path, "a", "category")
    args = ["compare", str(run_a), str(run_a), "--data", str(tmp_path / "nowhere")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_cka_uses_the_runs_own_validation_images_held_out_domain_included():
    from runner.compare import validation_images
    from runner.data import embedded_dataset

    root = embedded_dataset()  # the small one, through $ARCHSPEC_CACHE
    held_out = validation_images({"data": str(root), "holdout_domain": "sketch"}, None, None)
    assert len(held_out.paths) == 7 + 14  # all of sketch: its 7 x 1 train and 7 x 2 val images
    assert {p.parent.parent.name for p in held_out.paths} == {"sketch"}
    other = validation_images({"holdout_domain": "sketch"}, None, root)  # --data DIR: its split
    assert len(other.paths) == 56
