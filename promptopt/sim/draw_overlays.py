"""Video-processor overlays: white text at the upper left, the green/black scope-guide box at the lower left."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from promptopt.sim.sampling import BOX_RECT, TEXT_RECT

Rect = tuple[float, float, float, float]


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(4, round(size / 15)))


def _pixels(rect: Rect, size: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = ((v + 1.0) / 2.0 * size for v in rect)
    return round(x0), round(y0), round(x1), round(y1)


def _lines(rng: np.random.Generator) -> list[str]:
    n = rng.integers(0, 10, 12)
    candidates = [
        f"{n[0] + 1:02d}/{n[1] + 1:02d}/20{n[2] + 10}",
        f"{n[3] + 8:02d}:{n[4] * 5 + n[5]:02d}:{n[6] * 6:02d}",
        f"CVP:{n[7] % 5 + 1}",
        f"Eh:A{n[8] % 8 + 1}",
        f"Gr:{'NHL'[n[9] % 3]}",
        f"Cr:{n[10] % 9}",
        f"Im:{n[11] + 1}/9",
    ]
    keep = int(rng.integers(3, 6))
    return [candidates[i] for i in sorted(rng.choice(len(candidates), keep, replace=False))]


def draw_text(image: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """White text lines in TEXT_RECT; returns the mask of the rectangle they occupy."""
    size = image.width
    x0, y0, x1, y1 = _pixels(TEXT_RECT, size)
    draw, font = ImageDraw.Draw(image), _font(size)
    step = max(5, round(size / 12))
    y, bottom, right = y0 + max(1, size // 40), y0, x0
    for line in _lines(rng):
        if y + step > y1:
            break
        draw.text((x0 + max(1, size // 40), y), line, fill=(235, 235, 235), font=font)
        box = draw.textbbox((x0 + max(1, size // 40), y), line, font=font)
        bottom, right = max(bottom, box[3]), max(right, min(box[2], x1))
        y += step
    mask = np.zeros((size, size), bool)
    mask[y0:bottom, x0:right] = True
    return mask


def draw_box(image: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """A black box with a green scope-position trace in BOX_RECT; returns its mask."""
    size = image.width
    x0, y0, x1, y1 = _pixels(BOX_RECT, size)
    draw = ImageDraw.Draw(image)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=(5, 8, 5))
    w, h = x1 - x0, y1 - y0
    points, angle = [(x0 + w * 0.2, y0 + h * 0.85)], -np.pi / 2 + rng.normal(0, 0.3)
    for _ in range(int(rng.integers(5, 9))):
        angle += rng.uniform(0.2, 1.0)
        x = float(np.clip(points[-1][0] + 0.22 * w * np.cos(angle), x0 + 2, x1 - 3))
        y = float(np.clip(points[-1][1] + 0.22 * h * np.sin(angle), y0 + 2, y1 - 3))
        points.append((x, y))
    draw.line(points, fill=(40, 200, 70), width=max(1, round(size / 50)), joint="curve")
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(30, 120, 45))
    mask = np.zeros((size, size), bool)
    mask[y0:y1, x0:x1] = True
    return mask
