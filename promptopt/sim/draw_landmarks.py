"""Anatomical landmarks, each painted onto the layers; each returns its pixel mask (bool) for the labels.

z-line: irregular border ring between pale squamous oesophagus and salmon gastric mucosa around the lumen.
pylorus: small round opening in a raised sphincter ring with converging folds.
cecum: the triradiate fold (three ridges) around a crescent appendiceal orifice.
ileum: pale, velvety villous texture with lymphoid follicles.
"""

from __future__ import annotations

import numpy as np

from promptopt.sim.canvas import Canvas, Layers, blend, edge, polar, segment, wobble

GASTRIC = (0.97, 0.46, 0.36)
VILLI = (0.96, 0.7, 0.64)


def draw_zline(
    cv: Canvas, layers: Layers, centre: tuple[float, float], radius: float, rng: np.random.Generator
) -> np.ndarray:
    d, theta = polar(cv, *centre)
    border = radius * (1.0 + wobble(rng, theta, 0.2, (2, 3, 5, 8)))
    inside = edge(d - border, cv.px, width=1.5)
    blend(layers.albedo, np.asarray(GASTRIC) * rng.uniform(0.95, 1.05), inside)
    # The squamous side lightens just outside the border: a pale rim.
    rim = np.exp(-(((d - border) / (0.05 + 0.3 * cv.px)) ** 2)) * (d > border)
    blend(layers.albedo, (0.97, 0.85, 0.8), 0.45 * rim)
    return np.abs(d - border) < 0.08


def draw_pylorus(
    cv: Canvas, layers: Layers, centre: tuple[float, float], opening: float, rng: np.random.Generator
) -> np.ndarray:
    d, theta = polar(cv, *centre)
    ring = 2.0 * opening
    layers.shade *= 1.0 + 0.35 * np.exp(-(((d - ring) / (0.7 * opening)) ** 2))
    converge = 0.5 + 0.5 * np.sin(int(rng.integers(7, 11)) * theta + wobble(rng, theta, 1.5, (1, 2)))
    layers.shade *= 1.0 - 0.3 * converge * np.exp(-(((d - 1.2 * ring) / ring) ** 2))
    blend(layers.albedo, (0.95, 0.6, 0.52), 0.35 * np.exp(-(((d - ring) / opening) ** 2)))
    return d < 2.8 * opening


def draw_cecum(cv: Canvas, layers: Layers, centre: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(cv.x.shape, bool)
    start = rng.uniform(0, 2 * np.pi)
    width = rng.uniform(0.06, 0.09)
    for k in range(3):
        angle = start + 2 * np.pi * k / 3 + rng.normal(0, 0.2)
        length = rng.uniform(0.5, 0.8)
        tip = (centre[0] + length * np.cos(angle), centre[1] + length * np.sin(angle))
        t, dist, side = segment(cv, centre, tip)
        w = width * (1.0 - 0.5 * t)
        layers.shade *= 1.0 + 0.35 * np.clip(1.0 - dist / w, 0.0, 1.0)
        layers.shade *= 1.0 - 0.6 * np.exp(-(((dist - w) / (0.6 * w)) ** 2)) * (side > 0)
        mask |= dist < w * 1.5
    angle = start + np.pi / 3
    ox, oy = centre[0] + 0.15 * np.cos(angle), centre[1] + 0.15 * np.sin(angle)
    r = rng.uniform(0.08, 0.12)
    d_outer = np.hypot(cv.x - ox, cv.y - oy)
    d_inner = np.hypot(cv.x - ox - 0.5 * r * np.cos(angle), cv.y - oy - 0.5 * r * np.sin(angle))
    crescent = edge(d_outer - r, cv.px) * (1.0 - edge(d_inner - r, cv.px))
    layers.shade *= 1.0 - 0.8 * crescent
    mask |= d_outer < r * 1.3
    return mask


def draw_ileum(cv: Canvas, layers: Layers, rng: np.random.Generator) -> np.ndarray:
    region = np.clip((cv.texture(rng, cv.smooth) - rng.uniform(0.0, 0.2)) / 0.1, 0.0, 1.0)
    blend(layers.albedo, VILLI, 0.8 * region)
    layers.shade *= 1.0 - region * (0.2 - 0.4 * cv.texture(rng, cv.grain))
    follicles = np.clip((cv.texture(rng, cv.spots) - 0.75) / 0.1, 0.0, 1.0) * region
    blend(layers.albedo, (1.0, 0.88, 0.82), 0.6 * follicles)
    layers.shade *= 1.0 + 0.15 * follicles
    return region > 0.5
