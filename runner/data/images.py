"""Decode every image once into one uint8 tensor; normalise batches later, on any device.

uint8 keeps PACS (9,991 images at 3x227x227) at 1.5 GB instead of 6 GB as float32, and makes a
DataLoader unnecessary: a batch is an index into the tensor.

Speed: one decoding thread per CPU core, each writing its own rows. Each of those threads runs its
torch ops (the HWC -> CHW copy into the result, a resize) on one intra-op thread: left to fan out
over all cores as well, the copy alone made one decoding thread 4x slower than the bare decoder on
a busy 2-core machine. `jpeg_device="cuda"` decodes JPEGs in batches by nvjpeg instead; training
does not use it (see runner/training/setup.py: slower as a whole pipeline, and other pixels).
"""

import functools
import io
import math
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file
from torchvision.transforms.v2 import functional as F
from tqdm import tqdm

from archspec.text import plural
from runner.data.errors import DataError, bullet_list

# Measured on PACS itself (the study's numbers); the synthetic set uses them too.
PACS_MEAN = (0.7659, 0.7463, 0.7173)
PACS_STD = (0.3089, 0.3181, 0.3470)

READ_MODES = {1: ImageReadMode.GRAY, 3: ImageReadMode.RGB}  # channels -> what the decoder makes
PIL_MODES = {1: "L", 3: "RGB"}  # the same conversion, for the formats Pillow decodes
# torchvision decodes JPEG, PNG, WebP and GIF; it has no decoder for BMP and TIFF, which Pillow
# decodes, told apart by their first bytes (an extension can lie).
PIL_MAGICS = (b"BM", b"II*\x00", b"MM\x00*")  # BMP, little- and big-endian TIFF
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_BATCH = 256  # images per nvjpeg call: big enough to fill the GPU, small in memory


@dataclass(frozen=True)
class Decoded:
    """What `decode_images` returns.

    images[i] is the image of paths[kept[i]]; the skipped paths are in `bad`.
    """

    images: torch.Tensor  # (N, C, H, W) uint8, RGB (C = 3) or grayscale (C = 1)
    kept: tuple[int, ...]  # indices into the paths given, one per image
    bad: list[Path]  # unreadable files skipped (only ever non-empty with skip_bad=True)
    resized: int  # how many images were not already `size` and were resized
    problems: tuple[tuple[int, str], ...] = ()  # (index into paths, why) of each bad file
    cached: bool = False  # True when read back from the decoded-image cache, not decoded


def available_cores() -> int:
    """The CPU cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _reason(error: Exception) -> str:
    # torchvision prefixes "decode_png, /__w/vision/.../decode_png.cpp:79, ": noise for a user.
    text = re.sub(r"^.*?\.cpp:\d+, ", "", str(error)).splitlines()
    return text[0] if text else type(error).__name__


def _fit(image: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, bool]:
    """Make one decoded image (C, H, W) uint8 of `size`; return it and whether it was resized."""
    if image.ndim == 4:  # an animated image: its first frame
        image = image[0]
    if image.dtype != torch.uint8:  # 16-bit PNG
        image = F.to_dtype(image, torch.uint8, scale=True)
    if tuple(image.shape[-2:]) == size:
        return image, False
    return F.resize(image, list(size), antialias=True), True


def _decode(data: torch.Tensor, size: tuple[int, int], channels: int) -> tuple[torch.Tensor, bool]:
    """(C, H, W) uint8 and whether it was resized. Raises RuntimeError for a broken file.

    Pictures are turned upright by their EXIF orientation, as a photo viewer shows them: a phone
    photo stored sideways would otherwise train as a sideways image.
    """
    if bytes(data[:4].tolist()).startswith(PIL_MAGICS):
        return _fit(_decode_with_pillow(data, channels), size)
    # The mode converts gray/RGBA/palette to RGB, or anything to gray.
    image = decode_image(data, mode=READ_MODES[channels], apply_exif_orientation=True)
    return _fit(image, size)


def _decode_with_pillow(data: torch.Tensor, channels: int) -> torch.Tensor:
    """(C, H, W) uint8 of a BMP or TIFF file's bytes; RuntimeError, as torchvision's, if broken."""
    try:
        with Image.open(io.BytesIO(data.numpy().tobytes())) as picture:
            upright = ImageOps.exif_transpose(picture)  # also loads it: truncation shows here
            return F.pil_to_tensor(upright.convert(PIL_MODES[channels]))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        # Pillow says "image file is truncated", "cannot identify image file", ...
        raise RuntimeError(str(error) or type(error).__name__) from None


def _one_intra_op_thread() -> None:
    """Run in each decoding thread: its torch ops on that thread alone (see the module's note).

    OpenMP's thread count is per thread, so this leaves the caller's setting as it was.
    """
    torch.set_num_threads(1)


def _gpu_jpeg_device(jpeg_device: torch.device | str | None) -> torch.device | None:
    """The device to batch-decode JPEGs on, or None for the per-file CPU path.

    "cuda" without a usable GPU quietly means the CPU path: decoding must never be what fails.
    """
    if jpeg_device is None:
        return None
    device = torch.device(jpeg_device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return None
    return device


def _decode_jpeg_batch(
    datas: list[torch.Tensor], size: tuple[int, int], channels: int, device: torch.device
) -> list[tuple[torch.Tensor, bool]]:
    """Decode JPEG bytes together on `device` (nvjpeg on CUDA); the images come back on the CPU.

    Raises RuntimeError if any one of them fails (the caller then decodes that batch file by
    file, which names the broken ones).
    """
    images = decode_jpeg(datas, mode=READ_MODES[channels], device=device)
    fitted = [_fit(image, size) for image in images]
    if device.type == "cpu":
        return fitted
    # One copy back per batch, not per image: every small copy would wait for the GPU.
    stacked = torch.stack([image for image, _ in fitted]).cpu()
    return [(image, was_resized) for image, (_, was_resized) in zip(stacked, fitted, strict=True)]


def _destination(shape: tuple[int, int, int, int], out: torch.Tensor | None) -> torch.Tensor:
    """The (N, C, H, W) uint8 tensor the images are decoded into: `out`, or a new one."""
    if out is None:
        try:
            return torch.empty(shape, dtype=torch.uint8)
        except RuntimeError:  # out of memory
            count, channels, height, width = shape
            raise DataError(
                f"{plural(count, 'image')} of {channels}x{height}x{width} need "
                f"{math.prod(shape) / 1e9:.1f} GB, "
                "more than this machine's memory: let the decoded-image cache hold them (unset "
                "ARCHSPEC_DECODED_CACHE or point it to a folder with room), or use a spec with a "
                "smaller input size"
            ) from None
    if tuple(out.shape) != shape or out.dtype != torch.uint8:
        raise ValueError(f"out must be a uint8 tensor of shape {shape}, got {tuple(out.shape)}")
    return out


# Long: the thread pool, the progress bar and the result tensor share one scope (`place`
# writes rows of `images` from the threads); the checks and the compaction around them are short.
def decode_images(
    paths: Sequence[Path],
    size: tuple[int, int],
    *,
    workers: int | None = None,
    progress: bool = True,
    skip_bad: bool = False,
    channels: int = 3,
    jpeg_device: torch.device | str | None = None,
    out: torch.Tensor | None = None,
) -> Decoded:
    """Decode `paths` to (N, C, H, W) uint8 with (H, W) = `size`, in `workers` threads.

    workers:     threads reading and decoding files; None = one per CPU core.
    channels:    3 = RGB, 1 = grayscale; every image is converted to it.
    jpeg_device: decode the JPEGs in batches on this device ("cuda": nvjpeg); None, or a CUDA
                 device where none is available, decodes every file on the CPU.
    out:         a (len(paths), C, H, W) uint8 tensor to write into (a memory-mapped file, for a
                 set larger than memory); the result's images are its first rows.

    A file that cannot be decoded is collected, never fatal on its own: after all files were
    read, the bad ones are skipped (skip_bad) or listed together in one DataError.
    """
    workers = available_cores() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if channels not in READ_MODES:
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    size = (int(size[0]), int(size[1]))
    images = _destination((len(paths), channels, *size), out)
    problems: dict[int, str] = {}
    resized = 0
    gpu = _gpu_jpeg_device(jpeg_device)

    def place(i: int, data: torch.Tensor | None) -> bool:
        """Decode file i (its bytes if already read) into row i; False if it is broken."""
        try:
            image, was_resized = _decode(
                read_file(str(paths[i])) if data is None else data, size, channels
            )
        except RuntimeError as error:  # torchvision reports unreadable files this way
            problems[i] = _reason(error)
            return False
        images[i].copy_(image)  # each thread writes its own row: no lock needed
        return was_resized

    # Threads, not processes: torchvision's decoders release the GIL, and the result is
    # written in place instead of pickled back.
    with (
        ThreadPoolExecutor(max_workers=workers, initializer=_one_intra_op_thread) as pool,
        tqdm(total=len(paths), desc="decoding", unit="img", disable=not progress) as bar,
    ):
        if gpu is None:
            for was_resized in pool.map(lambda i: place(i, None), range(len(paths))):
                resized += was_resized
                bar.update()
        else:
            for done, was_resized in _decode_with_jpeg_batches(
                paths, size, channels, gpu, pool, place, images
            ):
                resized += was_resized
                bar.update(done)

    bad = [paths[i] for i in sorted(problems)]
    if problems and not skip_bad:
        raise undecodable(paths, problems)
    kept = tuple(i for i in range(len(paths)) if i not in problems)
    if problems:
        # Move the good rows forward in place: a copy of PACS would need another 1.5 GB.
        for row, i in enumerate(kept):
            if row != i:
                images[row] = images[i]
        images = images[: len(kept)]
    return Decoded(
        images=images,
        kept=kept,
        bad=bad,
        resized=resized,
        problems=tuple(sorted(problems.items())),
    )


def _decode_with_jpeg_batches(paths, size, channels, device, pool, place, images):
    """Yield (files done, resized) while decoding JPEGs batch by batch on `device`.

    Files are read by the pool; the ones that are not JPEGs, and every file of a batch that
    failed as a whole, go through the per-file CPU path (`place`) in the pool as well.
    """
    for start in range(0, len(paths), JPEG_BATCH):
        chunk = range(start, min(start + JPEG_BATCH, len(paths)))
        datas = list(pool.map(lambda i: _read(paths[i]), chunk))
        jpegs = [
            (i, d)
            for i, d in zip(chunk, datas, strict=True)
            if d is not None and bytes(d[:3].tolist()) == JPEG_MAGIC
        ]
        batched = {i for i, _ in jpegs}
        others = [(i, d) for i, d in zip(chunk, datas, strict=True) if i not in batched]
        # The CPU decodes the other files while the device decodes the JPEGs.
        pending = [pool.submit(place, i, d) for i, d in others]
        resized = 0
        if jpegs:
            try:
                results = _decode_jpeg_batch([d for _, d in jpegs], size, channels, device)
            except RuntimeError:  # one broken file, or a JPEG nvjpeg does not take (CMYK...)
                resized += sum(pool.map(lambda item: place(*item), jpegs))
            else:
                for (i, _), (image, was_resized) in zip(jpegs, results, strict=True):
                    images[i].copy_(image)
                    resized += was_resized
        resized += sum(future.result() for future in pending)
        yield len(chunk), resized


def _read(path: Path) -> torch.Tensor | None:
    """The file's bytes, or None if it cannot be read (the CPU path then names the problem)."""
    try:
        return read_file(str(path))
    except RuntimeError:
        return None


class UndecodableImages(DataError):
    """Images that cannot be decoded, each with why: `broken` holds (path, reason) pairs."""

    def __init__(self, broken: Sequence[tuple[Path, str]]):
        self.broken = list(broken)
        listing = bullet_list([f"{path}: {reason}" for path, reason in self.broken])
        super().__init__(
            f"{plural(len(self.broken), 'image')} cannot be decoded:\n{listing}\n"
            "delete or replace them, or pass --skip-bad-images to train without them"
        )


def undecodable(paths: Sequence[Path], problems: dict[int, str]) -> UndecodableImages:
    """The one error that names every broken file and the way out."""
    return UndecodableImages([(paths[i], problems[i]) for i in sorted(problems)])


def normalize(
    batch: torch.Tensor,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, C, H, W) uint8 -> float32 (x / 255 - mean) / std, on the batch's device and in its
    memory format (or written into `out`, a float32 tensor of the batch's shape).

    Computed as x * (1 / (255 std)) - mean / std: one pass over the pixels on a GPU, two on a
    CPU, instead of torchvision's four (to float, / 255, - mean, / std); the two agree to within
    a float32 rounding. The per-channel factors are made on the device once, not per batch:
    torchvision's `normalize` copies them to the device in every call, and on CUDA each copy
    makes the CPU wait for the GPU.
    """
    if batch.dtype != torch.uint8:
        raise TypeError(f"normalize expects a uint8 batch, got {batch.dtype}")
    scale, shift = _affine(batch.device, tuple(mean), tuple(std), 255.0)
    if batch.device.type == "cpu":
        # On a CPU, addcmul reading bytes is not vectorised: converting first and then working
        # in float32 in place took 6 instead of 29 ms for 128 x 3 x 227 x 227 on two cores.
        x = batch.to(torch.float32) if out is None else out.copy_(batch)
        return torch.addcmul(shift, x, scale, out=x)
    return torch.addcmul(shift, batch, scale, out=out)


def normalize_float(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """`normalize` for a float32 batch already scaled to [0, 1], in place."""
    scale, shift = _affine(x.device, tuple(mean), tuple(std), 1.0)
    return torch.addcmul(shift, x, scale, out=x)


@functools.lru_cache(maxsize=32)
def _affine(
    device: torch.device, mean: tuple[float, ...], std: tuple[float, ...], full_scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, 1, 1) float32 scale 1 / (full_scale std) and shift -mean / std on `device` (computed
    in float64), made once per device and statistics."""
    if not all(std):
        raise ValueError(f"std must not be zero, got {std}")
    mean64 = torch.tensor(mean, dtype=torch.float64).view(-1, 1, 1)
    std64 = torch.tensor(std, dtype=torch.float64).view(-1, 1, 1)
    scale, shift = 1 / (full_scale * std64), -mean64 / std64
    return scale.float().to(device), shift.float().to(device)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor (random parameters drawn on the CPU) onto `device` without making the
    CPU wait for the GPU: from pinned memory, the copy is queued behind the GPU's work."""
    if device.type != "cuda":
        return x.to(device)
    return x.pin_memory().to(device, non_blocking=True)
