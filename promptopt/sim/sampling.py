"""Draw what one GI-sim image shows: procedure, findings, landmarks, polyps, instruments, overlays.

Coordinates are normalised: x and y run from -1 (left, top) to 1 (right, bottom) across the image.
Placement avoids the overlays and keeps instruments off polyp centres, so everything sampled stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptopt.grammar.vocabulary import FINDINGS, LANDMARKS
from promptopt.sim.config import SimConfig, Weighted

# Polyp radius range (normalised units, half the image = 1) per Paris size class.
POLYP_RADII = {"<5mm": (0.15, 0.2), "5-10mm": (0.21, 0.28), "11-20mm": (0.29, 0.37), ">20mm": (0.38, 0.48)}
# Half-width of each instrument's shaft (normalised units).
INSTRUMENT_WIDTHS = {
    "biopsy forceps": 0.055,
    "polyp snare": 0.035,
    "metal clip": 0.04,
    "injection needle": 0.03,
    "tube": 0.11,
}
# Overlay rectangles (x0, y0, x1, y1): text at the upper left, the box artefact at the lower left.
TEXT_RECT = (-1.0, -1.0, -0.45, -0.3)
BOX_RECT = (-1.0, 0.5, -0.45, 1.0)
FOV_RADIUS = 1.15  # the round field of view, cut by the image border: dark corners


@dataclass(frozen=True)
class Polyp:
    paris: str
    size: str
    x: float
    y: float
    radius: float
    angle: float  # orientation of the ellipse and of an Ip stalk (radians)


@dataclass(frozen=True)
class Instrument:
    kind: str
    entry: tuple[float, float]  # where it enters, on the rim of the field of view
    tip: tuple[float, float]


@dataclass(frozen=True)
class Scene:
    """Everything the renderer must draw; colours are those of the abnormalities."""

    procedure: str
    findings: tuple[str, ...]
    landmarks: tuple[str, ...]
    polyps: tuple[Polyp, ...]
    instruments: tuple[Instrument, ...]
    colours: tuple[str, ...]
    lumen: tuple[float, float]
    lumen_radius: float
    text: bool
    box: bool


def pick(rng: np.random.Generator, table: Weighted) -> object:
    """One value of a ((value, weight), ...) table."""
    weights = np.array([w for _, w in table], dtype=float)
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def _in_rect(x: float, y: float, rect: tuple[float, float, float, float], margin: float) -> bool:
    x0, y0, x1, y1 = rect
    return x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    pa, ba = np.subtract(p, a), np.subtract(b, a)
    t = float(np.clip(pa @ ba / max(ba @ ba, 1e-9), 0.0, 1.0))
    return float(np.hypot(*(pa - t * ba)))


def _blocked(x: float, y: float, margin: float, text: bool, box: bool) -> bool:
    return (text and _in_rect(x, y, TEXT_RECT, margin)) or (box and _in_rect(x, y, BOX_RECT, margin))


def _place_polyps(
    rng: np.random.Generator, cfg: SimConfig, lumen: tuple[float, float], lumen_radius: float, text: bool, box: bool
) -> tuple[Polyp, ...]:
    polyps: list[Polyp] = []
    for _ in range(int(pick(rng, cfg.polyp_counts))):
        paris, size = str(pick(rng, cfg.polyp_types)), str(pick(rng, cfg.polyp_sizes))
        radius = float(rng.uniform(*POLYP_RADII[size]))
        for _try in range(60):  # the last try is kept if none is free
            rho, phi = 0.78 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            x, y = float(rho * np.cos(phi)), float(rho * np.sin(phi))
            clear_lumen = np.hypot(x - lumen[0], y - lumen[1]) > lumen_radius + 0.7 * radius
            clear_others = all(np.hypot(x - p.x, y - p.y) > radius + p.radius for p in polyps)
            if clear_lumen and clear_others and not _blocked(x, y, 0.5 * radius, text, box):
                break
        polyps.append(Polyp(paris, size, x, y, radius, float(rng.uniform(0, 2 * np.pi))))
    return tuple(polyps)


def _place_instruments(
    rng: np.random.Generator, cfg: SimConfig, polyps: tuple[Polyp, ...], text: bool, box: bool
) -> tuple[Instrument, ...]:
    count = int(pick(rng, cfg.instrument_counts))
    kinds: list[str] = []
    while len(kinds) < count:
        kind = str(pick(rng, cfg.instrument_types))
        if kind not in kinds:
            kinds.append(kind)
    instruments = []
    for kind in kinds:
        width = INSTRUMENT_WIDTHS[kind]
        for _try in range(60):
            theta = rng.uniform(0, 2 * np.pi)
            entry = (float(FOV_RADIUS * np.cos(theta)), float(FOV_RADIUS * np.sin(theta)))
            rho, phi = 0.6 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            tip = (float(rho * np.cos(phi)), float(rho * np.sin(phi)))
            long_enough = np.hypot(tip[0] - entry[0], tip[1] - entry[1]) > 0.7
            clear = all(_segment_distance((p.x, p.y), entry, tip) > width + 0.6 * p.radius + 0.1 for p in polyps)
            if long_enough and clear and not _blocked(*tip, 0.1, text, box):
                break
        instruments.append(Instrument(kind, entry, tip))
    return tuple(instruments)


def sample_scene(rng: np.random.Generator, cfg: SimConfig) -> Scene:
    """Draw one scene from the frequencies in `cfg`."""
    colonoscopy = bool(rng.random() < cfg.p_colonoscopy)
    names = pick(rng, cfg.colonoscopy_scenes if colonoscopy else cfg.gastroscopy_scenes)
    findings = tuple(sorted(n for n in names if n in FINDINGS))
    landmarks = tuple(sorted(n for n in names if n in LANDMARKS))
    text = bool(rng.random() < cfg.p_text)
    box = colonoscopy and bool(rng.random() < cfg.p_box_colonoscopy)
    rho, phi = 0.35 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
    lumen = (float(rho * np.cos(phi)), float(rho * np.sin(phi)))
    lumen_radius = float(rng.uniform(0.1, 0.2))
    polyps = _place_polyps(rng, cfg, lumen, lumen_radius, text, box) if "polyp" in findings else ()
    instruments = _place_instruments(rng, cfg, polyps, text, box)
    colours = tuple(sorted(pick(rng, cfg.colour_sets))) if findings else ()
    return Scene(
        procedure="colonoscopy" if colonoscopy else "gastroscopy",
        findings=findings,
        landmarks=landmarks,
        polyps=polyps,
        instruments=instruments,
        colours=colours,
        lumen=lumen,
        lumen_radius=lumen_radius,
        text=text,
        box=box,
    )
