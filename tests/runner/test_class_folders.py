"""Plain class folders (`DIR/<category>/<image>`, torchvision's ImageFolder layout) and a
pretrained start, through `archspec train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archspec.spec import spec_from_text
from archspec_cli import main
from tests.runner.helpers import SMALL_SPEC, write_checkpoint


@pytest.fixture
def folders(tmp_path: Path, write_tree) -> Path:
    write_tree(tmp_path / "pets", {"": {"cat": 6, "dog": 6, "fish": 5}})
    return tmp_path / "pets"


def train(spec: Path, data: Path, out: Path, task: str, *argv: str) -> int:
    return main(
        ["train", str(spec), "--task", task, "--data", str(data), "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--out", str(out), "--quiet", *argv]
    )  # fmt: skip


def test_class_folders_train_the_category_task(spec_file, folders, tmp_path, capsys):
    assert train(spec_file, folders, tmp_path / "runs", "category") == 0
    out = capsys.readouterr().out
    assert "class-folders layout" in out and "train: 14 images, val: 3 images" in out
    summary = json.loads((tmp_path / "runs" / "small-category" / "summary.json").read_text())
    assert summary["labels"] == ["cat", "dog", "fish"]


def test_class_folders_refuse_the_domain_task(spec_file, folders, tmp_path, capsys):
    assert train(spec_file, folders, tmp_path / "runs", "domain") == 2
    err = capsys.readouterr().err
    assert "has no domains" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_run_starts_from_a_checkpoint_of_another_task(spec_file, folders, tmp_path, capsys):
    start = write_checkpoint(tmp_path / "domain.pt", spec_from_text(SMALL_SPEC), list("abcd"))
    assert train(spec_file, folders, tmp_path / "runs", "category", "--init", str(start)) == 0
    out = capsys.readouterr().out
    assert f"init: loaded 4 tensors from {start}, matched by name" in out
    assert "init: re-initialised classifier.3.weight, classifier.3.bias" in out
    config = (tmp_path / "runs" / "small-category" / "config.yaml").read_text()
    assert f"init: {start}" in config
