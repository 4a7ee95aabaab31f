"""libyaml's loader (used when PyYAML has it, for speed) reads specs exactly as the pure-Python
one does: the same data, the same line of every value, the same nesting limit."""

from __future__ import annotations

import pytest
from spec_test_paths import SHIPPED_SPECS

from archspec import loader
from archspec.errors import SpecError

pytestmark = pytest.mark.skipif(loader._CLoader is None, reason="PyYAML without libyaml")


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda p: p.name)
def test_both_loaders_give_the_same_document(path) -> None:
    text = path.read_text()
    fast, slow = loader._parse(text, "x", fast=True), loader._parse(text, "x", fast=False)
    assert fast.data == slow.data
    assert fast.lines == slow.lines


@pytest.mark.parametrize(
    "text", ["[" * 150 + "]" * 150, "a:\n" + "".join("  " * i + "- k:\n" for i in range(1, 120))]
)
def test_the_fast_loader_keeps_the_nesting_limit(text) -> None:
    with pytest.raises(SpecError, match="nested more than 100 levels"):
        loader._parse(text, "x", fast=True)
