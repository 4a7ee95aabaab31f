"""Every architecture printed in the study comes out of its spec file exactly as printed."""

from __future__ import annotations

import pytest
from spec_test_paths import ARCHITECTURES, STUDY_TEXT

# STUDY_TEXT: the five "Model Architecture" blocks copied verbatim from the study, each after a
# `=== <stem>` line naming the spec file that must print it.


def study_blocks() -> dict[str, str]:
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in STUDY_TEXT.read_text(encoding="utf-8").splitlines():
        if line.startswith("=== "):
            current = blocks.setdefault(line.removeprefix("=== ").strip(), [])
        else:
            assert current is not None, "the file must start with a `=== <stem>` line"
            current.append(line)
    return {stem: "\n".join(lines) for stem, lines in blocks.items()}


BLOCKS = study_blocks()


def rstripped_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


def test_the_study_text_holds_the_five_architectures() -> None:
    assert list(BLOCKS) == ["alexnet", "large_kernel", "tiny", "avg_pooling", "dilation"]
    first_lines = [block.splitlines()[0].rstrip() for block in BLOCKS.values()]
    assert first_lines == [
        "AlexNet(",
        "AlexNetLargeKernel(",
        "AlexNetTiny(",
        "AlexNetAvgPooling(",
        "AlexNetDilation(",
    ]


@pytest.mark.parametrize("stem", list(BLOCKS))
def test_build_prints_the_study_architecture(stem: str, cli) -> None:
    result = cli("build", ARCHITECTURES / f"{stem}.yaml", "--task", "domain", "--no-summary")
    assert result.code == 0, result.err
    assert rstripped_lines(result.out) == rstripped_lines(BLOCKS[stem])
