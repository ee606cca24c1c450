"""Per-size geometry and reusable textures, plus the small vectorised drawing helpers every layer uses.

`canvas(size)` is computed once per size: coordinate grids, the 3×3 cell map, the field-of-view mask and
banks of vessel, noise, spot and grain textures (from a fixed seed, so runs stay deterministic).
Bank textures are twice the image size; a scene crops a random window, flipped and transposed at random,
instead of making new textures.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from promptopt.sim.sampling import FOV_RADIUS

_BANK_SIZE = 6
_BANK_SEED = 20240


@dataclass(frozen=True)
class Canvas:
    size: int
    px: float  # one pixel in normalised units
    x: np.ndarray  # (size, size) float32, -1 left .. 1 right
    y: np.ndarray  # (size, size) float32, -1 top .. 1 bottom
    cell: np.ndarray  # (size, size) int, 0..8 row-major over the 3×3 grid
    fov: np.ndarray  # (size, size) float32 in [0, 1], soft round field of view
    vessels: tuple[np.ndarray, ...]  # branching vessel maps in [0, 1]
    smooth: tuple[np.ndarray, ...]  # noise in [0, 1] with features of about size/5
    mottle: tuple[np.ndarray, ...]  # features of about size/12
    spots: tuple[np.ndarray, ...]  # round spots of 1 to 4 % of the size, of random strength
    grain: tuple[np.ndarray, ...]  # bumps of one to two pixels at any size

    def texture(self, rng: np.random.Generator, bank: tuple[np.ndarray, ...]) -> np.ndarray:
        """A random window of a bank texture, randomly flipped and transposed (a view: do not edit)."""
        tex = bank[int(rng.integers(len(bank)))]
        if rng.random() < 0.5:
            tex = tex.T
        tex = tex[:: int(rng.choice((-1, 1))), :: int(rng.choice((-1, 1)))]
        top, left = (int(v) for v in rng.integers(0, self.size + 1, 2))
        return tex[top : top + self.size, left : left + self.size]


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Bicubically upsampled uniform noise on a cells×cells lattice, rescaled to [0, 1]."""
    small = Image.fromarray(rng.random((cells, cells)).astype(np.float32))
    arr = np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    return (arr - arr.min()) / max(float(np.ptp(arr)), 1e-6)


def _vessel_map(rng: np.random.Generator, size: int) -> np.ndarray:
    """Tortuous, branching dark lines drawn as random walks."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    step = size / 28
    for _ in range(28):
        stack = [(rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0, 2 * np.pi), 3)]
        while stack:
            x, y, angle, width = stack.pop()
            for _step in range(int(rng.integers(4, 10))):
                angle += rng.normal(0, 0.45)
                nx, ny = x + step * np.cos(angle), y + step * np.sin(angle)
                draw.line([(x, y), (nx, ny)], fill=int(110 + 45 * width), width=max(1, round(width * size / 512)))
                x, y = nx, ny
                if width > 1 and rng.random() < 0.25:
                    stack.append((x, y, angle + rng.choice((-1, 1)) * rng.uniform(0.5, 1.2), width - 1))
    img = img.filter(ImageFilter.GaussianBlur(max(0.4, size / 512)))
    return np.asarray(img, dtype=np.float32) / 255.0


def _grain(rng: np.random.Generator, size: int) -> np.ndarray:
    """Bumps of one to two pixels: villi, granularity, wet glints."""
    img = Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8))
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32)
    return (arr - arr.min()) / max(float(np.ptp(arr)), 1e-6)


def _spots(rng: np.random.Generator, size: int) -> np.ndarray:
    """Round spots covering about a third of the area, each of its own strength, over faint noise."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    radii = rng.uniform(size / 160, size / 70, int(size * size / (size / 30) ** 2))
    for r, (x, y), value in zip(radii, rng.uniform(0, size, (len(radii), 2)), rng.integers(60, 256, len(radii))):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=int(value))
    return np.asarray(img, np.float32) / 255.0 + 0.01 * rng.random((size, size), np.float32)


@functools.lru_cache(maxsize=8)
def canvas(size: int) -> Canvas:
    """The geometry and texture banks for `size`×`size` images (cached)."""
    rng = np.random.default_rng([_BANK_SEED, size])
    coords = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    y, x = np.meshgrid(coords, coords, indexing="ij")
    third = np.minimum((np.arange(size) * 3) // size, 2)
    cell = third[:, None] * 3 + third[None, :]
    px = 2.0 / size
    fov = np.clip((FOV_RADIUS - np.hypot(x, y)) / (1.5 * px), 0.0, 1.0).astype(np.float32)
    return Canvas(
        size=size,
        px=px,
        x=x,
        y=y,
        cell=cell,
        fov=fov,
        vessels=tuple(_vessel_map(rng, 2 * size) for _ in range(_BANK_SIZE)),
        smooth=tuple(smooth_noise(rng, 2 * size, 10) for _ in range(_BANK_SIZE)),
        mottle=tuple(smooth_noise(rng, 2 * size, 24) for _ in range(_BANK_SIZE)),
        spots=tuple(_spots(rng, 2 * size) for _ in range(_BANK_SIZE)),
        grain=tuple(_grain(rng, 2 * size) for _ in range(_BANK_SIZE)),
    )


def edge(signed: np.ndarray, px: float, width: float = 1.0) -> np.ndarray:
    """Anti-aliased coverage from a signed distance (negative inside), `width` pixels soft."""
    return np.clip(0.5 - signed / (width * px), 0.0, 1.0)


def blend(img: np.ndarray, colour: np.ndarray | tuple[float, float, float], alpha: np.ndarray) -> None:
    """In place: img = img·(1-alpha) + colour·alpha."""
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * np.asarray(colour, dtype=np.float32)


def segment(cv: Canvas, a: tuple[float, float], b: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every pixel: position t in [0, 1] along a→b, distance to the segment and the side (±)."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = max(dx * dx + dy * dy, 1e-9)
    px_, py_ = cv.x - ax, cv.y - ay
    t = np.clip((px_ * dx + py_ * dy) / length2, 0.0, 1.0)
    ex, ey = px_ - t * dx, py_ - t * dy
    side = np.sign(dx * py_ - dy * px_)
    return t, np.hypot(ex, ey), side


def polar(cv: Canvas, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance and angle of every pixel around (cx, cy)."""
    dx, dy = cv.x - cx, cv.y - cy
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def wobble(rng: np.random.Generator, theta: np.ndarray, amplitude: float, harmonics: tuple[int, ...]) -> np.ndarray:
    """A smooth random periodic function of the angle: irregular borders."""
    out = np.zeros_like(theta)
    for k in harmonics:
        out += np.sin(k * theta + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 1.0) / k**0.5
    return amplitude * out


@dataclass
class Layers:
    """The picture under construction (mutable): final = albedo · shade · illum + spec."""

    albedo: np.ndarray  # (size, size, 3) surface colour
    shade: np.ndarray  # (size, size) relief: folds, raised lesions
    illum: np.ndarray  # (size, size) light falling off into the lumen
    spec: np.ndarray  # (size, size) white specular glints

    @staticmethod
    def empty(size: int) -> Layers:
        return Layers(
            albedo=np.zeros((size, size, 3), np.float32),
            shade=np.ones((size, size), np.float32),
            illum=np.ones((size, size), np.float32),
            spec=np.zeros((size, size), np.float32),
        )

    def compose(self) -> np.ndarray:
        return self.albedo * (self.shade * self.illum)[..., None] + self.spec[..., None]
