"""Property: whatever names a spec gives its sections, layers, Residual parts and branches,
`archspec build` either prints a model whose parameters add up to the table's total, or exits 2
with a message; never a traceback. Names are drawn from the attributes of the real compiled
modules and the names the compiler generates, as well as arbitrary identifiers and strings.

Which names must be refused is decided here from torch itself (dir() of the modules a name
joins), not from the lists archspec keeps.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections import OrderedDict
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from archspec.compiler import Block, ParallelBlock, ResidualBlock, compile_spec
from archspec.shapes import resolve
from archspec.spec import load_spec, spec_from_text
from archspec_cli import main

EXIT_USER_ERROR = 2
NUM_CLASSES = 3


def _model_attributes() -> set[str]:
    text = "name: Net\ninput_shape: [3, 4, 4]\nsections: {features: [ReLU]}\n"
    model = compile_spec(resolve(spec_from_text(text), NUM_CLASSES), device="meta")
    return set(dir(model)) - {"features"}


# What a name joins -> the attributes the module there already has (or will have).
TAKEN = {
    "section": _model_attributes(),
    "layer": set(dir(Block("Unit", OrderedDict()))),
    "residual": set(dir(ResidualBlock("R", OrderedDict(), None, OrderedDict()))) | {"downsample"},
    "branch": set(dir(ParallelBlock("P", OrderedDict(), "concat"))),
}
# Names that mean something in the spec language, which a name might be mistaken for.
SPEC_WORDS = {"body", "after", "shortcut", "branches", "merge", "class", "layers", "repeat"}
RISKY = set().union(*TAKEN.values()) | SPEC_WORDS
# Most of torch.nn.Module's own methods were refused before these checks; the attributes set on
# instances, by nn.Sequential and by archspec's own modules are where names clashed unseen.
SUBTLE = sorted(RISKY - set(dir(nn.Module)))

plain = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
names = st.integers(0, 9).flatmap(
    lambda pick: (
        plain
        if pick < 7
        else st.sampled_from(SUBTLE)
        if pick < 9
        else st.one_of(st.sampled_from(sorted(RISKY)), st.text(alphabet="ab_1.- ", max_size=4))
    )
)


def unique_names(count: int) -> st.SearchStrategy[list[str]]:
    return st.lists(names, min_size=count, max_size=count, unique=True)


conv = st.sampled_from([2, 3, 4]).map(
    lambda c: {"Conv2d": {"out_channels": c, "kernel_size": 1, "bias": False}}
)
leaf = st.one_of(conv, st.just({"ReLU": {"inplace": True}}), st.just("BatchNorm2d"))


@st.composite
def residual(draw, uses: list) -> dict:
    body_names = draw(unique_names(draw(st.integers(1, 2))))
    after_names = draw(unique_names(draw(st.integers(0, 1))))
    after_names = [n for n in after_names if n not in body_names]
    uses += [("residual", n) for n in body_names + after_names]
    fields: dict = {"body": {n: draw(leaf) for n in body_names}}
    if after_names:
        fields["after"] = {n: "ReLU" for n in after_names}
    return {"Residual": fields}


@st.composite
def parallel(draw, uses: list) -> dict:
    branch_names = draw(unique_names(2))
    uses += [("branch", n) for n in branch_names]
    branches = {}
    for name in branch_names:
        if draw(st.booleans()):
            inner = draw(names)
            uses.append(("layer", inner))
            branches[name] = {inner: draw(conv)}
        else:
            branches[name] = [draw(conv)]
    return {"Parallel": {"branches": branches, "merge": "concat"}}


@st.composite
def spec(draw) -> tuple[dict, list[tuple[str, str]]]:
    """A small spec and, for every name in it, what that name joins."""
    uses: list[tuple[str, str]] = []
    sections = {}
    for section in draw(unique_names(draw(st.integers(1, 2)))):
        uses.append(("section", section))
        kinds = st.one_of(leaf, residual(uses), parallel(uses))
        if draw(st.booleans()):
            layer_names = draw(unique_names(draw(st.integers(1, 2))))
            uses += [("layer", n) for n in layer_names]
            sections[section] = {n: draw(kinds) for n in layer_names}
        else:
            sections[section] = [draw(kinds) for _ in range(draw(st.integers(1, 2)))]
    data = {"name": "Net", "input_shape": [3, 4, 4], "sections": sections}
    if draw(st.booleans()):  # a block's parts join the module the block compiles to
        part = draw(names)
        uses.append(("layer", part))
        data["blocks"] = {"Unit": {"layers": {part: draw(conv)}}}
        first = sections[next(iter(sections))]
        if isinstance(first, dict):
            first["the_unit"] = "Unit"  # longer than any drawn name: it clashes with none
        else:
            first.append("Unit")
    return data, uses


def refused(role: str, name: str) -> bool:
    return not name.isidentifier() or name in TAKEN[role]


def build(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", str(path), "--num-classes", str(NUM_CLASSES)])
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec())
def test_build_succeeds_with_matching_totals_or_refuses_a_name(drawn) -> None:
    data, uses = drawn
    bad = [(role, name) for role, name in uses if refused(role, name)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        code, out, err = build(path)  # an exception here fails the test: no traceback allowed
        if code == 0:
            assert not bad, f"{bad} should have been refused:\n{out}"
            model = compile_spec(resolve(load_spec(path), NUM_CLASSES), device="meta")
    if code == 0:
        total = sum(p.numel() for p in model.parameters())
        table = re.search(r"^Total params: ([\d,]+)$", out, re.MULTILINE)
        assert table is not None, out
        assert int(table.group(1).replace(",", "")) == total, out
        return
    assert code == EXIT_USER_ERROR, out + err
    assert "Traceback" not in err and "archspec build: error:" in err, err
    assert bad, f"nothing in {uses} clashes, yet:\n{err}"
    assert any(f"'{name}' cannot name" in err for _, name in bad), err
