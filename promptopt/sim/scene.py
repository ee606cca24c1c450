"""Render a sampled scene and derive its labels from what was actually painted.

Counts, types, sizes and colours come from the scene; locations come from the visible pixels of each
object (not hidden by an instrument or an overlay), so the labels describe the picture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from promptopt.sim.canvas import Layers, canvas
from promptopt.sim.config import SimConfig
from promptopt.sim.draw_findings import draw_barretts, draw_oesophagitis, draw_polyp, draw_ulcerative_colitis
from promptopt.sim.draw_instruments import draw_instrument
from promptopt.sim.draw_landmarks import draw_cecum, draw_ileum, draw_pylorus, draw_zline
from promptopt.sim.draw_mucosa import draw_lumen, draw_mucosa
from promptopt.sim.draw_overlays import draw_box, draw_text
from promptopt.sim.labels import Labels, cells_of
from promptopt.sim.sampling import Scene, sample_scene

OESOPHAGUS = ("z-line", "oesophagitis", "barretts")


def _cells(masks: list[np.ndarray], visible: np.ndarray, cell: np.ndarray) -> tuple[str, ...]:
    found: set[str] = set()
    for mask in masks:
        found |= cells_of(mask & visible, cell)
    return tuple(sorted(found))


def render_scene(scene: Scene, size: int, rng: np.random.Generator) -> tuple[Image.Image, Labels]:
    """Paint `scene` at `size`×`size`; the details (textures, shapes) come from `rng`."""
    cv = canvas(size)
    layers = Layers.empty(size)
    present = set(scene.findings) | set(scene.landmarks)
    if scene.procedure == "colonoscopy":
        view = "colon"
    else:
        view = "oesophagus" if present & set(OESOPHAGUS) else "stomach"
    cecum = "cecum" in present
    draw_mucosa(cv, layers, view, scene.lumen, not cecum, rng)

    ring = scene.lumen_radius * rng.uniform(2.6, 3.6)  # where the z-line (the oesophagus' end) lies
    landmarks = []
    if "z-line" in present:
        landmarks.append(draw_zline(cv, layers, scene.lumen, ring, rng))
    if "pylorus" in present:
        landmarks.append(draw_pylorus(cv, layers, scene.lumen, 0.6 * scene.lumen_radius, rng))
    if cecum:
        landmarks.append(draw_cecum(cv, layers, scene.lumen, rng))
    if "ileum" in present:
        landmarks.append(draw_ileum(cv, layers, rng))

    abnormal = []
    if "ulcerative colitis" in present:
        abnormal.append(draw_ulcerative_colitis(cv, layers, scene.colours, rng))
    if "barretts" in present:
        abnormal.append(draw_barretts(cv, layers, scene.lumen, ring, scene.colours, rng))
    if "oesophagitis" in present:
        abnormal.append(draw_oesophagitis(cv, layers, scene.lumen, ring, scene.colours, rng))
    if not cecum:
        opening = scene.lumen_radius * (0.6 if "pylorus" in present else 1.0)
        draw_lumen(cv, layers, scene.lumen, opening, rng)
    abnormal += [draw_polyp(cv, layers, polyp, scene.colours, rng) for polyp in scene.polyps]

    rgb = layers.compose()
    instruments = [draw_instrument(cv, rgb, inst, rng) for inst in scene.instruments]
    rgb *= cv.fov[..., None]
    image = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))
    overlay = np.zeros((size, size), bool)
    if scene.text:
        overlay |= draw_text(image, rng)
    if scene.box:
        overlay |= draw_box(image, rng)

    visible = (cv.fov > 0.5) & ~overlay
    unhidden = visible & ~np.any(instruments, axis=0) if instruments else visible
    labels = Labels(
        procedure=scene.procedure,
        findings=scene.findings,
        landmarks=scene.landmarks,
        instruments=tuple(sorted(inst.kind for inst in scene.instruments)),
        finding_count=len(scene.polyps) + len(set(scene.findings) - {"polyp"}),
        polyp_count=len(scene.polyps),
        instrument_count=len(scene.instruments),
        polyp_types=tuple(sorted({p.paris for p in scene.polyps})),
        polyp_sizes=tuple(sorted({p.size for p in scene.polyps})),
        colors=scene.colours,
        abnormality_locations=_cells(abnormal, unhidden, cv.cell),
        instrument_locations=_cells(instruments, visible, cv.cell),
        landmark_locations=_cells(landmarks, unhidden, cv.cell),
        text=scene.text,
        box_artefact=scene.box,
    )
    return image, labels


def image_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for image `index` of run `seed`: (scene and pixels, prompt choice)."""
    scene_seq, prompt_seq = np.random.SeedSequence([seed, index]).spawn(2)
    return np.random.default_rng(scene_seq), np.random.default_rng(prompt_seq)


def simulate(seed: int, index: int, size: int, cfg: SimConfig) -> tuple[Image.Image, Labels]:
    """Image `index` of run `seed`: it depends only on (seed, index, size, cfg)."""
    rng, _ = image_rngs(seed, index)
    return render_scene(sample_scene(rng, cfg), size, rng)
