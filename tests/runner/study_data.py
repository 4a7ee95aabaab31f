"""A small embedded dataset for tests that measure models on images (compare's CKA, the
sweep's report): 56 validation images of 16x16 instead of the real set's 280 of 227x227,
put where $ARCHSPEC_CACHE makes the runner find it, so every run's "no --data" resolves to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.data import SYNTHETIC_VERSION, write_synthetic


def write_small_embedded(cache: Path) -> Path:
    target = cache / f"synthetic-v{SYNTHETIC_VERSION}-seed0"
    write_synthetic(target, seed=0, train_per_class=1, val_per_class=2, size=16)
    return cache


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory) -> Path:
    return write_small_embedded(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def small_embedded(small_cache, monkeypatch) -> Path:
    """Use in a test (or autouse in a module) to train and compare on the small set."""
    monkeypatch.setenv("ARCHSPEC_CACHE", str(small_cache))
    return small_cache / f"synthetic-v{SYNTHETIC_VERSION}-seed0"
