"""Leave-one-domain-out: one run per held-out domain, and the table PACS papers print.

Rows are specs; columns the held-out (test) domains and their average; each cell the held-out
domain's accuracy at the epoch chosen on the *source* domains' validation images
(training-domain validation, DomainBed's default). The source-domain validation accuracy, which
chose the epoch, and the oracle (the best test accuracy of any epoch, which only a look at the
test labels finds) are given in tables of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archspec.errors import UserError

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


def _cells(values: Sequence[float | None]) -> list[str]:
    return ["" if v is None else f"{v:.1%}" for v in values]


def _average(values: Sequence[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values) / len(values)


def _table(
    specs: Sequence[str], domains: Sequence[str], value: Mapping[tuple[str, str], float | None]
) -> list[str]:
    lines = [
        "| Spec | " + " | ".join(domains) + " | Average |",
        "|---|" + "---:|" * (len(domains) + 1),
    ]
    for spec in specs:
        row = [value.get((spec, d)) for d in domains]
        lines.append(f"| {spec} | " + " | ".join(_cells([*row, _average(row)])) + " |")
    return lines


def lodo_section(runs: Sequence[Any], summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The markdown of the leave-one-domain-out tables, or [] when no run held a domain out."""
    held = [r for r in runs if getattr(r, "holdout", None)]
    if not held:
        return []
    specs = list(dict.fromkeys(summaries[r.name].get("spec_name", r.spec.name) for r in held))
    domains = list(dict.fromkeys(r.holdout for r in held))
    test, val, oracle = {}, {}, {}
    for run in held:
        s = summaries[run.name]
        key = (s.get("spec_name", run.spec.name), run.holdout)
        test[key] = s.get("test_accuracy")
        val[key] = s.get("best_val_accuracy")
        oracle[key] = s.get("oracle_test_accuracy")
    return [
        "## Leave-one-domain-out",
        "",
        SELECTION_RULE,
        "",
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
