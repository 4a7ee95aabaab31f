"""The decoded-image cache: hit, miss after a change, damaged files refused, concurrent fillers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import runner.data.images as images_module
from runner.data import DataError
from runner.data.cache import decode_cached
from runner.training.config import TrainConfig
from runner.training.prepare import prepare_data

SIZE = (12, 10)  # (H, W)
HOUR_AGO = time.time() - 3600


def write_images(folder: Path, n: int = 6, seed: int = 0) -> list[Path]:
    """n random RGB PNGs of 10x12 (some at other sizes), dated an hour ago."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        shape = (12, 10, 3) if i % 3 else (20, 16, 3)  # every third one gets resized
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
        os.utime(path, (HOUR_AGO, HOUR_AGO))
        paths.append(path)
    return paths


def pil_rgb(path: Path, size=SIZE) -> torch.Tensor:
    """The independent expectation for a file already of `size`: PIL's RGB, (3, H, W)."""
    pixels = np.array(Image.open(path).convert("RGB"))
    assert pixels.shape[:2] == size
    return torch.from_numpy(pixels).permute(2, 0, 1)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def refuse_decoding(monkeypatch) -> None:
    """Make any decoding fail loudly from now on: what still works came from the cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(images_module, "decode_image", refuse)
    monkeypatch.setattr(images_module, "decode_jpeg", refuse)


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("images-*.bin"))


def test_second_lookup_is_a_hit_and_decodes_nothing(tmp_path, folder, monkeypatch):
    paths = write_images(tmp_path / "images")
    first = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert first.status == "written" and first.path == entries(folder)[0]
    assert first.decoded.resized == 2
    refuse_decoding(monkeypatch)
    second = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert second.status == "hit" and second.decoded.cached
    assert second.decoded.resized == 2 and second.decoded.kept == tuple(range(6))
    assert torch.equal(second.decoded.images, first.decoded.images)
    for i in (1, 2, 4, 5):  # the ones already of SIZE: exactly PIL's pixels
        assert torch.equal(second.decoded.images[i], pil_rgb(paths[i]))
    assert len(entries(folder)) == 1
    assert not list(folder.glob("*.tmp"))


def test_hit_is_memory_mapped_from_the_cache_file(tmp_path, folder):
    """Mapped, not read into memory: a set larger than memory streams from the file."""
    paths = write_images(tmp_path / "images")
    decode_cached(paths, SIZE, progress=False, folder=folder)
    hit = decode_cached(paths, SIZE, progress=False, folder=folder)
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs Linux's /proc to see the mapping")
    assert str(hit.path) in maps.read_text()
    hit.decoded.images[0].fill_(0)  # copy-on-write: the file keeps its pixels
    again = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert again.status == "hit" and torch.equal(again.decoded.images[1], pil_rgb(paths[1]))
    assert again.decoded.images[0].any()


@pytest.mark.parametrize("keep_time", [False, True], ids=["new-mtime", "same-size-and-mtime"])
def test_a_changed_file_is_a_miss(tmp_path, folder, keep_time):
    paths = write_images(tmp_path / "images")
    decode_cached(paths, SIZE, progress=False, folder=folder)
    before = os.stat(paths[1])
    Image.new("RGB", (10, 12), (1, 2, 3)).save(paths[1])
    if keep_time:
        # Same size and mtime as before, as a copy tool that keeps times might leave it:
        # the change time still tells.
        with paths[1].open("r+b") as f:
            f.truncate(before.st_size)
        os.utime(paths[1], ns=(before.st_atime_ns, before.st_mtime_ns))
        assert os.stat(paths[1]).st_size == before.st_size
    else:
        os.utime(paths[1], (HOUR_AGO + 60, HOUR_AGO + 60))
    changed = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert changed.status == "written"
    assert changed.decoded.images[1].flatten(1).unique(dim=1).T.tolist() == [[1, 2, 3]]
    assert torch.equal(changed.decoded.images[2], pil_rgb(paths[2]))
    assert len(entries(folder)) == 2  # the old entry is the old files' (pruned when unused)


def test_image_size_and_channels_are_part_of_the_key(tmp_path, folder):
    paths = write_images(tmp_path / "images")
    rgb = decode_cached(paths, SIZE, progress=False, folder=folder)
    gray = decode_cached(paths, SIZE, channels=1, progress=False, folder=folder)
    small = decode_cached(paths, (6, 5), progress=False, folder=folder)
    assert [rgb.status, gray.status, small.status] == ["written"] * 3
    assert gray.decoded.images.shape == (6, 1, *SIZE)
    expected = torch.from_numpy(np.array(Image.open(paths[1]).convert("L")))
    # libpng's and PIL's luma weights round differently: at most 1 apart.
    assert (gray.decoded.images[1, 0].int() - expected.int()).abs().max() <= 1
    assert small.decoded.images.shape == (6, 3, 6, 5)
    assert len(entries(folder)) == 3
    again = decode_cached(paths, SIZE, channels=1, progress=False, folder=folder)
    assert again.status == "hit" and torch.equal(again.decoded.images, gray.decoded.images)


def damage_cut_end(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 7)


def damage_cut_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def damage_flip_pixel(path: Path) -> None:
    with path.open("r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))


def damage_trailer(path: Path) -> None:
    """Claim one image fewer, with every length fixed up: only the checks of the trailer's
    content against the array catch it."""
    data = path.read_bytes()
    length = int(data[-42:-26])
    trailer = json.loads(data[-42 - length : -42])
    trailer["kept"] = trailer["kept"][:-1]
    text = json.dumps(trailer).encode()
    path.write_bytes(data[: -42 - length] + text + f"{len(text):016d}".encode() + data[-26:])


def damage_empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [damage_cut_end, damage_cut_half, damage_flip_pixel, damage_trailer, damage_empty],
    ids=lambda f: f.__name__.removeprefix("damage_"),
)
def test_a_damaged_cache_file_is_refused_and_rewritten(tmp_path, folder, damage):
    paths = write_images(tmp_path / "images")
    good = decode_cached(paths, SIZE, progress=False, folder=folder)
    expected = good.decoded.images.clone()
    damage(good.path)
    again = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert again.status.startswith("written (the old file was damaged"), again.status
    assert torch.equal(again.decoded.images, expected)
    assert decode_cached(paths, SIZE, progress=False, folder=folder).status == "hit"


def test_files_modified_just_now_are_decoded_but_not_cached(tmp_path, folder):
    paths = write_images(tmp_path / "images")
    Image.new("RGB", (10, 12), (9, 9, 9)).save(paths[0])  # mtime: now
    lookup = decode_cached(paths, SIZE, progress=False, folder=folder)
    assert lookup.status.startswith("not cached: files were modified")
    assert lookup.decoded.images[0].flatten(1).unique(dim=1).T.tolist() == [[9, 9, 9]]
    assert entries(folder) == []


def test_broken_files_are_remembered_with_their_reasons(tmp_path, folder, monkeypatch):
    paths = write_images(tmp_path / "images")
    paths[2].write_bytes(b"not an image")
    os.utime(paths[2], (HOUR_AGO, HOUR_AGO))
    with pytest.raises(DataError, match="1 image cannot be decoded"):
        decode_cached(paths, SIZE, progress=False, folder=folder)
    assert entries(folder) == []  # a failed decoding leaves nothing behind
    assert not list(folder.glob("*.tmp"))
    first = decode_cached(paths, SIZE, progress=False, skip_bad=True, folder=folder)
    refuse_decoding(monkeypatch)
    assert first.status == "written" and first.decoded.kept == (0, 1, 3, 4, 5)
    hit = decode_cached(paths, SIZE, progress=False, skip_bad=True, folder=folder)
    assert hit.status == "hit" and hit.decoded.bad == [paths[2]]
    assert torch.equal(hit.decoded.images, first.decoded.images)
    with pytest.raises(DataError) as error:  # without skip_bad: the same error as decoding
        decode_cached(paths, SIZE, progress=False, folder=folder)
    assert str(paths[2]) in str(error.value) and "--skip-bad-images" in str(error.value)


def test_off_or_unusable_folder_decodes_without_caching(tmp_path, monkeypatch):
    paths = write_images(tmp_path / "images")
    monkeypatch.setenv("ARCHSPEC_DECODED_CACHE", "off")
    off = decode_cached(paths, SIZE, progress=False)
    assert off.status.startswith("not cached: ARCHSPEC_DECODED_CACHE is off")
    a_file = tmp_path / "file"
    a_file.write_text("a file where a folder belongs")
    monkeypatch.setenv("ARCHSPEC_DECODED_CACHE", str(a_file))
    blocked = decode_cached(paths, SIZE, progress=False)
    assert blocked.status.startswith("not cached: cannot use")
    assert torch.equal(off.decoded.images, blocked.decoded.images)
    assert torch.equal(off.decoded.images[1], pil_rgb(paths[1]))


FILLER = """
import sys, time
from pathlib import Path
from runner.data.cache import decode_cached
paths = [Path(p) for p in sys.argv[3:]]
start = Path(sys.argv[2])
print("ready", flush=True)
while not start.exists():  # both processes begin together
    time.sleep(0.001)
lookup = decode_cached(paths, (12, 10), workers=1, progress=False, folder=Path(sys.argv[1]))
print(lookup.status, int(lookup.decoded.images.sum()))
"""


def test_two_processes_filling_at_once(tmp_path, folder):
    paths = write_images(tmp_path / "images", n=60)
    start = tmp_path / "start"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", FILLER, str(folder), str(start), *map(str, paths)]
    fillers = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for filler in fillers:  # both have imported torch and wait at the start line
        assert filler.stdout.readline().strip() == "ready", filler.stderr.read()
    start.touch()
    results = [filler.communicate(timeout=120) for filler in fillers]
    for filler, (_, err) in zip(fillers, results, strict=True):
        assert filler.returncode == 0, err
    statuses = sorted(out.split()[0] for out, _ in results)
    sums = {out.split()[1] for out, _ in results}
    # One filled the entry while the other waited for it and read it: never both decoding.
    assert statuses == ["hit", "written"]
    assert len(sums) == 1
    expected = decode_cached(paths, SIZE, progress=False, folder=tmp_path / "elsewhere")
    assert sums == {str(int(expected.decoded.images.sum()))}
    assert len(entries(folder)) == 1 and not list(folder.glob("*.tmp"))


def test_prepare_data_reads_the_second_run_from_the_cache(tmp_path, folder, monkeypatch):
    for split in ("train", "val"):
        for domain in ("photo", "sketch"):
            for category in ("dog", "cat"):
                write_images(tmp_path / "data" / split / domain / category, n=2)
    monkeypatch.setenv("ARCHSPEC_DECODED_CACHE", str(folder))
    config = TrainConfig(spec="unused.yaml", task="domain", data=str(tmp_path / "data"))
    first = prepare_data(config, SIZE, progress=False)
    assert any("decoded 8 images" in note and str(folder) in note for note in first.notes)
    second = prepare_data(config, SIZE, progress=False)
    assert any("8 images read decoded from the cache" in note for note in second.notes)
    assert torch.equal(first.train_images, second.train_images)
    assert torch.equal(first.train_labels, second.train_labels)
    assert len(entries(folder)) == 2  # train and val
