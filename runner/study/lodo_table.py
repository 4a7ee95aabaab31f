"""Leave-one-domain-out: one run per held-out domain, and the table PACS papers print.

Rows are specs; columns the held-out (test) domains and their average; each cell the held-out
domain's accuracy at the epoch chosen on the *source* domains' validation images
(training-domain validation, DomainBed's default), as mean ± standard error over the seeds when
there are several. The source-domain validation accuracy, which
chose the epoch, and the oracle (the best test accuracy of any epoch, which only a look at the
test labels finds) are given in tables of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archspec.errors import UserError
from archspec.text import plural
from runner.study.replicates import Cell, Summaries, domain_average
from runner.study.stats import Estimate

ALL = "all"
SELECTION_RULE = (
    "Each run's epoch is chosen by accuracy on the source domains' validation images "
    "(training-domain validation); the held-out domain is only tested, never used to choose."
)


def expand_holdouts(holdout: str | None, training: Mapping[str, Any]) -> list[str | None]:
    """The held-out domain of each run: [None] without one, every domain of the data for `all`."""
    if holdout is None:
        return [None]
    if holdout != ALL:
        return [holdout]
    from runner.data import discover, embedded_dataset

    data = training.get("data")
    root = Path(data) if data is not None else embedded_dataset(seed=0)
    dataset = discover(root, seed=training.get("seed", 0))
    if len(dataset.domains) < 2:
        raise UserError(
            f"--holdout-domain all needs data with at least two domains; {root} has "
            f"{len(dataset.domains) or 'no'} domains"
        )
    return list(dataset.domains)


def _average(rows: Sequence[Mapping[int, float]]) -> Estimate | None:
    averages = list(domain_average(rows).values())
    return Estimate.of(averages) if averages else None


def _table(
    specs: Sequence[str],
    domains: Sequence[str],
    value: Mapping[tuple[str, str], Mapping[int, float]],
) -> list[str]:
    """`value[(spec, domain)]`: seed -> accuracy; a cell is the mean ± SE over its seeds."""
    lines = [
        "| Spec | " + " | ".join(domains) + " | Average |",
        "|---|" + "---:|" * (len(domains) + 1),
    ]
    for spec in specs:
        row = [value.get((spec, d), {}) for d in domains]
        cells = [Estimate.of(list(r.values())) if r else None for r in row]
        average = _average(row) if all(row) else None
        lines.append(
            f"| {spec} | "
            + " | ".join("" if e is None else e.percent() for e in [*cells, average])
            + " |"
        )
    return lines


def lodo_section(cells: Sequence[Cell], summaries: Summaries) -> list[str]:
    """The markdown of the leave-one-domain-out tables, or [] when no run held a domain out.
    With seeds, every accuracy is the mean ± standard error over them."""
    held = [c for c in cells if c.holdout]
    if not held:
        return []
    specs = list(dict.fromkeys(c.label for c in held))
    domains = list(dict.fromkeys(c.holdout for c in held))
    test, val, oracle = {}, {}, {}
    for cell in held:
        key = (cell.label, cell.holdout)
        test[key] = cell.per_seed(summaries, "test_accuracy")
        val[key] = cell.per_seed(summaries, "best_val_accuracy")
        oracle[key] = cell.per_seed(summaries, "oracle_test_accuracy")
    seeds = sorted({r.seed for c in held for r in c.runs})
    over = (
        [f"Mean ± standard error (percentage points) over {plural(len(seeds), 'seed')}.", ""]
        if len(seeds) > 1
        else []
    )
    return [
        "## Leave-one-domain-out",
        "",
        SELECTION_RULE,
        "",
        *over,
        "Test accuracy on the held-out domain (columns) at the selected epoch:",
        "",
        *_table(specs, domains, test),
        "",
        "Source-domain validation accuracy at that epoch (what chose it), by held-out domain:",
        "",
        *_table(specs, domains, val),
        "",
        "Oracle, for reference only: the best held-out accuracy of any epoch. Choosing by it "
        "looks at the test labels and overstates what the model does on an unseen domain.",
        "",
        *_table(specs, domains, oracle),
        "",
    ]
