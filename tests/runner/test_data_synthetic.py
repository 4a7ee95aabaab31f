"""The embedded synthetic dataset: layout, determinism, refusal to overwrite, caching."""

import json

import numpy as np
import pytest
import torch

import runner.data.synthetic as synthetic
from runner.data import (
    SYNTHETIC_VERSION,
    DataError,
    decode_images,
    default_cache_dir,
    discover,
    embedded_dataset,
    write_synthetic,
)
from runner.data.shapes import CATEGORIES, place

DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
SHAPES = ("circle", "cross", "heart", "ring", "square", "star", "triangle")
SMALL = {"train_per_class": 2, "val_per_class": 1, "size": 32}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("synthetic") / "data", seed=0, **SMALL)


def some_files(root):
    return [
        root / "train" / "photo" / "heart" / "heart_0000.png",
        root / "train" / "sketch" / "ring" / "ring_0001.png",
        root / "val" / "cartoon" / "star" / "star_0000.png",
        root / "val" / "art_painting" / "cross" / "cross_0000.png",
    ]


def test_folders_and_counts(small):
    for split, per_class in (("train", 2), ("val", 1)):
        folders = sorted(p.relative_to(small / split) for p in (small / split).glob("*/*"))
        assert [str(f) for f in folders] == [f"{d}/{c}" for d in DOMAINS for c in SHAPES]
        for folder in folders:
            assert len(list((small / split / folder).glob("*.png"))) == per_class
    recipe = json.loads((small / "archspec-synthetic.json").read_text())
    assert recipe == {"version": SYNTHETIC_VERSION, "seed": 0, **SMALL}


def test_it_reads_as_a_split_folders_dataset(small):
    dataset = discover(small)
    assert dataset.layout == "split-folders"
    assert dataset.domains == DOMAINS
    assert dataset.categories == SHAPES
    assert (len(dataset.train), len(dataset.val)) == (4 * 7 * 2, 4 * 7 * 1)
    decoded = decode_images([s.path for s in dataset.val], (32, 32), progress=False)
    assert decoded.images.shape == (28, 3, 32, 32) and decoded.resized == 0


def test_same_seed_same_pictures_other_seed_other_pictures(small, tmp_path):
    again = write_synthetic(tmp_path / "again", seed=0, **SMALL)
    other = write_synthetic(tmp_path / "other", seed=1, **SMALL)
    for path in some_files(small):
        assert path.read_bytes() == (again / path.relative_to(small)).read_bytes()
    first, second, third = (
        decode_images(some_files(root), (32, 32), progress=False).images
        for root in (small, again, other)
    )
    assert torch.equal(first, second)
    for a, b in zip(first, third, strict=True):
        assert not torch.equal(a, b)


def test_train_and_val_pictures_differ(small):
    train = small / "train" / "photo" / "star" / "star_0000.png"
    val = small / "val" / "photo" / "star" / "star_0000.png"
    assert train.read_bytes() != val.read_bytes()


def test_domains_look_different(tmp_path):
    # Cheap statistics a CNN can pick up at once: sketches are bright paper, cartoons have black
    # outlines on flat colour, paintings and photos have many distinct colours.
    root = write_synthetic(tmp_path / "d", train_per_class=3, val_per_class=1, size=64)
    stats = {}
    for domain in DOMAINS:
        paths = sorted((root / "train" / domain).rglob("*.png"))
        images = decode_images(paths, (64, 64), progress=False).images
        stats[domain] = {
            "bright": images.float().mean().item(),
            "black": (images.amax(dim=1) < 40).float().mean().item(),
            "colours": np.mean([len(torch.unique(i.reshape(3, -1), dim=1).T) for i in images]),
        }
    assert stats["sketch"]["bright"] > 200
    assert all(stats[d]["bright"] < 200 for d in ("photo", "art_painting"))
    assert stats["cartoon"]["black"] > 0.02
    assert stats["cartoon"]["colours"] < stats["photo"]["colours"] / 4
    assert stats["cartoon"]["colours"] < stats["art_painting"]["colours"] / 4


def test_shapes_stay_inside_the_picture():
    rng = np.random.default_rng(5)
    for category in CATEGORIES:
        for _ in range(200):
            placed = place(category, rng, 64)
            points = np.concatenate(placed.polygons)
            assert points.min() >= 0 and points.max() <= 64, category


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(DataError, match="not empty"):
        write_synthetic(tmp_path, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_same_recipe_again_is_left_alone_other_recipe_refused(small):
    stamp = (small / "archspec-synthetic.json").stat().st_mtime_ns
    assert write_synthetic(small, seed=0, **SMALL) == small
    assert (small / "archspec-synthetic.json").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="not empty"):
        write_synthetic(small, seed=1, **SMALL)
    with pytest.raises(DataError, match="not empty"):
        write_synthetic(small, seed=0, **{**SMALL, "size": 33})


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHSPEC_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("ARCHSPEC_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "archspec"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "archspec"


@pytest.fixture
def counted_writes(monkeypatch, tmp_path):
    """Small pictures for embedded_dataset, and a list of the folders it wrote into."""
    monkeypatch.setenv("ARCHSPEC_CACHE", str(tmp_path / "cache"))
    real, calls = synthetic.write_synthetic, []

    def small_write(root, *, seed):
        calls.append(root)
        return real(root, seed=seed, **SMALL)

    monkeypatch.setattr(synthetic, "write_synthetic", small_write)
    return calls


def test_embedded_dataset_is_generated_once(counted_writes, tmp_path):
    first = embedded_dataset(seed=3)
    assert first == tmp_path / "cache" / f"synthetic-v{SYNTHETIC_VERSION}-seed3"
    assert len(list(first.glob("val/*/*/*.png"))) == 4 * 7
    assert embedded_dataset(seed=3) == first
    assert len(counted_writes) == 1
    assert counted_writes[0] != first  # written elsewhere, then moved into place
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no leftovers


def test_interrupted_generation_leaves_nothing(counted_writes, monkeypatch, tmp_path):
    def broken_write(root, *, seed):
        (root / "train").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "write_synthetic", broken_write)
    with pytest.raises(KeyboardInterrupt):
        embedded_dataset()
    assert list((tmp_path / "cache").iterdir()) == []
