"""A labelled 4×4 contact sheet of GI-sim, one tile per main attribute, for eyeballing the simulator."""

from __future__ import annotations

from dataclasses import replace

from PIL import Image, ImageDraw, ImageFont

from promptopt.sim.config import SimConfig
from promptopt.sim.sampling import sample_scene
from promptopt.sim.scene import image_rngs, render_scene

_PLAIN = SimConfig(instrument_counts=((0, 1.0),), p_text=0.0, p_box_colonoscopy=0.0)


def _colon(*names: str, **changes: object) -> SimConfig:
    return replace(_PLAIN, p_colonoscopy=1.0, colonoscopy_scenes=((names, 1.0),), **changes)


def _gastro(*names: str) -> SimConfig:
    return replace(_PLAIN, p_colonoscopy=0.0, gastroscopy_scenes=((names, 1.0),))


def _polyp(paris: str) -> SimConfig:
    return _colon("polyp", polyp_counts=((1, 1.0),), polyp_types=((paris, 1.0),), polyp_sizes=(("11-20mm", 1.0),))


def _instrument(kind: str) -> SimConfig:
    return _colon(instrument_counts=((1, 1.0),), instrument_types=((kind, 1.0),))


TILES: tuple[tuple[str, SimConfig], ...] = (
    ("polyp Ip", _polyp("ip")),
    ("polyp Is", _polyp("is")),
    ("polyp IIa", _polyp("iia")),
    ("oesophagitis", _gastro("oesophagitis", "z-line")),
    ("ulcerative colitis", _colon("ulcerative colitis")),
    ("barretts", _gastro("barretts", "z-line")),
    ("z-line", _gastro("z-line")),
    ("pylorus", _gastro("pylorus")),
    ("cecum", _colon("cecum")),
    ("ileum", _colon("ileum")),
    ("biopsy forceps", _instrument("biopsy forceps")),
    ("polyp snare", _instrument("polyp snare")),
    ("metal clip", _instrument("metal clip")),
    ("injection needle", _instrument("injection needle")),
    ("tube", _instrument("tube")),
    ("box artefact + text", _colon(p_text=1.0, p_box_colonoscopy=1.0)),
)


def sim_grid(size: int, seed: int = 0, columns: int = 4) -> Image.Image:
    """One GI-sim image per entry of TILES (image k of `seed` under that tile's config), captioned."""
    caption = max(10, size // 9)
    rows = -(-len(TILES) // columns)
    sheet = Image.new("RGB", (columns * size, rows * (size + caption)), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(8, caption - 3))
    for k, (title, cfg) in enumerate(TILES):
        rng, _ = image_rngs(seed, k)
        image, _labels = render_scene(sample_scene(rng, cfg), size, rng)
        x, y = (k % columns) * size, (k // columns) * (size + caption)
        sheet.paste(image, (x, y + caption))
        draw.text((x + 3, y + 1), title, fill=(255, 255, 255), font=font)
    return sheet
