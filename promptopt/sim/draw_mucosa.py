"""The background: mucosa colour, vessel pattern, folds, the dark lumen, light falloff and wet glints.

Three views: `colon` (orange-pink, haustral ring folds around the lumen), `stomach` (redder, tortuous
rugae) and `oesophagus` (pale squamous tube, faint longitudinal folds).
"""

from __future__ import annotations

import numpy as np

from promptopt.sim.canvas import Canvas, Layers, blend, edge, polar, wobble
from promptopt.sim.sampling import FOV_RADIUS

MUCOSA = {"colon": (0.92, 0.54, 0.43), "stomach": (0.92, 0.5, 0.4), "oesophagus": (0.93, 0.72, 0.67)}
VESSEL = (0.58, 0.12, 0.14)
VESSEL_STRENGTH = {"colon": 0.5, "stomach": 0.2, "oesophagus": 0.3}
LUMEN = (0.12, 0.04, 0.03)


def _folds(view: str, d: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Relief of the folds and where their crests are (for glints), both in [0, 1]."""
    if view == "colon":
        # Haustral rings, denser towards the lumen; each fold hides a dark crescent on its lumen side.
        phase = np.log(d + 0.04) / np.log(rng.uniform(1.5, 1.9)) + wobble(rng, theta, 0.3, (1, 2, 3))
        s = phase % 1.0
        # Fold shadows come and go around each ring: semilunar folds, not contour lines.
        strength = np.clip(0.45 + wobble(rng, theta + 1.3 * np.floor(phase), 1.0, (1, 2, 3)), 0.1, 1.0)
        shadow = strength * np.clip((s - 0.6) / 0.4, 0.0, 1.0) ** 2
        return 1.0 - 0.5 * shadow, strength * np.exp(-((s / 0.12) ** 2))
    k = int(rng.integers(6, 11)) if view == "stomach" else 5
    amp = 0.16 if view == "stomach" else 0.07
    bend = wobble(rng, theta, 1.0, (1, 2)) + 2.5 * d * rng.uniform(0.5, 1.5)
    wave = np.sin(k * theta + bend)
    return 1.0 - amp + amp * wave, np.clip(wave - 0.6, 0.0, 0.4) / 0.4


def draw_mucosa(
    cv: Canvas, layers: Layers, view: str, lumen: tuple[float, float], deep: bool, rng: np.random.Generator
) -> None:
    """Paint the mucosa, its vessels and folds, and the light falling off towards the lumen (far if `deep`)."""
    base = np.asarray(MUCOSA[view], np.float32) * rng.uniform(0.94, 1.05, 3).astype(np.float32)
    tint = cv.texture(rng, cv.smooth)
    layers.albedo[:] = base * (0.88 + 0.24 * tint[..., None])
    blend(layers.albedo, VESSEL, VESSEL_STRENGTH[view] * cv.texture(rng, cv.vessels))

    d, theta = polar(cv, *lumen)
    relief, crest = _folds(view, d, theta, rng)
    layers.shade *= relief
    reach = {"oesophagus": 0.35, "stomach": 0.35, "colon": 0.5}[view] if deep else 0.8
    r = np.hypot(cv.x, cv.y)
    layers.illum[:] = (0.3 + 0.85 * (1.0 - np.exp(-((d / reach) ** 2)))) * (1.0 - 0.3 * (r / FOV_RADIUS) ** 4)
    glint = np.clip((cv.texture(rng, cv.grain) - 0.82) / 0.08, 0.0, 1.0)
    layers.spec += 0.85 * glint * crest * (layers.illum > 0.75)


def draw_lumen(cv: Canvas, layers: Layers, lumen: tuple[float, float], radius: float, rng: np.random.Generator) -> None:
    """The dark hole where the tube recedes out of the light."""
    d, theta = polar(cv, *lumen)
    border = d - radius * (1.0 + wobble(rng, theta, 0.25, (2, 3)))
    hole = edge(border, cv.px, width=max(2.0, 0.6 * radius / cv.px))
    blend(layers.albedo, LUMEN, hole)
    layers.illum *= 1.0 - 0.85 * hole
    layers.spec *= 1.0 - hole
