"""Paths the spec-language tests share (a plain module: test files import it by name)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURES = REPO / "architectures"
SHIPPED_SPECS = sorted(ARCHITECTURES.glob("*.yaml"))
STUDY_TEXT = REPO / "tests" / "data" / "study_architectures.txt"
