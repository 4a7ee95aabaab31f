"""Paths the spec-language tests share (a plain module: test files import it by name)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURES = REPO / "architectures"
ZOO = ARCHITECTURES / "zoo"  # torchvision's models, by torchvision's names
STUDY_SPECS = sorted(ARCHITECTURES.glob("*.yaml"))
ZOO_SPECS = sorted(ZOO.glob("*.yaml"))
SHIPPED_SPECS = STUDY_SPECS + ZOO_SPECS
# What the per-spec checks that build full-size models cover: the study's specs and two zoo
# models with blocks (test_zoo.py checks the whole zoo, on the meta device).
BUILT_SPECS = [*STUDY_SPECS, ZOO / "resnet18.yaml", ZOO / "squeezenet1_1.yaml"]
STUDY_TEXT = REPO / "tests" / "data" / "study_architectures.txt"
