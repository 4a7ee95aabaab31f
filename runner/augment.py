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

import torch
from torch.nn import functional as nnf

AUGMENTATIONS = ("none", "flip", "domainbed")
SCALE = (0.7, 1.0)  # DomainBed's RandomResizedCrop
RATIO = (3 / 4, 4 / 3)  # torchvision's default aspect ratios
JITTER = 0.3  # DomainBed's ColorJitter: brightness, contrast, saturation and hue
GRAYSCALE_P = 0.1
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale
# A gray image has no saturation or hue to change.
ADJUSTABLE = {1: ("brightness", "contrast"), 3: ("brightness", "contrast", "saturation", "hue")}


class Augmenter:
    """augmenter(batch) -> the batch augmented: (B, C, H, W) uint8 in, the same shape out."""

    def __init__(self, kind: str, channels: int, seed: int) -> None:
        if kind not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {kind!r}")
        self.kind = kind
        self.channels = channels
        # A CPU generator of its own, apart from the stream dropout and shuffling draw from.
        self.generator = torch.Generator().manual_seed(seed + 1_000_003)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.kind == "none" or len(batch) == 0:
            return batch
        flip = torch.rand(len(batch), generator=self.generator) < 0.5  # (B,)
        if self.kind == "flip":
            return torch.where(flip.to(batch.device)[:, None, None, None], batch.flip(-1), batch)
        return self._domainbed(batch, flip)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"rng_state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["rng_state"])

    def _domainbed(self, batch: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        b, c = batch.shape[:2]
        x = batch.float().div_(255)  # (B, C, H, W) in [0, 1]
        x = self._crop_and_flip(x, flip)
        x = self._jitter(x)
        if c == 3:
            gray = torch.rand(b, generator=self.generator) < GRAYSCALE_P
            if gray.any():
                index = gray.nonzero()[:, 0].to(x.device)
                x[index] = _gray(x[index]).expand(-1, 3, -1, -1)
        return x.mul_(255).round_().clamp_(0, 255).to(torch.uint8)

    def _crop_and_flip(self, x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
        """Each image's random crop, resized back to (H, W) and maybe mirrored, in one
        grid_sample: the crop is an affine map of the output grid."""
        b, c, h, w = x.shape
        theta = torch.zeros(b, 2, 3)
        for k in range(b):
            top, left, ch, cw = self._crop_box(h, w)
            # Normalised coordinates in [-1, 1]: scale to the crop's size, move to its centre.
            theta[k, 0, 0] = (cw / w) * (-1.0 if flip[k] else 1.0)
            theta[k, 0, 2] = (2 * left + cw) / w - 1
            theta[k, 1, 1] = ch / h
            theta[k, 1, 2] = (2 * top + ch) / h - 1
        grid = nnf.affine_grid(theta.to(x.device), [b, c, h, w], align_corners=False)
        return nnf.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _crop_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """torchvision's RandomResizedCrop.make_params: (top, left, height, width)."""
        area = h * w
        log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
        for _ in range(10):
            target = area * self._uniform(*SCALE)
            ratio = math.exp(self._uniform(*log_ratio))
            cw = round(math.sqrt(target * ratio))
            ch = round(math.sqrt(target / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(torch.randint(0, h - ch + 1, (1,), generator=self.generator))
                left = int(torch.randint(0, w - cw + 1, (1,), generator=self.generator))
                return top, left, ch, cw
        return 0, 0, h, w  # torchvision falls back to a centre crop; all of it here (scale 1)

    def _uniform(self, low: float, high: float) -> float:
        return float(torch.empty(1).uniform_(low, high, generator=self.generator))

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        """ColorJitter(0.3, 0.3, 0.3, 0.3) with each image's own factors and order."""
        b, c = x.shape[:2]
        names = ("brightness", "contrast") + (("saturation", "hue") if c == 3 else ())
        factors = {
            name: torch.empty(b).uniform_(1 - JITTER, 1 + JITTER, generator=self.generator)
            for name in ("brightness", "contrast", "saturation")
        }
        factors["hue"] = torch.empty(b).uniform_(-JITTER, JITTER, generator=self.generator)
        orders = [
            [names[i] for i in torch.randperm(len(names), generator=self.generator).tolist()]
            for _ in range(b)
        ]
        return _colour_maps(x, factors, orders)

    def jitter_with(
        self, x: torch.Tensor, factors: dict[str, float], order: list[str]
    ) -> torch.Tensor:
        """The colour change with given factors and order, for every image of `x` (for tests)."""
        b = len(x)
        per_image = {name: torch.full((b,), float(value)) for name, value in factors.items()}
        return _colour_maps(x, per_image, [order] * b)


def _colour_maps(
    x: torch.Tensor, factors: dict[str, torch.Tensor], orders: list[list[str]]
) -> torch.Tensor:
    """Apply each image's ColorJitter steps, in its order, as one affine colour map.

    Brightness, saturation and the hue rotation are linear maps of a pixel's colour, and
    contrast blends with the image's mean gray, itself linear in the image: in any order they
    compose into one affine map per image (a CxC matrix and an offset), applied in one batched
    product. torchvision clamps to [0, 1] after each step, this once at the end; the two differ
    only where an intermediate colour left that range.
    """
    b, c = x.shape[:2]
    gray = torch.tensor(GRAY_WEIGHTS) if c == 3 else torch.ones(1)  # (C,)
    means = x.mean(dim=(2, 3)).cpu()  # (B, C): all that contrast needs of the pixels
    matrix = torch.eye(c).repeat(b, 1, 1)  # (B, C, C): colour -> matrix @ colour + offset
    offset = torch.zeros(b, c)
    for k in range(b):
        for name in orders[k]:
            if name not in ADJUSTABLE[c]:
                continue
            f = float(factors[name][k])
            if name == "brightness":
                step = f * torch.eye(c)
            elif name == "saturation":  # blend with the pixel's gray
                step = f * torch.eye(c) + (1 - f) * torch.outer(torch.ones(c), gray)
            elif name == "hue":
                step = _hue_rotation(f)
            else:  # contrast: blend with the mean gray of the image as it is now
                mean_gray = gray @ (matrix[k] @ means[k] + offset[k])
                matrix[k], offset[k] = f * matrix[k], f * offset[k] + (1 - f) * mean_gray
                continue
            matrix[k], offset[k] = step @ matrix[k], step @ offset[k]
    h, w = x.shape[2:]
    out = torch.baddbmm(
        offset.to(x.device)[:, :, None], matrix.to(x.device), x.reshape(b, c, h * w)
    )  # (B, C, 1) + (B, C, C) @ (B, C, H*W)
    return out.reshape(b, c, h, w).clamp_(0, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W)"""
    r, g, b = x.unbind(1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


# RGB <-> YIQ (NTSC). A hue shift is a rotation of the chroma plane (I, Q) about the luma axis Y,
# one 3x3 matrix, where torchvision goes through HSV per pixel. NVIDIA DALI's Hue operator
# rotates the same way.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _hue_rotation(shift: float) -> torch.Tensor:
    """(3, 3): rotate hue by `shift` turns (ColorJitter's hue factor, in [-0.5, 0.5])."""
    cos, sin = math.cos(2 * math.pi * shift), math.sin(2 * math.pi * shift)
    rotation = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    return YIQ_TO_RGB @ rotation @ RGB_TO_YIQ
