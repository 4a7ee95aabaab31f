"""Decoding a data set: the runner's decode against the bare decoder, and the cache's effect.

Run by hand (not a test):

    python bench/bench_decode.py                   # 1,120 synthetic PNGs and JPEGs, CPU
    python bench/bench_decode.py --device cuda     # adds nvjpeg (JPEGs decoded on the GPU)
    python bench/bench_decode.py --images 8000 --rounds 5

Measured in interleaved rounds, every figure a median with its range:
  bare decoder    torchvision's read_file + decode_image in a pool of one thread per core, the
                  result thrown away (on CUDA for JPEGs: decode_jpeg batches on the GPU, bytes
                  already read): the speed the runner's decode can at best reach
  fresh decode    runner.data.decode_images, no cache: the whole pipeline into one uint8 tensor
  cache write     decode_cached into an empty cache: decode + write + checksum + rename
  cache hit       decode_cached when the entry exists: map the file and check its checksums
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import timing
import torch
from synthetic_set import image_paths, write_set
from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file

from runner.data.cache import decode_cached
from runner.data.images import available_cores, decode_images

SIZE = (227, 227)


def bare_cpu(paths: list[Path]) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(available_cores()) as pool:
            list(pool.map(lambda p: decode_image(read_file(str(p)), mode=ImageReadMode.RGB), paths))
        return len(paths) / (time.perf_counter() - started)

    return measure


def bare_nvjpeg(paths: list[Path], device: torch.device) -> Callable[[], float]:
    datas = [read_file(str(p)) for p in paths]

    def measure() -> float:
        timing.synchronize(device)
        started = time.perf_counter()
        for start in range(0, len(datas), 256):
            decode_jpeg(datas[start : start + 256], mode=ImageReadMode.RGB, device=device)
        timing.synchronize(device)
        return len(paths) / (time.perf_counter() - started)

    return measure


def fresh(paths: list[Path], jpeg_device: torch.device | None = None) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        decode_images(paths, SIZE, progress=False, jpeg_device=jpeg_device)
        return len(paths) / (time.perf_counter() - started)

    return measure


def cache_write(paths: list[Path], work: Path, jpeg_device=None) -> Callable[[], float]:
    """Seconds to fill an empty cache (lower is better)."""

    def measure() -> float:
        folder = Path(tempfile.mkdtemp(dir=work))
        started = time.perf_counter()
        lookup = decode_cached(paths, SIZE, progress=False, folder=folder, jpeg_device=jpeg_device)
        seconds = time.perf_counter() - started
        assert lookup.status == "written", lookup.status
        del lookup
        shutil.rmtree(folder)
        return seconds

    return measure


def cache_hit(paths: list[Path], folder: Path, jpeg_device=None) -> Callable[[], float]:
    """Seconds to map and check a filled entry (lower is better)."""
    decode_cached(paths, SIZE, progress=False, folder=folder, jpeg_device=jpeg_device)

    def measure() -> float:
        started = time.perf_counter()
        lookup = decode_cached(paths, SIZE, progress=False, folder=folder, jpeg_device=jpeg_device)
        seconds = time.perf_counter() - started
        assert lookup.status == "hit", lookup.status
        return seconds

    return measure


def measure_decoding(
    root: Path, device: torch.device, rounds: int, jpeg: bool
) -> dict[str, timing.Series]:
    """All measures for the training images under `root`, interleaved."""
    paths = image_paths(root)
    work = Path(tempfile.mkdtemp(prefix="bench-decode-"))
    gpu = device if device.type == "cuda" and jpeg else None
    measures: dict[str, Callable[[], float]] = {"bare decoder, CPU threads": bare_cpu(paths)}
    measures["fresh decode, CPU threads"] = fresh(paths)
    if gpu is not None:
        measures["bare decoder, nvjpeg"] = bare_nvjpeg(paths, gpu)
        measures["fresh decode, nvjpeg"] = fresh(paths, gpu)
    measures["cache write (s)"] = cache_write(paths, work, gpu)
    measures["cache hit (s)"] = cache_hit(paths, work / "filled", gpu)
    for measure in measures.values():  # warm-up: file cache, thread pools, CUDA context
        measure()
    try:
        return interleave_and_check(rounds, measures, paths, gpu)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def interleave_and_check(rounds, measures, paths, gpu) -> dict[str, timing.Series]:
    results = timing.interleave(rounds, measures)
    if gpu is not None:  # nvjpeg's pixels against libjpeg's: the same pictures, JPEG noise apart
        cpu = decode_images(paths[:256], SIZE, progress=False).images.int()
        cuda = decode_images(paths[:256], SIZE, progress=False, jpeg_device=gpu).images.int()
        difference = (cpu - cuda).abs().float()
        print(
            f"nvjpeg vs libjpeg on {len(cpu)} images: mean |difference| "
            f"{difference.mean():.3f}, max {difference.max():.0f} (of 255)"
        )
    return results


def print_table(results: dict[str, timing.Series], count: int, kind: str) -> None:
    rounds = len(next(iter(results.values())).values)
    print(f"\n{count} {kind} images of {SIZE[0]}x{SIZE[1]}, {rounds} interleaved rounds")
    print("| measure | median | range | vs bare decoder (per round) |\n|---|---:|---:|---:|")
    for name, series in results.items():
        if name.endswith("(s)"):
            rate = count / series.median
            print(
                f"| {name[:-4]} | {series.median:.3f} s ({rate:,.0f} img/s) | "
                f"{series.spread(3)} s | |"
            )
            continue
        bare = results["bare decoder, nvjpeg" if "nvjpeg" in name else "bare decoder, CPU threads"]
        per_round = [s / b for s, b in zip(series.values, bare.values, strict=True)]
        ratio = "" if name.startswith("bare") else f"{statistics.median(per_round):.2f}"
        print(f"| {name} | {series.median:,.0f} img/s | {series.spread(0)} | {ratio} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1120, help="training images (default 1120)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--formats", default="png,jpeg", help="png, jpeg or both")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"decoding on {timing.machine(device)}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.formats.split(","):
            root = write_set(Path(tmp) / kind, args.images, 0, jpeg=kind == "jpeg")
            results = measure_decoding(root, device, args.rounds, jpeg=kind == "jpeg")
            print_table(results, len(image_paths(root)), kind.upper())


if __name__ == "__main__":
    main()
