"""`archspec draw`: the diagram's nodes and edge shapes against shapes.py, DOT and Mermaid text,
and the command line with and without Graphviz's dot program."""

from __future__ import annotations

import re
import shutil

import pytest
from spec_test_paths import ARCHITECTURES, ZOO

from archspec.diagram import build_diagram, to_dot, to_mermaid
from archspec.layers import format_shape
from archspec.shapes import MergeRow, resolve
from archspec.spec import load_spec
from archspec_cli import main

ALEXNET = ARCHITECTURES / "alexnet.yaml"
RESIDUAL = ARCHITECTURES / "alexnet_residual.yaml"  # a Residual block
PARALLEL = ZOO / "squeezenet1_1.yaml"  # Fire blocks: Parallel, merged by concat

DOT_NODE = re.compile(r"^\s*(\w+) \[label=")
DOT_EDGE = re.compile(r'^\s*(\w+) -> (\w+) \[label="([^"]*)"\];$')
MERMAID_NODE = re.compile(r"^\s*(\w+)(\[\"|\(\[\"|\(\(\")")
MERMAID_EDGE = re.compile(r'^\s*(\w+) -->\|"([^"]*)"\| (\w+)$')


def resolved_of(path):
    return resolve(load_spec(path), 7)


def dot_parts(dot: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = dot.splitlines()
    nodes = [m.group(1) for line in lines if (m := DOT_NODE.match(line))]
    edges = [m.groups() for line in lines if (m := DOT_EDGE.match(line))]
    return nodes, edges


@pytest.mark.parametrize("path", [ALEXNET, RESIDUAL, PARALLEL], ids=lambda p: p.stem)
def test_dot_has_every_layer_merge_and_shape(path):
    resolved = resolved_of(path)
    nodes, edges = dot_parts(to_dot(build_diagram(resolved)))
    layer_ids = [n for n in nodes if re.fullmatch(r"L\d+", n)]
    assert len(layer_ids) == len(resolved.layers)
    assert len(set(nodes)) == len(nodes)
    merges = [r for r in resolved.rows if isinstance(r, MergeRow)]
    assert len([n for n in nodes if re.fullmatch(r"M\d+", n)]) == len(merges)
    assert set(nodes) >= {s for e in edges for s in e[:2]}  # every edge joins declared nodes
    by_number = {f"L{r.number}": r for r in resolved.layers}
    for source, target, label in edges:
        if source in by_number:  # what a layer gives is its output shape
            assert label == format_shape(by_number[source].out_shape)
        if target in by_number:  # and what it takes, its input shape
            assert label == format_shape(by_number[target].in_shape)


def test_merge_nodes_of_residual_and_parallel():
    for path, what in ((RESIDUAL, "add"), (PARALLEL, "concat")):
        resolved = resolved_of(path)
        diagram = build_diagram(resolved)
        merges = [r for r in resolved.rows if isinstance(r, MergeRow)]
        drawn = [n for n in diagram.nodes.values() if n.kind in ("add", "concat", "sum")]
        assert [n.kind for n in drawn] == [r.what for r in merges]
        assert {r.what for r in merges} == {what}
        assert [n.shape for n in drawn] == [r.out_shape for r in merges]
        for node in drawn:  # a merge joins two paths (or more branches)
            assert len([e for e in diagram.edges if e.target == node.id]) >= 2


def test_alexnet_flatten_edges():
    _, edges = dot_parts(to_dot(build_diagram(resolved_of(ALEXNET))))
    into = [label for _, target, label in edges if target.startswith("flatten_")]
    out = [label for source, _, label in edges if source.startswith("flatten_")]
    assert (into, out) == (["256x6x6"], ["9216"])


@pytest.mark.parametrize("path", [RESIDUAL, PARALLEL], ids=lambda p: p.stem)
def test_mermaid_is_a_flowchart(path):
    resolved = resolved_of(path)
    text = to_mermaid(build_diagram(resolved))
    lines = text.splitlines()
    assert lines[:2] == ["```mermaid", "flowchart TD"]
    assert lines[-1] == "```"
    defined = {m.group(1) for line in lines if (m := MERMAID_NODE.match(line))}
    edges = [m.groups() for line in lines if (m := MERMAID_EDGE.match(line))]
    assert edges
    assert all(a in defined and b in defined for a, _, b in edges)
    assert len([d for d in defined if re.fullmatch(r"L\d+", d)]) == len(resolved.layers)
    opened = sum(line.strip().startswith("subgraph ") for line in lines)
    assert opened == sum(line.strip() == "end" for line in lines)
    body = lines[2:-1]  # every line is a node, an edge, or a subgraph's start or end
    assert all(
        MERMAID_NODE.match(line)
        or MERMAID_EDGE.match(line)
        or line.strip().startswith("subgraph ")
        or line.strip() == "end"
        for line in body
    ), body


def test_mermaid_escapes_labels():
    from archspec.diagram import Diagram, DiagramNode

    diagram = Diagram('say "hi"')
    diagram.nodes["L1"] = DiagramNode("L1", "layer", 'a"b[c]', "x|y", (3,))
    diagram.top.append("L1")
    line = to_mermaid(diagram).splitlines()[2]
    assert line == '  L1["a#quot;b#91;c#93;<br/>x#124;y<br/>3"]'
    assert 'digraph "say \\"hi\\""' in to_dot(diagram)


@pytest.mark.parametrize("suffix", [".dot", ".md"])
def test_cli_writes_text_formats(tmp_path, capsys, suffix):
    out = tmp_path / f"net{suffix}"
    assert main(["draw", str(ALEXNET), "--out", str(out), "--num-classes", "4"]) == 0
    text = out.read_text()
    if suffix == ".dot":
        assert text.startswith('digraph "AlexNet')
        assert 'label="4"' in text
    else:
        assert "```mermaid\nflowchart TD\n" in text
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_set_changes_the_drawing(tmp_path):
    out = tmp_path / "net.dot"
    argv = ["draw", str(ALEXNET), "--out", str(out), "--task", "domain"]
    assert main([*argv, "--set", "features.0.out_channels=32"]) == 0
    assert 'L1 -> L2 [label="32x55x55"]' in out.read_text()


def test_cli_without_dot_keeps_the_dot_file(tmp_path, capsys, monkeypatch):
    graphviz = pytest.importorskip("graphviz")

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Tsvg"])

    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    out = tmp_path / "net.svg"
    assert main(["draw", str(RESIDUAL), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert (tmp_path / "net.dot").read_text().startswith("digraph")
    assert str(tmp_path / "net.dot") in err
    for hint in ("apt install graphviz", "brew install graphviz", "conda install graphviz", ".md"):
        assert hint in err
    assert "Traceback" not in err


def test_cli_without_graphviz_package(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    out = tmp_path / "net.png"
    assert main(["draw", str(ALEXNET), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pip install graphviz" in err
    assert (tmp_path / "net.dot").exists()
    assert not out.exists()


def test_cli_unknown_suffix(tmp_path, capsys):
    assert main(["draw", str(ALEXNET), "--out", str(tmp_path / "net.txt")]) == 2
    err = capsys.readouterr().err
    assert ".svg, .png, .dot, .md" in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program not installed")
def test_cli_renders_svg(tmp_path):
    pytest.importorskip("graphviz")
    out = tmp_path / "net.svg"
    assert main(["draw", str(PARALLEL), "--out", str(out), "--num-classes", "7"]) == 0
    text = out.read_text()
    assert "<svg" in text
    assert "concat" in text
