"""PACS as it is released: `kfold/` images beside `pacs_label/` split files, with the official
files' two defects (line 1 of art_painting_crossval_kfold.txt says label 0; an image listed
twice). Training reads it with warnings instead of refusing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from archspec_cli import main
from runner.data import discover
from tests.runner.helpers import SMALL_SPEC

DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
CATEGORIES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PACS/kfold/<domain>/<category>/pic_00N.jpg and PACS/pacs_label/*.txt, 3 images a class."""
    root = tmp_path_factory.mktemp("pacs") / "PACS"
    for d, domain in enumerate(DOMAINS):
        for c, category in enumerate(CATEGORIES):
            folder = root / "kfold" / domain / category
            folder.mkdir(parents=True)
            for i in range(3):
                colour = (30 * c, 60 * d, 80 * i)
                Image.new("RGB", (32, 28), colour).save(folder / f"pic_{i:03d}.jpg")
    labels = root / "pacs_label"
    labels.mkdir()
    for domain in DOMAINS:
        for split, indices in (("train", (0, 1)), ("crossval", (2,)), ("test", (0, 1, 2))):
            lines = [
                f"{domain}/{category}/pic_{i:03d}.jpg {label}"
                for label, category in enumerate(CATEGORIES, 1)
                for i in indices
            ]
            if (domain, split) == ("art_painting", "crossval"):
                lines[0] = lines[0].replace(" 1", " 0")  # the released file's line 1
            if (domain, split) == ("art_painting", "train"):
                lines.insert(3, lines[2])  # an image listed twice
            (labels / f"{domain}_{split}_kfold.txt").write_text("\n".join(lines) + "\n")
    return root


def test_the_released_defects_are_warnings(pacs):
    dataset = discover(pacs / "kfold")
    crossval = pacs / "pacs_label" / "art_painting_crossval_kfold.txt"
    train = pacs / "pacs_label" / "art_painting_train_kfold.txt"
    notes = "\n".join(dataset.notes)
    assert f"{crossval}:1: label 0 (out of range) but the image is in dog (1)" in notes
    assert f"{train}:4: art_painting/elephant/pic_000.jpg repeats line 3; counted once" in notes
    assert len(dataset.train) == 4 * 7 * 2
    assert len(dataset.val) == 4 * 7
    assert next(s.category for s in dataset.val if s.domain == "art_painting") == "dog"


def test_training_on_the_release_with_a_held_out_domain(pacs, tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    code = main(
        ["train", str(spec), "--task", "category", "--data", str(pacs / "kfold"),
         "--holdout-domain", "sketch", "--epochs", "1", "--batch-size", "32", "--workers", "1",
         "--out", str(tmp_path / "runs"), "--quiet"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "warning: 1 label in the PACS split files disagrees" in out
    assert "warning: 1 line of the PACS split files repeats an image" in out
    assert "sketch_test_kfold.txt" in out
    summary = json.loads(
        (tmp_path / "runs" / "small-category-holdout-sketch" / "summary.json").read_text()
    )
    assert summary["holdout_domain"] == "sketch" and 0 <= summary["test_accuracy"] <= 1
