"""`archspec expand`: the resolved spec as YAML that builds the same model, and a fixed point."""

from __future__ import annotations

import pytest
import yaml
from spec_test_paths import ARCHITECTURES, SHIPPED_SPECS, ZOO

from archspec.compiler import compile_spec
from archspec.expanded_spec import expanded_yaml
from archspec.shapes import resolve
from archspec.spec import load_spec, spec_from_text


def model_of(spec, num_classes=7):
    return compile_spec(resolve(spec, num_classes), device="meta")


def expand_text(path, num_classes=None) -> str:
    return expanded_yaml(load_spec(path), num_classes)


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.name)
def test_expanded_spec_builds_the_same_model(path, tmp_path) -> None:
    text = expand_text(path)
    expanded = tmp_path / path.name
    expanded.write_text(text)
    original, again = model_of(load_spec(path)), model_of(load_spec(expanded))
    shapes = {k: tuple(v.shape) for k, v in original.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in again.state_dict().items()} == shapes
    # the same printout, block class names included (BasicBlock, Fire)
    assert repr(again) == repr(original)


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.name)
def test_expanding_twice_changes_nothing(path, tmp_path) -> None:
    once = expand_text(path)
    expanded = tmp_path / "once.yaml"
    expanded.write_text(once)
    assert expand_text(expanded) == once


def test_expand_writes_every_inferred_size_and_nothing_to_expand() -> None:
    data = yaml.safe_load(expand_text(ZOO / "resnet18.yaml"))
    assert "blocks" not in data and "extends" not in data
    layer2 = data["sections"]["layer2"]
    assert len(layer2) == 2  # repeat: 2 written out
    first = layer2[0]["Residual"]
    assert first["class"] == "BasicBlock"
    assert first["body"]["conv1"]["Conv2d"]["in_channels"] == 64
    assert first["body"]["conv1"]["Conv2d"]["stride"] == 2  # `first: {stride: 2}` applied
    assert first["body"]["bn1"] == {"BatchNorm2d": {"num_features": 128}}
    # shortcut: auto written out as the projection it chose
    assert first["shortcut"] == [
        {
            "Conv2d": {
                "in_channels": 64,
                "out_channels": 128,
                "kernel_size": 1,
                "stride": 2,
                "bias": False,
            }
        },
        {"BatchNorm2d": {"num_features": 128}},
    ]
    assert layer2[1]["Residual"]["shortcut"] == "identity"
    assert data["sections"]["fc"] == {"Linear": {"in_features": 512, "out_features": "num_classes"}}


def test_expand_applies_extends_and_binds_num_classes_when_asked() -> None:
    data = yaml.safe_load(expand_text(ARCHITECTURES / "tiny.yaml", num_classes=4))
    assert data["name"] == "AlexNetTiny"
    assert data["sections"]["classifier"][1] == {
        "Linear": {"in_features": 4608, "out_features": 2048}
    }
    assert data["sections"]["classifier"][-1]["Linear"]["out_features"] == 4
    assert not any(
        "id" in fields for item in data["sections"]["features"] for fields in item.values()
    )


def test_a_size_that_follows_from_an_unbound_num_classes_stays_inferred() -> None:
    text = """
name: Two
input_shape: [3, 8, 8]
sections:
  head:
    - Linear: {out_features: num_classes}
    - Linear: {out_features: 3}
"""
    data = yaml.safe_load(expanded_yaml(spec_from_text(text), None))
    head = data["sections"]["head"]
    assert head[0] == {"Linear": {"in_features": 192, "out_features": "num_classes"}}
    assert head[1] == {"Linear": {"out_features": 3}}  # its in_features is the class count
    bound = yaml.safe_load(expanded_yaml(spec_from_text(text), 5))["sections"]["head"]
    assert bound[1] == {"Linear": {"in_features": 5, "out_features": 3}}


def test_expand_command_prints_yaml_and_exits_2_on_a_bad_spec(cli, tmp_path) -> None:
    result = cli("expand", str(ARCHITECTURES / "dilation.yaml"), "--set", "conv1.stride=2")
    assert result.code == 0, result.err
    data = yaml.safe_load(result.out)
    assert data["sections"]["features"][0]["Conv2d"]["stride"] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: missing.yaml\nname: X\n")
    result = cli("expand", str(bad))
    assert result.code == 2
    assert "missing.yaml" in result.err and "Traceback" not in result.err


CLASSED = """
name: Classed
input_shape: [3, 8, 8]
sections:
  features:
    - Residual: {class: Skip, body: [Conv2d: {out_channels: 3, kernel_size: 1}]}
    - Sequential: {class: Pair, layers: {a: ReLU, b: ReLU}}
    - Parallel: {class: Two, branches: [[ReLU], [ReLU]], merge: sum}
"""


def test_class_names_a_structure_in_the_printout() -> None:
    printed = repr(model_of(spec_from_text(CLASSED)))
    assert "(0): Skip(" in printed and "(1): Pair(" in printed and "(2): Two(" in printed


@pytest.mark.parametrize(
    "change, message",
    [
        ("class: Skip,", "class: conv,"),
        ("class: Pair, layers:", "class: Pair, extra: 1, layers:"),
        ("class: Two,", "class: Conv2d,"),
    ],
)
def test_a_bad_class_is_a_located_error(cli, tmp_path, change, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CLASSED.replace(change, message))
    result = cli("validate", path)
    assert result.code == 2 and "Traceback" not in result.text
    assert "class" in result.out and "line " in result.out, result.out
