"""The report's "what each variant changes" table, made from archspec diff."""

from __future__ import annotations

from pathlib import Path

from archspec.spec import load_spec
from runner.study.variant_table import variant_table

ARCHITECTURES = Path(__file__).resolve().parents[2] / "architectures"


def specs(*names: str) -> list[tuple[Path, object]]:
    return [(ARCHITECTURES / n, load_spec(ARCHITECTURES / n)) for n in names]


def rows(lines: list[str]) -> dict[str, str]:
    return {line.split(" (`")[0].strip("| "): line for line in lines if line.startswith("| Alex")}


def test_variants_are_diffed_against_alexnet_wherever_it_is_listed() -> None:
    lines = variant_table(specs("tiny.yaml", "alexnet.yaml", "dilation.yaml", "avg_pooling.yaml"))
    assert lines[0] == "## What each variant changes"
    assert "alexnet.yaml` (AlexNet)" in lines[2]
    table = rows(lines)
    assert set(table) == {"AlexNetTiny", "AlexNetDilation", "AlexNetAvgPooling"}
    dilation = table["AlexNetDilation"]
    for conv in ("Conv2d-1", "Conv2d-4", "Conv2d-7", "Conv2d-9", "Conv2d-11"):
        assert f"{conv}: padding" in dilation
    assert "58,310,023 (-54%)" in dilation and "333 (was 195)" in dilation
    assert table["AlexNetAvgPooling"].count("kind MaxPool2d→AvgPool2d") == 3
    # only the written change, not the in_channels that follow from it
    assert "Conv2d-4: out_channels 256→128;" in table["AlexNetTiny"]
    assert "in_channels" not in table["AlexNetTiny"]


def test_without_alexnet_the_first_spec_is_the_base() -> None:
    lines = variant_table(specs("tiny.yaml", "dilation.yaml"))
    assert "tiny.yaml` (AlexNetTiny)" in lines[2]
    assert list(rows(lines)) == ["AlexNetDilation"]
    assert variant_table(specs("tiny.yaml")) == []  # nothing to compare
