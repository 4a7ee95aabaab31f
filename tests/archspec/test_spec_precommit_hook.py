"""The pre-commit hook other repositories use to validate their specs."""

from __future__ import annotations

import re

import yaml
from spec_test_paths import REPO, SHIPPED_SPECS


def hook() -> dict:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (found,) = [h for h in hooks if h["id"] == "archspec-validate"]
    return found


def test_the_hook_picks_spec_files_only() -> None:
    files = re.compile(hook()["files"])
    for path in SHIPPED_SPECS:
        assert files.search(path.relative_to(REPO).as_posix()), path
    assert files.search("models/architectures/resnet.yml")
    assert not files.search(".github/workflows/ci.yml")
    assert not files.search("configs/train.yaml")


def test_the_hook_entry_validates_what_it_is_given(cli, tmp_path) -> None:
    program, *command = hook()["entry"].split()
    assert program == "archspec"  # the console script pyproject.toml installs
    assert cli(*command, *SHIPPED_SPECS).code == 0
    bad = tmp_path / "architectures" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("name: Bad\nsections: {features: [Conv2D]}\n")
    result = cli(*command, SHIPPED_SPECS[0], bad)
    assert result.code == 2
    assert "line 2, features[0]: unknown layer kind 'Conv2D'" in result.out
