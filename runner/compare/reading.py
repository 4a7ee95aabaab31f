"""The comparison in words: one sentence per group of layers that share a verdict, then what the
numbers say about the study's claim. Generated from the numbers, never written by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from archspec.text import layer_names
from runner.compare.layer_comparison import MARGIN, LayerComparison
from runner.compare.representation import CkaResult

CLAIM = "the kernels are much different for the two sets"


def span(values: Iterable[float | None]) -> str:
    """`0.72–0.91` from the lowest to the highest known value, one number where they round alike,
    empty where none is known."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = f"{min(known):.2f}", f"{max(known):.2f}"
    return low if low == high else f"{low}–{high}"


def _group_sentence(rows: Sequence[LayerComparison], a: str, b: str, shared_start: bool) -> str:
    """What the layers in `rows`, which share one verdict, have in common, with their numbers."""
    head = f"{layer_names(r.layer for r in rows)}: "
    if shared_start and all(r.a_moved is not None and r.b_moved is not None for r in rows):
        head += (
            f"the {a} filters moved {span(r.a_moved for r in rows)} and the {b} filters "
            f"{span(r.b_moved for r in rows)} from their shared start; "
        )
    baseline = span(r.baseline for r in rows)
    head += f"corresponding filters are {span(r.similarity for r in rows)} alike"
    head += f" ({baseline} for unrelated pairs)" if baseline else ""

    verdict = rows[0].verdict()
    if verdict == "unrelated":
        return f"{head}, no more alike than unrelated filters"
    if rows[0].changes is None:
        return f"{head}, more alike than unrelated filters"
    how = {"start": "no more", "apart": "less", "alike": "more"}[verdict]
    changed = f"what training changed is {how} alike filter for filter"
    changed += f" ({span(r.changes for r in rows)})"
    changes_baseline = span(r.changes_baseline for r in rows)
    changed += (
        f" than between different filters ({changes_baseline})"
        if changes_baseline
        else " than unrelated filters (0)"
    )
    ending = {
        "start": "",
        "apart": ": the two tasks moved them in opposite ways",
        "alike": ": the two tasks moved their filters the same way",
    }[verdict]
    return f"{head}; {changed}{ending}"


def _claim(layers: Sequence[LayerComparison]) -> str:
    """One sentence on the study's claim: where the numbers support it and where they do not."""
    groups: dict[str, list[str]] = {}
    for r in layers:
        groups.setdefault(r.verdict(), []).append(r.layer)
    claims = []
    if groups.get("unrelated"):
        claims.append(
            f"supported for {', '.join(groups['unrelated'])} (no more alike than unrelated filters)"
        )
    partly = [r.layer for r in layers if r.verdict() in ("start", "apart")]
    if partly:
        claims.append(
            f"only partly for {', '.join(partly)} (the filters are alike through their "
            "shared start, but what each task changed differs)"
        )
    if groups.get("alike"):
        claims.append(
            f"contradicted for {', '.join(groups['alike'])} (the two tasks learned alike filters)"
        )
    return f'On the study\'s conclusion that "{CLAIM}": {"; ".join(claims)}.'


def in_words(
    layers: Sequence[LayerComparison],
    a: str,
    b: str,
    shared_start: bool,
    cka: CkaResult | None = None,
    claim: bool = True,
) -> str:
    """One paragraph: layers grouped by verdict, in model order of each group's first layer,
    then CKA and where the two measures disagree; `a` and `b` are what the runs are called.
    `claim`: judge the study's category-vs-domain claim (only for a run of each task)."""
    groups: dict[tuple[str, bool], list[LayerComparison]] = {}
    for r in layers:
        groups.setdefault((r.verdict(), r.changes is None), []).append(r)
    sentences = [_group_sentence(rows, a, b, shared_start) for rows in groups.values()]
    if cka is not None:
        sentences.append(cka_sentence(cka, a, b))
        if layers:
            sentences.append(disagreements(layers, cka))
    text = ". ".join(sentences) + "."
    if not claim:
        return (
            f"{text} This is not a category run against a domain run, so it says nothing on "
            "the study's category-vs-domain claim."
        )
    judged = []
    if layers:
        judged.append(_claim(layers).removesuffix("."))
    if cka is not None:
        judged.append(cka_claim(cka, alone=not layers))
    if not judged:
        return text
    return text + " " + ". ".join(judged) + f". (Margin for 'alike': {MARGIN}.)"


def cka_sentence(cka: CkaResult, a: str, b: str) -> str:
    """Linear CKA of corresponding layers, grouped by how it stands to the baseline."""
    diagonal = cka.diagonal()
    if cka.baseline_values is None:
        values = ", ".join(f"{n} {v:.2f}" for n, v in zip(cka.pairs(), diagonal, strict=True))
        return f"Linear CKA of corresponding layers ({a} vs {b}): {values}; {cka.baseline}"
    groups: dict[str | None, list[int]] = {}
    for i in range(len(diagonal)):
        groups.setdefault(cka.verdict(i), []).append(i)
    how = {
        "alike": "more alike than",
        "apart": "less alike than",
        "baseline": "as alike as",
        None: "not comparable with",
    }
    parts = [
        f"{layer_names(cka.pair(i) for i in rows)} at "
        f"{span(diagonal[i] for i in rows)}, {how[verdict]} {a} and {cka.baseline} "
        f"({span(cka.base(i) for i in rows)})"
        for verdict, rows in groups.items()
    ]
    return f"Linear CKA of corresponding layers ({a} vs {b}): " + "; ".join(parts)


def disagreements(layers: Sequence[LayerComparison], cka: CkaResult) -> str:
    """Where filter-by-filter similarity and CKA tell different stories."""
    differ = []
    for row in layers:
        i = cka.position(row.layer)  # filter rows are convs only; CKA has attention layers too
        cka_verdict = None if i is None else cka.verdict(i)
        if cka_verdict is None or (row.verdict() == "alike") == (cka_verdict == "alike"):
            continue
        if cka_verdict == "alike":
            beyond = "unrelated filters" if row.verdict() == "unrelated" else "their shared start"
            differ.append(
                f"at {row.layer} the filters are not alike filter for filter (beyond {beyond}), "
                "yet the layers compute alike features (CKA above the baseline): the same "
                "features in another order or mixture"
            )
        else:
            differ.append(
                f"at {row.layer} the two tasks moved the filters the same way, yet the layers' "
                "representations are no more alike than the baseline's"
            )
    if not differ:
        if cka.pooled:  # attention layers have no filters to compare
            return "The two measures agree at every conv layer"
        return "The two measures agree at every layer"
    return "The two measures disagree: " + "; ".join(differ)


def cka_claim(cka: CkaResult, alone: bool = False) -> str:
    """The study's claim judged by CKA against the baseline (`alone`: no filter verdict before)."""
    groups: dict[str | None, list[str]] = {}
    pooled = set(cka.pooled)
    for i in range(len(cka.diagonal())):
        if pooled.isdisjoint((cka.layers_a[i], cka.layers_b[i])):  # the claim is on kernels
            groups.setdefault(cka.verdict(i), []).append(cka.pair(i))
    claims = []
    for group, said in (
        ("apart", "supported for {} (less alike than the baseline)"),
        ("baseline", "undecided for {} (as alike as the baseline)"),
        ("alike", "contradicted for {} (more alike than the baseline)"),
    ):
        if groups.get(group):
            claims.append(said.format(layer_names(groups[group])))
    if claims:
        verdict = "; ".join(claims)
    elif not groups:
        verdict = "no verdict (no conv layer: the claim is about kernels)"
    else:
        verdict = "no verdict (no baseline)"
    return (
        f'On the study\'s conclusion that "{CLAIM}", by CKA: {verdict}'
        if alone
        else (f"By CKA, {verdict}")
    )
