"""Abnormalities, each painted in the image's abnormality colours; each returns its pixel mask (bool).

polyp: a raised, shaded lesion whose shape follows the Paris type (Ip head on a stalk, Is dome, IIa flat
plaque with an irregular border). ulcerative colitis: red granular mucosa without vessels, with erosions
and fibrin. oesophagitis: red linear erosions running up from the z-line. barretts: salmon tongues.
The first body colour present tints the lesion; every other colour covers a patch of it (PATCH_STYLES).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptopt.sim.canvas import Canvas, Layers, blend, edge, polar, segment, wobble
from promptopt.sim.sampling import Polyp

COLOURS = {
    "pink": (0.96, 0.58, 0.62),
    "red": (0.8, 0.16, 0.15),
    "white": (0.97, 0.95, 0.9),
    "yellow": (0.93, 0.8, 0.3),
    "orange": (0.96, 0.5, 0.2),
    "brown": (0.45, 0.24, 0.14),
    "grey": (0.62, 0.62, 0.64),
}


@dataclass(frozen=True)
class PatchStyle:
    """How a colour that is not the body colour shows: which texture, what share, how soft, how opaque."""

    bank: str
    share: float
    softness: float
    opacity: float
    clustered: bool = False  # gathered where a large-scale noise is high, not spread evenly


# Reds and pinks as soft blushes, white and yellow as small fibrin / mucus spots, brown and grey as mottling.
_BLUSH = PatchStyle("smooth", 0.35, 0.12, 0.5)
_SPOTS = PatchStyle("spots", 0.08, 0.03, 0.9, clustered=True)
_MOTTLE = PatchStyle("mottle", 0.15, 0.06, 0.6)
PATCH_STYLES = {"pink": _BLUSH, "red": _BLUSH, "orange": _BLUSH, "white": _SPOTS, "yellow": _SPOTS,
                "brown": _MOTTLE, "grey": _MOTTLE}  # fmt: skip
SALMON = (0.96, 0.52, 0.4)
# The light sits at the scope tip, next to the camera: nearly frontal, a little from the upper left.
_LIGHT = np.array([-0.2, -0.25, 1.0], np.float32) / np.linalg.norm([-0.2, -0.25, 1.0])
_HALF = (_LIGHT + np.array([0, 0, 1], np.float32)) / np.linalg.norm(_LIGHT + np.array([0, 0, 1], np.float32))


def paint(
    cv: Canvas,
    layers: Layers,
    alpha: np.ndarray,
    colours: tuple[str, ...],
    body_order: tuple[str, ...],
    rng: np.random.Generator,
) -> None:
    """Tint `alpha` with the first of `body_order` present, then lay every other colour on a patch of it."""
    body = next((c for c in body_order if c in colours), colours[0])
    blend(layers.albedo, np.asarray(COLOURS[body]) * rng.uniform(0.93, 1.05), 0.8 * alpha)
    inside = alpha > 0.5
    if not inside.any():
        return
    for colour in colours:
        if colour == body:
            continue
        style = PATCH_STYLES[colour]
        tex = cv.texture(rng, getattr(cv, style.bank))
        if style.clustered:
            tex = tex * cv.texture(rng, cv.smooth)
        threshold = float(np.quantile(tex[inside], 1.0 - style.share))
        patch = np.clip((tex - threshold) / style.softness + 0.5, 0.0, 1.0)
        blend(layers.albedo, COLOURS[colour], style.opacity * alpha * patch)


def _relief(cv: Canvas, layers: Layers, height: np.ndarray, alpha: np.ndarray, gloss: np.ndarray | float) -> None:
    """Lambert shading and a specular spot from a height field, replacing the folds under the lesion."""
    hy, hx = np.gradient(height, cv.px)
    norm = np.sqrt(hx * hx + hy * hy + 1.0)
    diffuse = np.clip((-hx * _LIGHT[0] - hy * _LIGHT[1] + _LIGHT[2]) / norm, 0.0, 1.0) / _LIGHT[2]
    layers.shade[:] = layers.shade * (1.0 - alpha) + alpha * (0.4 + 0.65 * diffuse)
    highlight = np.clip((-hx * _HALF[0] - hy * _HALF[1] + _HALF[2]) / norm, 0.0, 1.0) ** 40
    layers.spec += gloss * alpha * highlight


def draw_polyp(
    cv: Canvas, layers: Layers, polyp: Polyp, colours: tuple[str, ...], rng: np.random.Generator
) -> np.ndarray:
    dx, dy = cv.x - polyp.x, cv.y - polyp.y
    c, s, r = np.cos(polyp.angle), np.sin(polyp.angle), polyp.radius
    u = (dx * c + dy * s) / r
    v = (-dx * s + dy * c) / (r * rng.uniform(0.8, 1.0))
    q = u * u + v * v
    if polyp.paris == "ip":  # a round head on a mucosa-covered stalk that widens to its base
        head = 0.8 * r
        qh = (dx * dx + dy * dy) / head**2
        base = (polyp.x + 1.8 * r * c, polyp.y + 1.8 * r * s)
        t, dist, _ = segment(cv, (polyp.x, polyp.y), base)
        w = (0.4 + 0.25 * t) * r
        stalk = np.sqrt(np.clip(1.0 - (dist / w) ** 2, 0.0, None)) * w + 0.6 * r * (1.0 - t)
        dome = np.sqrt(np.clip(1.0 - qh, 0.0, None)) * head + 0.6 * r
        height = np.maximum(np.where(qh < 1, dome, 0.0), np.where(dist < w, stalk, 0.0))
        tint = edge(qh - 1.0, 2.0 * cv.px / head)  # the lesion colours go on the head
        alpha = np.maximum(tint, edge(dist - w, cv.px))
    else:
        if polyp.paris == "iia":  # flat, slightly raised plaque with an irregular border
            q = q * (1.0 + wobble(rng, np.arctan2(v, u), 0.3, (2, 3, 5)))
            height = np.clip((1.0 - q) * 2.0, 0.0, 1.0) ** 1.5 * 0.07 * r
            alpha = edge(q - 1.0, 0.15)
        else:  # is: a sessile dome on a broad base
            height = np.clip(1.0 - q, 0.0, None) * 0.6 * r
            alpha = edge(q - 1.0, 2.0 * cv.px / r)
        tint = alpha * np.clip((1.0 - q) / 0.35, 0.0, 1.0) ** 0.5  # the colour fades into the mucosa at the base
    # A thin soft shadow falls to the lower right of raised polyps.
    qs = ((dx - 0.1 * r) ** 2 + (dy - 0.12 * r) ** 2) / (1.05 * r) ** 2
    layers.shade *= 1.0 - (0.25 if polyp.paris != "iia" else 0.1) * np.clip((1.3 - qs) / 0.3, 0.0, 1.0) * (1 - alpha)
    if polyp.paris == "ip":
        blend(layers.albedo, np.asarray(layers.albedo[alpha > 0.5].mean(axis=0)), 0.6 * alpha)  # plain stalk
    paint(cv, layers, tint, colours, ("pink", "red", "orange"), rng)
    if polyp.paris == "iia":
        blend(layers.albedo, (1.0, 0.85, 0.85), 0.2 * alpha)  # flat adenomas look paler
    layers.albedo *= (1.0 - alpha * (0.08 - 0.16 * cv.texture(rng, cv.grain)))[..., None]  # pit pattern
    _relief(cv, layers, height, alpha, gloss=(0.7 if polyp.paris != "iia" else 0.15) * tint)
    np.maximum(layers.illum, 0.85 * alpha, out=layers.illum)  # it stands out of the lumen's shadow
    return alpha > 0.5


def draw_ulcerative_colitis(
    cv: Canvas, layers: Layers, colours: tuple[str, ...], rng: np.random.Generator
) -> np.ndarray:
    if rng.random() < 0.6:
        region = np.ones_like(cv.x)
    else:
        region = np.clip((cv.texture(rng, cv.smooth) - rng.uniform(0.25, 0.5)) / 0.1, 0.0, 1.0)
    region = region * (cv.fov > 0)
    blend(layers.albedo, np.asarray(layers.albedo.mean(axis=(0, 1))), 0.6 * region)  # vessels vanish
    paint(cv, layers, 0.75 * region, colours, ("red", "pink", "orange"), rng)
    layers.shade *= 1.0 - region * (0.12 - 0.24 * cv.texture(rng, cv.grain))
    return region > 0.5


def _streaks(
    cv: Canvas,
    centre: tuple[float, float],
    start: float,
    count: int,
    width: tuple[float, float],
    length: tuple[float, float],
    taper: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Coverage of `count` tongues running outwards from radius `start` around `centre`."""
    d, theta = polar(cv, *centre)
    alpha = np.zeros_like(d)
    for _ in range(count):
        a0 = rng.uniform(0, 2 * np.pi)
        r0 = start * rng.uniform(0.85, 1.0)
        long = rng.uniform(*length)
        w = rng.uniform(*width)
        along = (d - r0) / long
        across = np.abs((theta - a0 + np.pi) % (2 * np.pi) - np.pi) * d
        half = w * (1.0 - taper * np.clip(along, 0.0, 1.0)) * (1.0 + 0.15 * np.sin(7 * along + a0))
        half = np.maximum(half, cv.px)  # at least two pixels wide at any size
        tongue = edge(across - half, cv.px) * edge(along - 1.0, cv.px / long) * (along > 0)
        alpha = np.maximum(alpha, tongue)
    return alpha


def draw_oesophagitis(
    cv: Canvas,
    layers: Layers,
    centre: tuple[float, float],
    start: float,
    colours: tuple[str, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    alpha = _streaks(cv, centre, start, int(rng.integers(2, 6)), (0.05, 0.1), (0.35, 0.7), 0.7, rng)
    paint(cv, layers, alpha, colours, ("red", "pink", "orange"), rng)
    layers.shade *= 1.0 - 0.12 * alpha
    return alpha > 0.5


def draw_barretts(
    cv: Canvas,
    layers: Layers,
    centre: tuple[float, float],
    start: float,
    colours: tuple[str, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    alpha = _streaks(cv, centre, start, int(rng.integers(1, 4)), (0.1, 0.18), (0.25, 0.5), 0.2, rng)
    paint(cv, layers, alpha, colours, ("orange", "pink", "red"), rng)
    blend(layers.albedo, SALMON, 0.5 * alpha)
    return alpha > 0.5
