"""The four rendering styles (domains) of the synthetic dataset, in imitation of PACS.

Each style paints a placed shape onto a (size, size, 3) uint8 RGB picture. The styles differ in
what a small CNN sees first (texture, edges, colour statistics) so the domain task is easy, while
the shape is the only thing the category task can rely on: an object's colour is drawn at random
in every style, independent of its category.

- photo:        smooth shaded object with a highlight and a soft shadow, on a colour gradient
                with blotchy low-frequency texture, plus fine sensor noise
- art_painting: brush strokes of jittered colours everywhere, soft object edges, colour blotches
- cartoon:      flat saturated fill with a thick black outline on a plain background
- sketch:       thin dark jittered pencil lines, sometimes hatched, on off-white paper
"""

import colorsys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from runner.data.shapes import Placed

Style = Callable[[Placed, np.random.Generator, int], np.ndarray]


def _colour(hue: float, saturation: float, value: float) -> np.ndarray:
    # float32 throughout: float64 pictures would double the time spent per picture.
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value), np.float32) * 255


def _mask(placed: Placed, size: int, blur: float = 0.0) -> np.ndarray:
    """(size, size, 1) float in [0, 1]: 1 inside the shape, 0 outside and in its holes."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    outline, *holes = placed.polygons
    draw.polygon([tuple(p) for p in outline], fill=255)
    for hole in holes:
        draw.polygon([tuple(p) for p in hole], fill=0)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(image, dtype=np.float32)[..., None] / 255.0


def _blotches(rng: np.random.Generator, size: int, cells: int, amplitude: float) -> np.ndarray:
    """(size, size, 3) smooth colour variation in [-amplitude, amplitude]: a random coarse
    grid upsampled bicubically."""
    coarse = (rng.random((cells, cells, 3)) * 255).astype(np.uint8)
    smooth = Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)
    return (np.asarray(smooth, dtype=np.float32) / np.float32(127.5) - 1) * np.float32(amplitude)


def _to_uint8(picture: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8)


def photo(placed: Placed, rng: np.random.Generator, size: int) -> np.ndarray:
    hue = rng.random()
    # Background: a gradient between two muted colours at a random angle, plus texture.
    top = _colour(hue + rng.uniform(-0.1, 0.1), rng.uniform(0.1, 0.4), rng.uniform(0.55, 0.95))
    bottom = _colour(hue + rng.uniform(-0.2, 0.2), rng.uniform(0.1, 0.5), rng.uniform(0.3, 0.8))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip((np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) + 0.5, 0, 1)[..., None]
    picture = top * (1 - t) + bottom * t + _blotches(rng, size, int(rng.integers(3, 8)), 25)
    # A soft shadow away from the light, then the object shaded like a lit solid.
    light = rng.uniform(0, 2 * np.pi)
    lx, ly = float(np.cos(light)), float(np.sin(light))  # python floats keep arrays float32
    offset = placed.radius * 0.12
    shadow = Image.fromarray((_mask(placed, size)[..., 0] * 255).astype(np.uint8))
    shadow = shadow.transform(
        shadow.size, Image.Transform.AFFINE, (1, 0, lx * offset, 0, 1, ly * offset)
    ).filter(ImageFilter.GaussianBlur(placed.radius * 0.08))
    picture *= 1 - 0.45 * np.asarray(shadow, dtype=np.float32)[..., None] / 255.0
    cx, cy = placed.center
    u = (xx * size - cx)[..., None] / placed.radius
    v = (yy * size - cy)[..., None] / placed.radius
    shade = np.clip(0.8 + 0.35 * (u * lx + v * ly) - 0.15 * (u**2 + v**2), 0.25, 1.3)
    highlight = np.float32(90) * np.exp(-((u - 0.45 * lx) ** 2 + (v - 0.45 * ly) ** 2) / 0.06)
    # A hue away from the background's and more saturated: the object stands out, as the
    # subject of a photo does.
    colour = _colour(hue + rng.uniform(0.25, 0.75), rng.uniform(0.5, 0.95), rng.uniform(0.5, 0.95))
    mask = _mask(placed, size, blur=0.8)
    picture = picture * (1 - mask) + (colour * shade + highlight) * mask
    return _to_uint8(picture + 3 * rng.standard_normal(picture.shape, np.float32))


_UNIT_DAB = np.stack([np.cos(t := np.linspace(0, 2 * np.pi, 10, endpoint=False)), np.sin(t)], 1)


def _strokes(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    palette: list[np.ndarray],
    count: int,
    box: tuple[float, float, float, float],
) -> None:
    """Elongated dabs of jittered palette colours centred in `box` (x0, y0, x1, y1), mostly
    along one direction, as one hand paints them."""
    direction = rng.uniform(0, np.pi)
    # All random numbers at once, the drawing in one loop: a loop of numpy calls per dab was
    # most of the time spent on a painting.
    colours = np.stack(palette)[rng.integers(len(palette), size=count)]
    colours = np.clip(colours + rng.normal(0, 14, (count, 3)), 0, 255).astype(np.uint8)
    halves = rng.uniform((6, 2.5), (18, 6), (count, 2))  # half length, half width
    angles = direction + rng.normal(0, 0.35, count)
    centres = rng.uniform(box[:2], box[2:], (count, 2))
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    x, y = _UNIT_DAB[:, 0] * halves[:, :1], _UNIT_DAB[:, 1] * halves[:, 1:]  # (count, 10) each
    dabs = np.stack([x * cos - y * sin, x * sin + y * cos], axis=2) + centres[:, None, :]
    for dab, colour in zip(dabs.tolist(), colours.tolist(), strict=True):
        draw.polygon([tuple(p) for p in dab], fill=tuple(colour))


def art_painting(placed: Placed, rng: np.random.Generator, size: int) -> np.ndarray:
    hue = rng.random()
    ground = [_colour(hue + rng.uniform(-0.12, 0.12), rng.uniform(0.25, 0.7),
                      rng.uniform(0.35, 0.9)) for _ in range(3)]  # fmt: skip
    # The object's hue keeps its distance from the ground's, as a painter's would.
    object_hue = hue + rng.uniform(0.25, 0.75)
    saturation, value = rng.uniform(0.5, 0.95), rng.uniform(0.5, 0.95)
    figure = [
        _colour(object_hue + rng.uniform(-0.04, 0.04), saturation, value + rng.uniform(-0.08, 0.08))
        for _ in range(2)
    ]
    canvas = Image.new("RGB", (size, size), tuple(int(c) for c in ground[0]))
    _strokes(ImageDraw.Draw(canvas), rng, ground, 420, (-10, -10, size + 10, size + 10))
    layer = Image.new("RGB", (size, size), tuple(int(c) for c in figure[0]))
    xs, ys = np.concatenate(placed.polygons).T
    _strokes(ImageDraw.Draw(layer), rng, figure, 160, (xs.min(), ys.min(), xs.max(), ys.max()))
    mask = _mask(placed, size, blur=2.5)
    picture = np.asarray(canvas, np.float32) * (1 - mask) + np.asarray(layer, np.float32) * mask
    picture = Image.fromarray(_to_uint8(picture)).filter(ImageFilter.GaussianBlur(1.0))
    return _to_uint8(np.asarray(picture, np.float32) + _blotches(rng, size, 12, 18))


def _closed(points: np.ndarray) -> list[tuple[float, float]]:
    return [tuple(p) for p in points] + [tuple(points[0])]


def cartoon(placed: Placed, rng: np.random.Generator, size: int) -> np.ndarray:
    hue = rng.random()
    ground = _colour(hue, rng.uniform(0.15, 0.45), rng.uniform(0.88, 1.0))
    fill = _colour(hue + rng.uniform(0.2, 0.8), rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))
    ground_rgb, fill_rgb = tuple(int(c) for c in ground), tuple(int(c) for c in fill)
    # Drawn at twice the size and shrunk: smooth outlines, as a cartoon's are.
    scale = 2
    image = Image.new("RGB", (size * scale, size * scale), ground_rgb)
    draw = ImageDraw.Draw(image)
    width = int(rng.integers(4, 8)) * scale
    outline, *holes = [poly * scale for poly in placed.polygons]
    draw.polygon([tuple(p) for p in outline], fill=fill_rgb)
    for hole in holes:
        draw.polygon([tuple(p) for p in hole], fill=ground_rgb)
    for poly in (outline, *holes):
        draw.line(_closed(poly), fill=(0, 0, 0), width=width, joint="curve")
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def _densify(polygon: np.ndarray, step: float) -> np.ndarray:
    """Points every `step` pixels along the closed polygon, so jitter bends the lines."""
    closed = np.vstack([polygon, polygon[:1]])
    lengths = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    where = np.concatenate([[0], np.cumsum(lengths)])
    samples = np.arange(0, where[-1], step)
    return np.stack([np.interp(samples, where, closed[:, i]) for i in range(2)], axis=1)


def sketch(placed: Placed, rng: np.random.Generator, size: int) -> np.ndarray:
    paper = _colour(rng.uniform(0.08, 0.15), rng.uniform(0.0, 0.08), rng.uniform(0.93, 1.0))
    grain = _blotches(rng, size, 6, 8).mean(axis=2, keepdims=True)  # uneven, but not coloured
    picture = np.broadcast_to(paper, (size, size, 3)) + grain
    lead = float(rng.uniform(25, 90))  # how dark the pencil is
    lines = Image.new("L", (size, size), 0)  # coverage of pencil, 0..255
    draw = ImageDraw.Draw(lines)
    for _ in range(int(rng.integers(2, 4))):  # a few loose passes over the same outline
        shift = rng.normal(0, 1.5, 2)
        for poly in placed.polygons:
            points = _densify(poly, 6.0)
            points = points + shift + rng.normal(0, 1.0, points.shape)
            draw.line(_closed(points), fill=int(rng.integers(150, 256)), width=2)
    coverage = np.asarray(lines, np.float32)[..., None] / 255.0
    if rng.random() < 0.6:  # hatching inside the shape, lighter than the outline
        hatch = Image.new("L", (size, size), 0)
        hatch_draw = ImageDraw.Draw(hatch)
        angle, spacing = rng.uniform(0, np.pi), rng.uniform(5, 9)
        dx, dy = np.cos(angle), np.sin(angle)
        for k in np.arange(-size, size, spacing):  # lines across the canvas, offset along normal
            cx, cy = size / 2 - dy * k, size / 2 + dx * k
            hatch_draw.line([(cx - dx * size, cy - dy * size), (cx + dx * size, cy + dy * size)],
                            fill=255, width=1)  # fmt: skip
        hatched = np.asarray(hatch, np.float32)[..., None] / 255 * _mask(placed, size)
        coverage = np.maximum(coverage, 0.45 * hatched)
    return _to_uint8(picture * (1 - coverage) + lead * coverage)


STYLES: dict[str, Style] = {
    "art_painting": art_painting,
    "cartoon": cartoon,
    "photo": photo,
    "sketch": sketch,
}
DOMAINS = tuple(STYLES)
