"""The seven object categories of the synthetic dataset: plain geometric shapes, named honestly.

A shape is a list of polygons in unit coordinates (x right, y down, radius about 1): the first is
the outline, any others are holes (the ring's). `place` puts one on the canvas at a random
position, scale, rotation and aspect.
"""

from dataclasses import dataclass

import numpy as np

CATEGORIES = ("circle", "cross", "heart", "ring", "square", "star", "triangle")


def _circle(radius: float, points: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _star(tips: int = 5, outer: float = 1.0, inner: float = 0.42) -> np.ndarray:
    t = -np.pi / 2 + np.arange(2 * tips) * np.pi / tips  # first tip points up
    radius = np.where(np.arange(2 * tips) % 2 == 0, outer, inner)
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)


def _heart(points: int = 80) -> np.ndarray:
    # The classic parametric heart; x in [-16, 16], y in [-17, 12] before scaling.
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([x / 16.5, -(y + 2.5) / 16.5], axis=1)  # y flipped: image rows grow down


def _cross(arm: float = 0.95, half_width: float = 0.3) -> np.ndarray:
    a, w = arm, half_width
    return np.array(
        [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w),
         (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w)]
    )  # fmt: skip


UNIT_SHAPES: dict[str, list[np.ndarray]] = {
    "circle": [_circle(0.95)],
    "cross": [_cross()],
    "heart": [_heart()],
    "ring": [_circle(0.95), _circle(0.55)],
    "square": [np.array([(-0.78, -0.78), (0.78, -0.78), (0.78, 0.78), (-0.78, 0.78)])],
    "star": [_star()],
    "triangle": [_circle(1.0, points=3) @ np.array([[0, -1], [1, 0]])],  # a tip points up
}


@dataclass(frozen=True)
class Placed:
    """A shape on the canvas: its polygons in pixels and the circle it roughly fills."""

    polygons: list[np.ndarray]  # each (K, 2) float, x and y in pixels
    center: tuple[float, float]
    radius: float


# How much a picture varies. Enough that no two pictures are alike, little enough that a small
# AlexNet trained from scratch learns the shapes in a few epochs: every pixel of translation it
# must learn to ignore costs it training data.
RADIUS = (0.25, 0.36)  # of the picture's size
ROTATION = 25.0  # degrees either way: a heart or a triangle stays upright enough to name
STRETCH = (0.87, 1.15)  # aspect ratio
SHIFT = 0.1  # of the picture's size, either way from the centre, in x and in y


def place(category: str, rng: np.random.Generator, size: int) -> Placed:
    """The category's shape at a random scale, rotation, aspect and position (see above)."""
    radius = rng.uniform(*RADIUS) * size
    angle = np.deg2rad(rng.uniform(-ROTATION, ROTATION))
    stretch = rng.uniform(*STRETCH)
    # Far enough from the border for the farthest point of the shape, and a cartoon's outline.
    extent = max(float(np.linalg.norm(poly, axis=1).max()) for poly in UNIT_SHAPES[category])
    margin = min(radius * max(stretch, 1 / stretch) * extent + 0.02 * size, size / 2)
    cx, cy = np.clip(size / 2 + rng.uniform(-SHIFT, SHIFT, size=2) * size, margin, size - margin)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = radius * rotation @ np.diag([stretch, 1 / stretch])
    polygons = [poly @ transform.T + (cx, cy) for poly in UNIT_SHAPES[category]]
    return Placed(polygons=polygons, center=(float(cx), float(cy)), radius=float(radius))
