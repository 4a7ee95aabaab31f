"""A spec's input channels decide how images are decoded and normalised: 3 RGB, 1 grayscale."""

from collections.abc import Sequence

from torchvision.io import ImageReadMode

from archspec.errors import UserError

MODES = {1: ImageReadMode.GRAY, 3: ImageReadMode.RGB}


def check_channels(channels: int, source: str = "the spec") -> None:
    """Refuse, before anything is decoded, an input no image file can give."""
    if channels not in MODES:
        raise UserError(
            f"{source}: input_shape asks for {channels} input channels, but images are decoded "
            "as RGB (3) or grayscale (1): set input_shape to [3, H, W] or [1, H, W]"
        )


def image_mode(channels: int) -> ImageReadMode:
    check_channels(channels)
    return MODES[channels]


def per_channel(values: Sequence[float], channels: int) -> tuple[float, ...]:
    """RGB statistics for `channels`: as they are for 3, their mean for 1 (a gray image's value
    is close to the mean of its colour channels)."""
    if channels == len(values):
        return tuple(values)
    if channels == 1:
        return (sum(values) / len(values),)
    raise UserError(
        f"--normalize gives {len(values)} values per statistic, the spec's input has "
        f"{channels} channels: give {channels} (or 3, or pacs/imagenet)"
    )
