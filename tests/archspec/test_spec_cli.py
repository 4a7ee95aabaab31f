"""The spec commands: build's per-layer table, --num-classes, layers, schema, python -m archspec."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jsonschema
import pytest
import torch
import yaml
from hand_written import AlexNet
from spec_test_paths import ARCHITECTURES, REPO, SHIPPED_SPECS
from torch import nn

from archspec.layers import LAYER_KINDS

ALEXNET = ARCHITECTURES / "alexnet.yaml"


def table_rows(out: str) -> list[list[str]]:
    """The rows of build's per-layer table: the lines between its two `====` rules."""
    lines = out.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"="}]
    assert len(rules) == 2, out
    return [line.split() for line in lines[rules[0] + 1 : rules[1]]]


def pair_text(value: object) -> str:
    a, b = value if isinstance(value, tuple) else (value, value)
    return f"{a}x{b}"


@pytest.fixture(scope="module")
def hand_alexnet() -> tuple[list[tuple[str, nn.Module, tuple[int, ...]]], int, int]:
    """(name, module, output shape) of every layer of the hand-written AlexNet, its parameter
    count, and its mult-adds per image (one per weight or bias use, torchinfo's convention)."""
    model = AlexNet(num_classes=4).eval()
    leaves = [m for m in model.modules() if not list(m.children())]
    shapes: dict[nn.Module, tuple[int, ...]] = {}

    def record(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        shapes[module] = tuple(output.shape)

    hooks = [m.register_forward_hook(record) for m in leaves]
    with torch.no_grad():
        model(torch.zeros(1, 3, 227, 227))
    for hook in hooks:
        hook.remove()
    layers = [(f"{type(m).__name__}-{i}", m, tuple(shapes[m][1:])) for i, m in enumerate(leaves, 1)]
    mult_adds = 0
    for _, m, shape in layers:
        params = sum(p.numel() for p in m.parameters())
        mult_adds += params * (math.prod(shape[1:]) if isinstance(m, nn.Conv2d) else 1)
    return layers, sum(p.numel() for p in model.parameters()), mult_adds


def test_build_prints_the_model_and_the_per_layer_table(cli, hand_alexnet) -> None:
    layers, total_params, mult_adds = hand_alexnet
    result = cli("build", ALEXNET, "--task", "domain")
    assert result.code == 0, result.err
    model_text, _, table = result.out.partition("\n\n")
    assert model_text == repr(AlexNet(num_classes=4))
    assert table.splitlines()[1].split()[2:6] == ["Kernel", "Padding", "Stride", "Dilation"]
    rows = table_rows(table)
    assert [row[0] for row in rows] == [name for name, _, _ in layers]
    assert rows[0][0] == "Conv2d-1" and rows[-1][0] == "Linear-20"
    for row, (name, module, shape) in zip(rows, layers, strict=True):
        if isinstance(module, nn.Conv2d | nn.MaxPool2d):
            window = [pair_text(getattr(module, f)) for f in ("kernel_size", "padding", "stride")]
            assert row[1:5] == [*window, pair_text(module.dilation)], name
        else:
            assert row[1:5] == ["-"] * 4, name
        assert row[5] == "x".join(map(str, shape)), name
        assert row[8] == f"{sum(p.numel() for p in module.parameters()):,}", name
    # the study's own numbers, written out: the first conv, a pooling layer, the 9216 flatten
    assert rows[0][:6] == ["Conv2d-1", "11x11", "0x0", "4x4", "1x1", "96x55x55"]
    assert rows[2][:6] == ["MaxPool2d-3", "3x3", "0x0", "2x2", "1x1", "96x27x27"]
    assert rows[12][5] == "256x6x6" and rows[14][5] == "9216"
    assert f"Total params: {total_params:,}\n" in table
    assert f"Trainable params: {total_params:,}\n" in table
    assert f"Mult-adds per image: {mult_adds:,} ({mult_adds / 1e9:.2f} G)" in table


def test_num_classes_sets_the_last_linear(cli) -> None:
    result = cli("build", ALEXNET, "--num-classes", "10")
    assert result.code == 0, result.err
    assert "(6): Linear(in_features=4096, out_features=10, bias=True)\n  )\n)" in result.out
    last = table_rows(result.out)[-1]
    assert last[0] == "Linear-20" and last[5:] == [
        "10",
        "-",
        "-",
        f"{4096 * 10 + 10:,}",
        "classifier.6",
    ]


def test_task_category_gives_seven_classes(cli) -> None:
    result = cli("build", ARCHITECTURES / "tiny.yaml", "--task", "category", "--no-summary")
    assert result.code == 0, result.err
    assert "(6): Linear(in_features=1024, out_features=7, bias=True)" in result.out
    assert "Total params" not in result.out


def test_layers_lists_every_registered_kind(cli) -> None:
    result = cli("layers")
    assert result.code == 0, result.err
    listed = [line.split()[0] for line in result.out.splitlines() if not line.startswith(" ")]
    assert listed == [*sorted(LAYER_KINDS), "Residual", "Parallel", "Sequential"]


def test_layers_shows_the_fields_of_one_kind(cli) -> None:
    result = cli("layers", "Conv2d")
    assert result.code == 0, result.err
    assert result.out.startswith("Conv2d  [input: (C, H, W)]")
    fields = [line.split(":")[0].strip() for line in result.out.splitlines()[1:]]
    assert fields == list(LAYER_KINDS["Conv2d"].model_fields)
    assert "    in_channels: inferred" in result.out
    assert "    kernel_size: required" in result.out
    assert "    stride: default 1" in result.out


def test_layers_suggests_a_kind(cli) -> None:
    result = cli("layers", "Conv2D")
    assert result.code == 2
    assert "unknown layer kind 'Conv2D'; did you mean Conv2d?" in result.err
    assert "Traceback" not in result.err


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.protocols.Validator:
    from archspec.schema import spec_json_schema_text

    schema = json.loads(spec_json_schema_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_schema_command_prints_the_committed_schema(cli, tmp_path) -> None:
    """architectures/archspec-spec.schema.json is `archspec schema` output: it cannot go stale."""
    result = cli("schema")
    assert result.code == 0, result.err
    committed = (ARCHITECTURES / "archspec-spec.schema.json").read_text(encoding="utf-8")
    assert result.out == committed, "run: archspec schema --out architectures/" + (
        "archspec-spec.schema.json"
    )
    out = tmp_path / "schema.json"
    assert cli("schema", "--out", out).code == 0
    assert out.read_text(encoding="utf-8") == committed


@pytest.mark.parametrize("where", ["under a file", "deeper under a file", "a directory"])
def test_schema_out_that_cannot_be_a_file_is_refused(cli, tmp_path, where) -> None:
    notes = tmp_path / "notes"
    notes.write_text("notes")
    out = {
        "under a file": notes / "s.json",
        "deeper under a file": notes / "x" / "s.json",
        "a directory": tmp_path,
    }[where]
    result = cli("schema", "--out", out)
    assert result.code == 2
    assert f"--out {out}" in result.err
    assert ("is a directory" if where == "a directory" else f"lies under {notes}") in result.err
    assert "Traceback" not in result.err
    assert notes.read_text() == "notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # no temporary file left


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.stem)
def test_schema_accepts_the_shipped_specs(path, schema_validator) -> None:
    schema_validator.validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "layer",
    [
        {"Conv2D": {"out_channels": 8, "kernel_size": 3}},  # unknown kind
        {"Conv2d": {"out_channels": 8, "kernel": 3}},  # unknown field
        {"Conv2d": {"out_channels": 8}},  # missing field
        {"Conv2d": {"out_channels": 8, "kernel_size": "3"}},  # mistyped field
        {"Dropout": {"p": 1.5}},  # out of range
        "Conv2d",  # a bare kind that has required fields
    ],
    ids=["unknown-kind", "unknown-field", "missing-field", "string-kernel", "p-above-1", "bare"],
)
def test_schema_rejects_a_bad_layer(layer, schema_validator) -> None:
    data = yaml.safe_load(ALEXNET.read_text(encoding="utf-8"))
    assert schema_validator.is_valid(data)
    data["sections"]["features"][0] = layer
    assert not schema_validator.is_valid(data)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("$in_channels", True), ("${in_channels * 2}", True), ("in_channels", False), ("8", False)],
)
def test_schema_takes_an_expression_for_a_field_outside_blocks(value, valid, schema_validator):
    data = yaml.safe_load(ALEXNET.read_text(encoding="utf-8"))
    data["sections"]["features"][0] = {"Conv2d": {"out_channels": value, "kernel_size": 3}}
    assert schema_validator.is_valid(data) == valid


def test_python_dash_m_archspec_builds(tmp_path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "archspec", "build", "architectures/tiny.yaml", "--task", "domain"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("AlexNetTiny(\n  (features): Sequential(\n")
    assert "(6): Linear(in_features=1024, out_features=4, bias=True)" in completed.stdout
    assert "Linear-20" in completed.stdout
