"""Training augmentation on the uint8 batches already in memory, per image, on their device.

Images are decoded once (runner/data/images.py); augmenting here keeps it that way. Every image
of a batch gets its own random crop, flip and colour change, but the work is done batch-wide:
torchvision's v2 transforms, called image by image, cost about 130 ms per 227x227 image on a
CPU core (a 128-image batch: 16 s), while the same operations on the whole batch with
per-image parameters cost a small share of a training step.

The parameters follow torchvision's: RandomResizedCrop's sampling of area and aspect ratio,
ColorJitter's factors and its random order of the four adjustments (one order per image), and
the ITU-R 601 gray of RandomGrayscale. The hue shift rotates colours in YIQ space instead of
going through HSV (see `_hue_rotation`): the same kind of change, not the same pixels. The crop
never enlarges the field of view, so resizing it is an upsampling for which bilinear
interpolation needs no antialiasing.

The random stream is the augmenter's own, seeded from the run's seed and saved in last.pt, so a
resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as nnf

from runner.data.images import normalize, normalize_float, to_device

AUGMENTATIONS = ("none", "flip", "domainbed")
SCALE = (0.7, 1.0)  # DomainBed's RandomResizedCrop
RATIO = (3 / 4, 4 / 3)  # torchvision's default aspect ratios
JITTER = 0.3  # DomainBed's ColorJitter: brightness, contrast, saturation and hue
GRAYSCALE_P = 0.1
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale
# A gray image has no saturation or hue to change.
ADJUSTABLE = {1: ("brightness", "contrast"), 3: ("brightness", "contrast", "saturation", "hue")}


class Augmenter:
    """augmenter(batch, mean, std) -> the batch augmented and normalised: (B, C, H, W) uint8
    in, float32 out, on the batch's device. Normalising here saves the augmented batch a round
    trip through uint8."""

    def __init__(self, kind: str, channels: int, seed: int) -> None:
        if kind not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {kind!r}")
        self.kind = kind
        self.channels = channels
        # A CPU generator of its own, apart from the stream dropout and shuffling draw from.
        self.generator = torch.Generator().manual_seed(seed + 1_000_003)

    def __call__(
        self, batch: torch.Tensor, mean: Sequence[float], std: Sequence[float]
    ) -> torch.Tensor:
        if self.kind == "none" or len(batch) == 0:
            return normalize(batch, mean, std)
        flip = self._uniform(len(batch)) < 0.5  # (B,)
        if self.kind == "flip":
            mirrored = to_device(flip, batch.device)[:, None, None, None]
            return normalize(torch.where(mirrored, batch.flip(-1), batch), mean, std)
        x = self._domainbed(batch, flip)  # float32 in [0, 1]
        return normalize_float(x, mean, std)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"rng_state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["rng_state"])

    def _uniform(self, *shape: int, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
        return torch.empty(shape).uniform_(low, high, generator=self.generator)

    def _domainbed(self, batch: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        """All parameters are drawn on the CPU from the augmenter's generator, for the whole
        batch at once; the pixels are then touched by two batched operations on their device."""
        b, c, h, w = batch.shape
        theta = self._crop_and_flip(b, h, w, flip)  # (B, 2, 3)
        factors, orders, gray = self._colour(b, c)
        x = batch.float().div_(255)  # (B, C, H, W) in [0, 1]
        x = nnf.grid_sample(
            x, _grid(to_device(theta, x.device), h, w), mode="bilinear", padding_mode="border",
            align_corners=False,
        )  # fmt: skip
        # Contrast needs each cropped image's mean: all it needs of the pixels. Reading it waits
        # for the GPU once a step, the one wait left in an augmented step.
        means = x.mean(dim=(2, 3)).cpu()  # (B, C)
        matrix, offset = _colour_maps(means, factors, orders, list(ADJUSTABLE[c]), gray)
        out = torch.baddbmm(
            to_device(offset, x.device)[:, :, None],
            to_device(matrix, x.device),
            x.reshape(b, c, h * w),
        )  # (B, C, 1) + (B, C, C) @ (B, C, H*W)
        return out.reshape(b, c, h, w).clamp_(0, 1)

    def _crop_and_flip(self, b: int, h: int, w: int, flip: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3): each image's RandomResizedCrop box, mirrored where `flip`, as the affine
        map of the output grid (normalised coordinates in [-1, 1]) that grid_sample reads.

        The box follows torchvision's make_params: up to ten tries of an area share in SCALE
        and a log-uniform aspect ratio in RATIO, the first that fits, else the whole image.
        """
        tries = 10
        area = h * w * self._uniform(b, tries, low=SCALE[0], high=SCALE[1])
        ratio = torch.exp(self._uniform(b, tries, low=math.log(RATIO[0]), high=math.log(RATIO[1])))
        cw = torch.sqrt(area * ratio).round()
        ch = torch.sqrt(area / ratio).round()
        fits = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)  # (B, tries)
        first = fits.int().argmax(dim=1)  # the first try that fits (0 if none does)
        rows = torch.arange(b)
        cw = torch.where(fits.any(dim=1), cw[rows, first], torch.tensor(float(w)))
        ch = torch.where(fits.any(dim=1), ch[rows, first], torch.tensor(float(h)))
        top = (self._uniform(b) * (h - ch + 1)).floor()  # randint(0, h - ch + 1)
        left = (self._uniform(b) * (w - cw + 1)).floor()
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = (cw / w) * torch.where(flip, -1.0, 1.0)
        theta[:, 0, 2] = (2 * left + cw) / w - 1  # the box's centre
        theta[:, 1, 1] = ch / h
        theta[:, 1, 2] = (2 * top + ch) / h - 1
        return theta

    def _colour(self, b: int, c: int) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """ColorJitter(0.3, 0.3, 0.3, 0.3)'s factors and a random order of its steps per image,
        and which images RandomGrayscale(0.1) turns gray."""
        factors = {
            name: self._uniform(b, low=1 - JITTER, high=1 + JITTER)
            for name in ("brightness", "contrast", "saturation")
        }
        factors["hue"] = self._uniform(b, low=-JITTER, high=JITTER)
        orders = torch.argsort(self._uniform(b, len(ADJUSTABLE[c])), dim=1)  # (B, steps)
        gray = self._uniform(b) < GRAYSCALE_P if c == 3 else torch.zeros(b, dtype=torch.bool)
        return factors, orders, gray

    def jitter_with(
        self, x: torch.Tensor, factors: dict[str, float], order: list[str]
    ) -> torch.Tensor:
        """The colour change with given factors and order, for every image of `x` (for tests)."""
        b, c, h, w = x.shape
        names = list(ADJUSTABLE[c])
        per_image = {name: torch.full((b,), float(v)) for name, v in factors.items()}
        orders = torch.tensor([[names.index(n) for n in order if n in names]] * b)
        matrix, offset = _colour_maps(
            x.mean(dim=(2, 3)), per_image, orders, names, torch.zeros(b, dtype=torch.bool)
        )
        out = torch.baddbmm(offset[:, :, None], matrix, x.reshape(b, c, h * w))
        return out.reshape(b, c, h, w).clamp_(0, 1)


def _grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, H, W, 2): what affine_grid(theta) gives for a theta without rotation, built from its
    two axes (x depends on the column only, y on the row only) at a fraction of the cost."""
    xs = (torch.arange(w, device=theta.device) * 2 + 1) / w - 1  # pixel centres in [-1, 1]
    ys = (torch.arange(h, device=theta.device) * 2 + 1) / h - 1
    gx = theta[:, 0, 0, None] * xs + theta[:, 0, 2, None]  # (B, W)
    gy = theta[:, 1, 1, None] * ys + theta[:, 1, 2, None]  # (B, H)
    b = len(theta)
    return torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], dim=-1)


def _colour_maps(
    means: torch.Tensor,
    factors: dict[str, torch.Tensor],
    orders: torch.Tensor,
    names: list[str],
    gray: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, C) matrices and (B, C) offsets: each image's colour steps composed in its order.

    Brightness, saturation, the hue rotation and grayscale are linear maps of a pixel's colour,
    and contrast blends with the image's mean gray, itself linear in the image: in any order
    they compose into one affine map per image, applied to the pixels in one batched product.
    torchvision clamps to [0, 1] after each step, this once at the end; the two differ only
    where an intermediate colour left that range. `means` are the images' channel means.
    """
    b, c = means.shape
    weights = torch.tensor(GRAY_WEIGHTS) if c == 3 else torch.ones(1)  # (C,)
    eye = torch.eye(c).expand(b, c, c)
    to_gray = torch.outer(torch.ones(c), weights).expand(b, c, c)  # every channel := the gray
    f = {name: value[:, None, None] for name, value in factors.items()}  # (B, 1, 1)
    linear = {"brightness": f["brightness"] * eye}
    if c == 3:
        linear["saturation"] = f["saturation"] * eye + (1 - f["saturation"]) * to_gray
        linear["hue"] = _hue_rotations(factors["hue"])
    matrix, offset = eye.clone(), torch.zeros(b, c)
    for position in range(orders.shape[1]):
        step = orders[:, position]  # (B,): the index in `names` of each image's step here
        new_matrix, new_offset = matrix.clone(), offset.clone()
        for index, name in enumerate(names):
            chosen = step == index
            if not chosen.any():
                continue
            if name == "contrast":  # blend with the mean gray of the image as it is now
                k = f["contrast"][chosen]  # (b', 1, 1)
                mean_gray = (weights * (matrix[chosen] @ means[chosen, :, None])[..., 0]).sum(1)
                mean_gray = mean_gray + (weights * offset[chosen]).sum(1)  # (b',)
                new_matrix[chosen] = k * matrix[chosen]
                new_offset[chosen] = k[:, 0] * offset[chosen] + (1 - k[:, 0]) * mean_gray[:, None]
            else:
                new_matrix[chosen] = linear[name][chosen] @ matrix[chosen]
                new_offset[chosen] = (linear[name][chosen] @ offset[chosen, :, None])[..., 0]
        matrix, offset = new_matrix, new_offset
    if gray.any():  # RandomGrayscale, after the jitter
        matrix[gray] = to_gray[gray] @ matrix[gray]
        offset[gray] = (to_gray[gray] @ offset[gray, :, None])[..., 0]
    return matrix, offset


# RGB <-> YIQ (NTSC). A hue shift is a rotation of the chroma plane (I, Q) about the luma axis Y,
# one 3x3 matrix, where torchvision goes through HSV per pixel. NVIDIA DALI's Hue operator
# rotates the same way.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _hue_rotations(shift: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3): rotate hue by `shift` turns (ColorJitter's hue factor, in [-0.5, 0.5])."""
    angle = 2 * math.pi * shift
    rotation = torch.zeros(len(shift), 3, 3)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = torch.cos(angle), -torch.sin(angle)
    rotation[:, 2, 1], rotation[:, 2, 2] = torch.sin(angle), torch.cos(angle)
    return YIQ_TO_RGB @ rotation @ RGB_TO_YIQ
