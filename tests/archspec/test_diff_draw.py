"""`archspec diff A B --draw FILE`: B's diagram with exactly the layers the diff reports changed
or added coloured, the removed ones named in the legend, diff's exit codes kept."""

from __future__ import annotations

import json
import re

import pytest
from spec_test_paths import ARCHITECTURES

from archspec.diagram import (
    ADDED_FILL,
    CHANGED_FILL,
    build_diagram,
    highlight_of,
    to_dot,
    to_mermaid,
)
from archspec.diff import diff_specs
from archspec.shapes import resolve
from archspec.spec import load_spec, spec_from_text
from archspec_cli import main

ALEXNET = ARCHITECTURES / "alexnet.yaml"
DOT_FILLED = re.compile(r'^\s*(\w+) \[label=.*fillcolor="(#\w+)"')
BASE = "name: {name}\ninput_shape: [3, 16, 16]\nsections:\n  features:\n"
CONV = "    - Conv2d: {out_channels: 4, kernel_size: 3}\n"
POOL = "    - MaxPool2d: {kernel_size: 2}\n"
RELU = "    - ReLU\n"


def fills(dot: str) -> dict[str, str]:
    """Layer node id -> its fill colour, for the layers drawn in a colour of their own."""
    found = {m.group(1): m.group(2) for line in dot.splitlines() if (m := DOT_FILLED.match(line))}
    return {k: v for k, v in found.items() if re.fullmatch(r"L\d+", k)}


def drawn(a, b) -> tuple[object, str, str]:
    diff = diff_specs(a, b)
    diagram = build_diagram(resolve(b, 7))
    highlight = highlight_of(diff)
    return diff, to_dot(diagram, highlight), to_mermaid(diagram, highlight)


def reported(diff, change: str) -> set[str]:
    return {f"L{c.b.number}" for c in diff.layers if c.change == change}


@pytest.mark.parametrize("variant", ["dilation.yaml", "large_kernel.yaml", "avg_pooling.yaml"])
def test_coloured_nodes_are_exactly_the_layers_the_diff_reports(variant):
    a, b = load_spec(ALEXNET), load_spec(ARCHITECTURES / variant)
    diff, dot, _ = drawn(a, b)
    changed = reported(diff, "changed")
    assert changed  # each variant changes something
    coloured = fills(dot)
    assert {k for k, v in coloured.items() if v == CHANGED_FILL} == changed
    assert {k for k, v in coloured.items() if v == ADDED_FILL} == reported(diff, "added")
    numbers = {f"L{r.number}" for r in resolve(b, 7).layers}
    unchanged = numbers - changed - reported(diff, "added")
    assert unchanged and not unchanged & set(coloured)


def test_dilation_colours_the_dilated_convs_and_the_narrower_fc():
    _, dot, _ = drawn(load_spec(ALEXNET), load_spec(ARCHITECTURES / "dilation.yaml"))
    coloured = fills(dot)
    for conv in ("L1", "L4", "L7", "L9", "L11", "L15"):  # Conv2d-1 ... and Linear-15
        assert coloured[conv] == CHANGED_FILL
    assert "L2" not in coloured  # ReLU-2, the same in both
    line = next(line for line in dot.splitlines() if line.strip().startswith("L1 ["))
    assert "dilation 1->2" in line  # what changed is written in the box


def test_large_kernel_names_the_removed_pools_in_the_legend():
    _, dot, mermaid = drawn(load_spec(ALEXNET), load_spec(ARCHITECTURES / "large_kernel.yaml"))
    legend = next(line for line in dot.splitlines() if line.strip().startswith("legend_removed"))
    for pool in ("MaxPool2d-3 (features.2)", "MaxPool2d-6 (features.5)", "MaxPool2d-13"):
        assert pool in legend
    assert "removed vs AlexNet: 3" in legend
    assert "subgraph cluster_legend {" in dot
    assert "MaxPool2d-6 #40;features.5#41;" in mermaid


def test_added_and_removed_layers_of_small_specs():
    a = spec_from_text(BASE.format(name="A") + CONV + RELU + CONV)
    b = spec_from_text(BASE.format(name="B") + CONV + POOL + CONV)  # ReLU-2 -> MaxPool2d-2
    diff, dot, _ = drawn(a, b)
    assert [c.change for c in diff.layers] == ["changed"]
    assert fills(dot) == {"L2": CHANGED_FILL}
    c = spec_from_text(BASE.format(name="C") + CONV + RELU + CONV + POOL)
    diff, dot, mermaid = drawn(a, c)
    assert [(ch.change, ch.b.name) for ch in diff.layers] == [("added", "MaxPool2d-4")]
    assert fills(dot) == {"L4": ADDED_FILL}
    assert "  class L4,legend_added added" in mermaid.splitlines()
    diff, dot, _ = drawn(c, a)
    assert [(ch.change, ch.a.name) for ch in diff.layers] == [("removed", "MaxPool2d-4")]
    assert fills(dot) == {}
    assert "MaxPool2d-4 (features.3)" in dot


def test_mermaid_has_class_definitions_and_class_lines_for_the_reported_layers():
    diff, _, mermaid = drawn(load_spec(ALEXNET), load_spec(ARCHITECTURES / "dilation.yaml"))
    lines = mermaid.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    for what in ("changed", "added", "removed"):
        assert sum(line.strip().startswith(f"classDef {what} ") for line in lines) == 1
    classes = {}
    for line in lines:
        if m := re.fullmatch(r"\s*class (\S+) (\w+)", line):
            classes[m.group(2)] = set(m.group(1).split(","))
    assert classes["changed"] - {"legend_changed"} == reported(diff, "changed")
    assert classes["added"] == {"legend_added"}
    assert f"classDef changed fill:{CHANGED_FILL}" in mermaid
    assert lines.index('  subgraph legend["legend"]') < len(lines) - 1


def test_without_a_highlight_nothing_changes():
    diagram = build_diagram(resolve(load_spec(ALEXNET), 7))
    assert "legend" not in to_dot(diagram) and "classDef" not in to_mermaid(diagram)
    assert fills(to_dot(diagram)) == {}


@pytest.mark.parametrize("suffix", [".dot", ".md"])
def test_cli_draws_and_keeps_the_exit_code(tmp_path, capsys, suffix):
    out = tmp_path / f"changes{suffix}"
    code = main(["diff", str(ALEXNET), str(ARCHITECTURES / "dilation.yaml"), "--draw", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert "~ Conv2d-1 (features.0)" in captured.out
    assert f"wrote {out}" in captured.err
    text = out.read_text()
    if suffix == ".md":
        assert text.startswith("# AlexNetDilation: changes against AlexNet\n\n```mermaid\n")
        assert "  class L1,L4,L7,L9,L11," in text
    else:
        assert fills(text)["L1"] == CHANGED_FILL
    same = tmp_path / f"same{suffix}"
    assert main(["diff", str(ALEXNET), str(ALEXNET), "--draw", str(same)]) == 0
    text = same.read_text()  # drawn when equal too, with nothing coloured
    assert "changed vs AlexNet: 0" in text
    if suffix == ".md":
        assert "  class legend_changed changed" in text
    else:
        assert fills(text) == {}


def test_cli_set_and_json_stay_on_standard_output(tmp_path, capsys):
    out = tmp_path / "net.dot"
    argv = ["diff", str(ALEXNET), str(ALEXNET), "--set", "features.0.out_channels=32"]
    assert main([*argv, "--json", "--draw", str(out)]) == 1
    data = json.loads(capsys.readouterr().out)  # "wrote" went to standard error
    changed = {f"L{int(c['b']['name'].rsplit('-', 1)[1])}" for c in data["layers"]}
    assert changed == {"L1", "L4"}  # conv1 narrower, conv2's inferred in_channels follows
    assert set(fills(out.read_text())) == changed


def test_cli_errors_as_archspec_draw(tmp_path, capsys, monkeypatch):
    variant = str(ARCHITECTURES / "dilation.yaml")
    assert main(["diff", str(ALEXNET), variant, "--draw", str(tmp_path / "net.txt")]) == 2
    captured = capsys.readouterr()
    assert ".svg, .png, .dot, .md" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # refused before the diff is printed
    (tmp_path / "pics.svg").mkdir()
    assert main(["diff", str(ALEXNET), variant, "--draw", str(tmp_path / "pics.svg")]) == 2
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "notes").write_text("a file, not a folder")
    assert main(["diff", str(ALEXNET), variant, "--draw", str(tmp_path / "notes/n.md")]) == 2
    assert "which is a file, not a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "pics.svg"]

    graphviz = pytest.importorskip("graphviz")

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Tsvg"])

    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    out = tmp_path / "net.svg"
    assert main(["diff", str(ALEXNET), variant, "--draw", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert CHANGED_FILL in (tmp_path / "net.dot").read_text()
    assert "apt install graphviz" in err and str(tmp_path / "net.dot") in err
