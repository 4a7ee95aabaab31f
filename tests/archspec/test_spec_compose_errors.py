"""Mistakes in variants: exit 2, no traceback, the file and line of the override, and its base."""

from __future__ import annotations

import textwrap

import pytest

BASE = """\
name: Base
input_shape: [3, 32, 32]
sections:
  features:
    - Conv2d: {id: conv1, out_channels: 8, kernel_size: 3}
    - ReLU
    - MaxPool2d: {id: pool1, kernel_size: 2}
  classifier:
    - Linear: {out_features: 10}
"""


@pytest.fixture
def files(tmp_path):
    """files(name=text, ...) writes spec files beside base.yaml; returns the folder."""
    (tmp_path / "base.yaml").write_text(BASE)

    def write(**texts: str):
        for name, text in texts.items():
            (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
        return tmp_path

    return write


def refused(cli, path, *fragments: str, command: str = "validate") -> str:
    result = cli(command, path)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"
    return result.text


def test_an_extends_cycle(cli, files) -> None:
    folder = files(a="extends: b.yaml\nname: A\n", b="name: B\nextends: a.yaml\n")
    refused(
        cli,
        folder / "a.yaml",
        f"line 2 of {folder / 'b.yaml'}: extends:",
        "a.yaml -> b.yaml -> a.yaml is a cycle",
        "fix: a base cannot extend its own variant",
    )


def test_a_cycle_further_down_a_chain(cli, files) -> None:
    folder = files(a="extends: b.yaml\n", b="extends: c.yaml\n", c="extends: b.yaml\n")
    refused(
        cli,
        folder / "a.yaml",
        f"  - line 1 of {folder / 'c.yaml'}: extends: {folder / 'b.yaml'} is already being "
        "extended: b.yaml -> c.yaml -> b.yaml is a cycle",
    )


def test_a_spec_extending_itself(cli, files) -> None:
    folder = files(a="extends: ./a.yaml\n")
    refused(cli, folder / "a.yaml", "line 1: extends:", "a.yaml -> a.yaml is a cycle")


def test_a_missing_base(cli, files) -> None:
    folder = files(v="name: V\nextends: alexnet.yml\n")
    refused(
        cli,
        folder / "v.yaml",
        f"line 2: extends: the base file {folder / 'alexnet.yml'} does not exist",
        f"fix: the path is relative to this file's folder ({folder}/)",
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("[a.yaml]", "give the file this spec changes, got ['a.yaml']"),
        ("/etc/base.yaml", "/etc/base.yaml is an absolute path"),
        (".", "is a folder"),
    ],
    ids=["list", "absolute", "folder"],
)
def test_extends_that_names_no_file(cli, files, value, fragment) -> None:
    folder = files(v=f"extends: {value}\n")
    refused(cli, folder / "v.yaml", "line 1: extends: ", fragment)


def test_a_broken_base_is_reported_in_the_base(cli, files, tmp_path) -> None:
    (tmp_path / "base.yaml").write_text("name: Base\nsections: {features: [ReLU}\n")
    folder = files(v="extends: base.yaml\n")
    refused(
        cli,
        folder / "v.yaml",
        f"{folder / 'v.yaml'}: 1 problem",
        f"line 2 of {folder / 'base.yaml'}: YAML syntax error",
    )
    (tmp_path / "base.yaml").write_text("")
    refused(cli, folder / "v.yaml", f"  - {folder / 'base.yaml'}: the file is empty")


def test_an_override_index_out_of_range(cli, files) -> None:
    folder = files(v="extends: base.yaml\nset:\n  features.3.kernel_size: 5\n")
    refused(
        cli,
        folder / "v.yaml",
        f"line 3 (applied to {folder / 'base.yaml'}): set features.3.kernel_size: "
        "features has 3 layers (0 to 2)",
        "fix: count from 0",
    )


def test_an_override_naming_nothing_gets_a_suggestion(cli, files) -> None:
    folder = files(v="extends: base.yaml\ndelete: [pool_1]\n")
    refused(
        cli,
        folder / "v.yaml",
        "line 2 (applied to",
        "delete pool_1: 'pool_1' is not a section, a layer id or a top-level key",
        "fix: did you mean pool1?",
    )


def test_an_override_of_a_field_the_kind_does_not_have(cli, files) -> None:
    folder = files(v="extends: base.yaml\nname: V\nset:\n  conv1: {kernal_size: 5}\n")
    refused(
        cli,
        folder / "v.yaml",
        f"line 4 (applied to {folder / 'base.yaml'}), features[0] Conv2d: "
        "unknown field 'kernal_size'",
        "fix: did you mean kernel_size?",
    )


def test_a_bad_value_from_a_middle_file_names_that_file(cli, files) -> None:
    folder = files(
        middle="extends: base.yaml\nset: {pool1.kernel_size: -2}\n",
        top="extends: middle.yaml\nname: Top\n",
    )
    refused(
        cli,
        folder / "top.yaml",
        f"{folder / 'top.yaml'}: 1 problem",
        f"line 2 of {folder / 'middle.yaml'} (applied to {folder / 'base.yaml'}), "
        "features[2] MaxPool2d.kernel_size",
    )


def test_set_with_a_layer_in_place_of_fields_points_to_replace(cli, files) -> None:
    folder = files(v="extends: base.yaml\nset:\n  pool1: {AvgPool2d: {kernel_size: 2}}\n")
    refused(
        cli,
        folder / "v.yaml",
        "set pool1 changes fields of the MaxPool2d there, and AvgPool2d is not a field",
        "fix: to put another layer in its place: replace: {pool1: {AvgPool2d: ...}}",
    )


def test_edits_that_contradict_each_other(cli, files) -> None:
    folder = files(v="extends: base.yaml\ndelete: [pool1]\nset:\n  pool1.kernel_size: 3\n")
    refused(
        cli,
        folder / "v.yaml",
        "line 4 (applied to",
        "set pool1.kernel_size: that is inside pool1, which this file also deletes (line 2)",
    )


def test_insert_next_to_a_section_rather_than_a_layer(cli, files) -> None:
    folder = files(v="extends: base.yaml\ninsert_after:\n  features: [ReLU]\n")
    refused(cli, folder / "v.yaml", "insert_after features: that is not a layer")


def test_edits_without_a_base(cli, files) -> None:
    folder = files(v=BASE + "delete: [pool1]\n")
    refused(
        cli,
        folder / "v.yaml",
        "line 10: delete changes the spec named by extends, and this file extends none",
    )


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        ("insert_after: {conv1: [{ReLU: {id: conv1}}]}", "the id 'conv1' is given to two layers"),
        ("set: {conv1.id: 1st}", "a layer id is a name such as conv1, got '1st'"),
        ("set: {conv1.id: features}", "the id 'features' is also a section or top-level key"),
    ],
    ids=["duplicate", "not-a-name", "a-section-name"],
)
def test_bad_ids(cli, files, edit, fragment) -> None:
    folder = files(v=f"extends: base.yaml\n{edit}\n")
    refused(cli, folder / "v.yaml", fragment)


def test_edits_of_the_wrong_shape(cli, files) -> None:
    folder = files(v="extends: base.yaml\nset: [conv1]\nreplace: {7.5: ReLU}\n")
    refused(
        cli,
        folder / "v.yaml",
        "line 2 (applied to",
        "): set is a mapping of targets to values",
        "): replace: a target is a path such as features.0 or conv1, got 7.5",
    )
    folder = files(v="extends: base.yaml\nreplace: {true: ReLU}\n")
    refused(cli, folder / "v.yaml", "line 2: the key 'true' is read by YAML as true or false")
    folder = files(v="extends: base.yaml\nreplace: {[1, 2]: ReLU}\n")
    refused(cli, folder / "v.yaml", "line 2: a mapping key is a list or a mapping")
