"""Helpers that write test inputs: small image folders in the layouts the data layer reads, and
checkpoints of seeded (untrained) models."""

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from PIL import Image

from runner.data import write_synthetic
from tests.runner.helpers import SMALL_SPEC

# domain -> category -> how many images
Counts = Mapping[str, Mapping[str, int]]


def png(
    path: Path, size: tuple[int, int] = (8, 8), colour: tuple[int, int, int] = (200, 30, 90)
) -> Path:
    """A tiny solid-colour RGB PNG at `path` (folders created); size is (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def write_tree() -> Callable[[Path, Counts], list[Path]]:
    """write_tree(base, {domain: {category: n}}) -> the image paths written, sorted."""

    def write(base: Path, counts: Counts) -> list[Path]:
        paths = []
        for domain, categories in counts.items():
            for category, n in categories.items():
                folder = base / domain / category
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    paths.append(png(folder / f"{category}_{i:03d}.png"))
        return sorted(paths)

    return write


@pytest.fixture
def write_png() -> Callable[..., Path]:
    """write_png(path, size=(w, h), colour=(r, g, b)) -> path."""
    return png


@pytest.fixture(autouse=True, scope="session")
def decoded_cache(tmp_path_factory):
    """Decoded images are cached in a folder of the test session, never in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARCHSPEC_DECODED_CACHE", str(tmp_path_factory.mktemp("decoded")))
        yield


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """SMALL_SPEC (helpers.py) written to a file: the runner tests' usual spec."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SPEC)
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded set's pictures at 24x24, 4 domains x 7 categories x (2 train + 1 val), in
    the split-folders layout: one per test module. A module needing another set defines its own
    `synthetic`, which takes precedence."""
    root = tmp_path_factory.mktemp("synthetic") / "data"
    write_synthetic(root, seed=0, train_per_class=2, val_per_class=1, size=24)
    return root
