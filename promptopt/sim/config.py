"""Attribute frequencies of GI-sim, estimated from the development set's prompt counts.

Weights are relative (they need not sum to 1). Most are the `count` of the matching prompts in
`promptopt/data/medvqa-gi-2024-prompts.csv` (2,000 images); the few that the bundled list cannot give
are marked "guess".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GI_SIM_VERSION = "v1"  # bump when the same (seed, index, size, config) paints other pixels

Weighted = tuple[tuple[object, float], ...]


@dataclass(frozen=True)
class SimConfig:
    """How often each attribute appears. Every weight table is ((value, weight), ...)."""

    # "from a colonoscopy procedure" 1497 vs "from a gastroscopy procedure" 503.
    p_colonoscopy: float = 1497 / 2000
    # Joint (findings + landmarks) per procedure: "containing a polyp" 613, "ulcerative colitis" 501,
    # "the cecum" 69, "the ileum" 5; the remaining colonoscopies have neither.
    colonoscopy_scenes: Weighted = (
        (("polyp",), 614.0),
        (("ulcerative colitis",), 500.0),
        (("polyp", "ulcerative colitis"), 1.0),
        (("cecum",), 69.0),
        (("ileum",), 5.0),
        ((), 308.0),
    )
    # "oesophagitis" 494 and "the z-line" 457 of 503 gastroscopies overlap in >= 451; "pylorus" 3,
    # "barretts" 1, "polypandoesophagitis" 6. No normal-stomach prompt exists; 2 is a guess.
    gastroscopy_scenes: Weighted = (
        (("oesophagitis", "z-line"), 445.0),
        (("oesophagitis",), 43.0),
        (("oesophagitis", "polyp", "z-line"), 6.0),
        (("z-line",), 6.0),
        (("pylorus",), 3.0),
        (("barretts", "z-line"), 1.0),
        ((), 2.0),
    )
    # "with 1 polyp" 578, "2 polyps" 32, 3: 5, 4: 3, 5: 2, 6: 1.
    polyp_counts: Weighted = ((1, 578.0), (2, 32.0), (3, 5.0), (4, 3.0), (5, 2.0), (6, 1.0))
    # "paris is" 214 + 19, "paris ip" 188 + 1, "paris iia" 19 + 1.
    polyp_types: Weighted = (("is", 233.0), ("ip", 189.0), ("iia", 20.0))
    # "size < 5mm" 101 (+12 in pairs), "5-10mm" 184 (+13), ">20mm" 129 (+7); "11-20mm" alone is not
    # in the bundled list (only in pairs, 8): 120 is a guess.
    polyp_sizes: Weighted = (("<5mm", 113.0), ("5-10mm", 197.0), ("11-20mm", 120.0), (">20mm", 136.0))
    # One colour set per image for its abnormalities, orderings of the colour prompts merged.
    colour_sets: Weighted = (
        (("pink", "red", "white"), 699.0),
        (("pink", "red"), 269.0),
        (("pink",), 166.0),
        (("pink", "white"), 114.0),
        (("pink", "white", "yellow"), 46.0),
        (("pink", "red", "white", "yellow"), 43.0),
        (("pink", "yellow"), 18.0),
        (("orange", "pink", "red"), 18.0),
        (("brown", "pink", "red"), 15.0),
        (("grey", "pink", "red", "white"), 12.0),
        (("brown", "pink", "red", "white"), 8.0),
        (("grey", "pink", "white"), 6.0),
        (("red", "white"), 4.0),
    )
    # "with no instruments" 1456, "1 instrument" 502, "2 instruments" 36.
    instrument_counts: Weighted = ((0, 1456.0), (1, 502.0), (2, 36.0))
    # "containing tube" 386 (+40 in pairs), biopsy forceps 70 (+8), polyp snare 25 (+34),
    # metal clip 14 (+4), injection needle 1.
    instrument_types: Weighted = (
        ("tube", 426.0),
        ("biopsy forceps", 78.0),
        ("polyp snare", 59.0),
        ("metal clip", 18.0),
        ("injection needle", 1.0),
    )
    # "containing text" 1589 of 2000.
    p_text: float = 1589 / 2000
    # "containing a green/black box artefact" 679 of 2000; the box is the colonoscope position guide,
    # so it is given to colonoscopies only: 679 / 1497.
    p_box_colonoscopy: float = 679 / 1497


def sim_key(cfg: SimConfig, *recipe: object) -> str:
    """12 hex digits naming what a GI-sim cache was made from: simulator version, config and the rest of the
    recipe (seed, category, ...). Caches are keyed by it, so a changed simulator never reuses stale images."""
    return hashlib.sha256(repr((GI_SIM_VERSION, cfg, *recipe)).encode()).hexdigest()[:12]


def rare_enriched() -> SimConfig:
    """GI-sim with what is rare at the development frequencies drawn often: both procedures alike, every scene,
    instrument kind, Paris type, size and colour set equally likely, an instrument in three images of four and
    more multi-polyp images. What a model must learn to see the rare attributes (the judge) is fitted and audited
    on it; its probabilities are calibrated at the development frequencies (`SimConfig()`)."""
    base = SimConfig()
    return SimConfig(
        p_colonoscopy=0.5,
        colonoscopy_scenes=_even(base.colonoscopy_scenes),
        gastroscopy_scenes=_even(base.gastroscopy_scenes),
        polyp_counts=((1, 4.0), (2, 2.0), (3, 1.0), (4, 0.4), (5, 0.3), (6, 0.3)),
        polyp_types=_even(base.polyp_types),
        polyp_sizes=_even(base.polyp_sizes),
        colour_sets=_even(base.colour_sets),
        instrument_counts=((0, 1.0), (1, 2.0), (2, 1.0)),
        instrument_types=_even(base.instrument_types),
        p_text=base.p_text,
        p_box_colonoscopy=base.p_box_colonoscopy,
    )


def _even(table: Weighted) -> Weighted:
    """The same values, every one at weight 1."""
    return tuple((value, 1.0) for value, _ in table)
