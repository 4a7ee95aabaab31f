"""Every spec in architectures/ validates, builds and runs, and says what it is and how to run."""

from __future__ import annotations

import re

import pytest
import torch
from spec_test_paths import BUILT_SPECS, SHIPPED_SPECS, STUDY_SPECS, ZOO

from archspec.compiler import build_model
from archspec.spec import load_spec

TASK_CLASSES = {"domain": 4, "category": 7}  # PACS: 4 domains, 7 object categories


def test_there_are_shipped_specs() -> None:
    assert len(SHIPPED_SPECS) >= 5


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.stem)
def test_validates(path, cli) -> None:
    result = cli("validate", path)
    assert result.code == 0, result.text
    assert result.out.startswith(f"{path}: ok (")


@pytest.mark.parametrize("task", TASK_CLASSES)
@pytest.mark.parametrize("path", BUILT_SPECS, ids=lambda p: p.stem)
def test_builds_and_runs(path, task: str) -> None:
    model = build_model(path, task=task).eval()
    channels, height, width = load_spec(path).input_shape
    with torch.no_grad():
        out = model(torch.randn(1, channels, height, width))
    assert tuple(out.shape) == (1, TASK_CLASSES[task])
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.stem)
def test_opens_with_a_header_comment(path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header, f"{path.name} must open with a comment"
    text = "\n".join(header)
    if path.parent == ZOO:  # says which torchvision model it is
        assert re.search(rf"torchvision\.models\.{path.stem}\b", text)
    else:
        assert re.search(r"archspec (build|train) architectures/" + re.escape(path.name), text)
    schema_lines = [line for line in header if "yaml-language-server: $schema=" in line]
    assert len(schema_lines) == 1
    schema = schema_lines[0].split("$schema=", 1)[1].strip()
    assert (path.parent / schema).is_file(), schema
    assert any(len(line.strip("# ")) > 20 for line in header)  # says what the variant is


def test_the_study_names_are_distinct() -> None:  # the zoo's are torchvision's class names
    names = [load_spec(path).name for path in STUDY_SPECS]
    assert len(set(names)) == len(names)
