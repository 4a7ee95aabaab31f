"""Shipped specs by name: on the command line, in `extends`, and listed by `archspec models`."""

from __future__ import annotations

import pytest
import torch
import torchvision
from spec_test_paths import SHIPPED_SPECS, STUDY_SPECS, ZOO, ZOO_SPECS

from archspec.catalog import shipped_specs, spec_path


def test_every_shipped_file_has_a_name_and_the_zoo_wins_a_clash() -> None:
    assert sorted(shipped_specs()) == sorted({p.stem for p in SHIPPED_SPECS})
    for path in STUDY_SPECS:
        if path.stem not in {p.stem for p in ZOO_SPECS}:
            assert shipped_specs()[path.stem].read_bytes() == path.read_bytes()
    for path in ZOO_SPECS:
        assert shipped_specs()[path.stem].read_bytes() == path.read_bytes()


def test_a_name_builds_from_any_folder(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    by_name = cli("build", "resnet18", "--num-classes", "10")
    by_path = cli("build", ZOO / "resnet18.yaml", "--num-classes", "10")
    assert by_name.code == 0, by_name.text
    assert by_name.out == by_path.out and "ResNet(" in by_name.out


def test_a_file_in_the_folder_wins_over_the_shipped_name(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").write_text(
        "name: Local\nsections:\n  classifier:\n    - Flatten\n    - Linear: {out_features: 3}\n"
    )
    assert spec_path("tiny") == (tmp_path / "tiny").relative_to(tmp_path)
    result = cli("build", "tiny")
    assert result.code == 0, result.text
    assert result.out.startswith("Local(")


def test_a_name_with_a_folder_is_a_path(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "sub/tiny")
    assert result.code == 2
    assert "file not found" in result.out and "name a shipped spec (" in result.out


def test_extends_a_shipped_spec_by_name(cli, write_spec) -> None:
    path = write_spec("extends: tiny\nname: Mine\n", "elsewhere.yaml")
    mine = cli("build", path, "--num-classes", "7")
    tiny = cli("build", "tiny", "--num-classes", "7")
    assert mine.code == 0, mine.text
    assert mine.out.replace("Mine(", "AlexNetTiny(", 1) == tiny.out


def test_extends_an_unknown_name_lists_the_names(cli, write_spec) -> None:
    result = cli("validate", write_spec("extends: tinny\nname: Mine\n"))
    assert result.code == 2
    assert "extends: the base file " in result.out and "tinny does not exist" in result.out
    assert result.out.split("name a shipped spec (")[1].startswith("tiny")  # the closest first


def test_models_lists_every_shipped_spec_with_its_cost(cli) -> None:
    result = cli("models")
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0].split()[:4] == ["name", "class", "params", "mult-adds"]
    assert [line.split()[0] for line in lines[1:]] == list(shipped_specs())  # the zoo first
    # the counts are the models': torchvision's ResNet-18 at 1000 classes
    with torch.device("meta"):
        reference = torchvision.models.resnet18()
    row = next(line.split() for line in lines if line.startswith("resnet18 "))
    assert row[2] == f"{sum(p.numel() for p in reference.parameters()) / 1e6:.2f}"


@pytest.mark.parametrize("bad", ["0", "-3"])
def test_models_refuses_a_bad_class_count(cli, bad) -> None:
    result = cli("models", "--num-classes", bad)
    assert result.code == 2 and "--num-classes must be at least 1" in result.err
