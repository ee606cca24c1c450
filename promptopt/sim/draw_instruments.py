"""Instruments entering from the rim of the field of view towards their tip, painted on the lit image.

Each instrument is a few shaded cylinders (capsules): a slightly bent shaft plus its working end —
forceps jaws, a wire snare loop, clip prongs, a needle — or a thick translucent tube. Returns the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptopt.sim.canvas import Canvas, blend, edge, segment
from promptopt.sim.sampling import INSTRUMENT_WIDTHS, Instrument

Point = tuple[float, float]


@dataclass(frozen=True)
class Material:
    colour: tuple[float, float, float]
    gloss: float
    opacity: float
    coil: bool = False  # the banding of a metal spiral sheath


METAL = Material((0.7, 0.72, 0.76), 0.9, 1.0)
COIL = Material((0.62, 0.64, 0.68), 0.7, 1.0, coil=True)
DARK_METAL = Material((0.3, 0.3, 0.33), 0.4, 1.0)
BLUE_SHEATH = Material((0.25, 0.45, 0.85), 0.6, 1.0)
CLEAR_SHEATH = Material((0.8, 0.88, 0.95), 0.8, 0.85)
TUBE = Material((0.93, 0.93, 0.9), 0.6, 0.95)


@dataclass(frozen=True)
class Part:
    a: Point
    b: Point
    radius_a: float
    radius_b: float
    material: Material


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _at(p: np.ndarray) -> Point:
    return float(p[0]), float(p[1])


def _parts(inst: Instrument, rng: np.random.Generator) -> tuple[list[Part], float]:
    """The capsules of one instrument, and the wire-loop radius for a snare (0 otherwise)."""
    entry, tip = np.array(inst.entry), np.array(inst.tip)
    axis = (tip - entry) / np.linalg.norm(tip - entry)
    bend = 0.5 * (entry + tip) + _rotate(axis, np.pi / 2) * rng.normal(0.0, 0.08)
    w = INSTRUMENT_WIDTHS[inst.kind]
    shaft = {
        "biopsy forceps": COIL,
        "polyp snare": CLEAR_SHEATH,
        "metal clip": BLUE_SHEATH,
        "injection needle": CLEAR_SHEATH,
        "tube": TUBE,
    }[inst.kind]
    parts = [
        Part(_at(entry), _at(bend), 1.5 * w, 1.2 * w, shaft),
        Part(_at(bend), _at(tip), 1.2 * w, w, shaft),
    ]
    loop = 0.0
    if inst.kind == "biopsy forceps":
        opening = rng.uniform(0.3, 0.6)
        for sign in (-1, 1):
            jaw = tip + _rotate(axis, sign * opening) * 4.0 * w
            parts.append(Part(_at(tip), _at(jaw), 1.1 * w, 0.8 * w, METAL))
            parts.append(Part(_at(tip + 0.3 * (jaw - tip)), _at(jaw), 0.35 * w, 0.3 * w, DARK_METAL))
    elif inst.kind == "metal clip":
        body = tip + axis * 2.0 * w
        parts.append(Part(_at(tip), _at(body), 0.9 * w, 0.9 * w, METAL))
        for sign in (-1, 1):
            prong = body + _rotate(axis, sign * 0.35) * 4.5 * w
            parts.append(Part(_at(body), _at(prong), 0.4 * w, 0.35 * w, METAL))
    elif inst.kind == "injection needle":
        parts.append(Part(_at(tip), _at(tip + axis * 3.5 * w), 0.3 * w, 0.2 * w, METAL))
    elif inst.kind == "polyp snare":
        loop = rng.uniform(0.12, 0.22)
    return parts, loop


def _paint_part(cv: Canvas, img: np.ndarray, part: Part, depth: np.ndarray, floor: float) -> np.ndarray:
    t, dist, side = segment(cv, part.a, part.b)
    radius = np.maximum(part.radius_a + (part.radius_b - part.radius_a) * t, floor)
    cover = edge(dist - radius, cv.px)
    across = np.clip(dist / radius, 0.0, 1.0) * side
    light = 0.35 + 0.65 * np.sqrt(1.0 - across * across)
    if part.material.coil:
        length = np.hypot(part.b[0] - part.a[0], part.b[1] - part.a[1])
        light = light * (0.85 + 0.15 * np.sin(t * length / (3.0 * cv.px) * 2 * np.pi))
    glint = part.material.gloss * np.exp(-(((across + 0.4) / 0.2) ** 2))
    colour = np.asarray(part.material.colour, np.float32) * (light * depth)[..., None] + glint[..., None]
    a = (cover * part.material.opacity)[..., None]
    img *= 1.0 - a
    img += a * colour
    return cover


def draw_instrument(cv: Canvas, img: np.ndarray, inst: Instrument, rng: np.random.Generator) -> np.ndarray:
    """Paint `inst` over the lit RGB image `img` (in place); returns its mask."""
    parts, loop = _parts(inst, rng)
    reach = np.hypot(inst.tip[0] - inst.entry[0], inst.tip[1] - inst.entry[1])
    depth = 1.0 - 0.35 * np.clip(np.hypot(cv.x - inst.entry[0], cv.y - inst.entry[1]) / reach, 0.0, 1.0)
    # The shaft's shadow darkens the mucosa beside it.
    _, dist, _ = segment(cv, inst.entry, inst.tip)
    img *= (1.0 - 0.35 * np.exp(-(((dist - 1.6 * INSTRUMENT_WIDTHS[inst.kind]) / 0.06) ** 2)))[..., None]
    cover = np.zeros_like(cv.x)
    for part in parts:
        cover = np.maximum(cover, _paint_part(cv, img, part, depth, 0.6 * cv.px))
    if loop:
        tip, axis = np.array(inst.tip), np.subtract(inst.tip, inst.entry) / reach
        centre = tip + axis * loop
        dx, dy = cv.x - centre[0], cv.y - centre[1]
        u = (dx * axis[0] + dy * axis[1]) / loop
        v = (-dx * axis[1] + dy * axis[0]) / (0.7 * loop)
        wire = edge(np.abs(np.sqrt(u * u + v * v) - 1.0) * 0.7 * loop - 0.5 * cv.px, cv.px)
        blend(img, (0.92, 0.93, 0.95), 0.95 * wire)
        cover = np.maximum(cover, wire)
    return cover > 0.5
