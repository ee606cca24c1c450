"""Ground-truth attributes of a GI-sim image, in the schema shared with `promptopt.grammar`.

Lists are sorted tuples of lower-case strings; `as_dict` gives the JSON form (lists). Locations are the
cells of the 3×3 grid where the object's visible pixels lie.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

CELLS = (
    "upper-left",
    "upper-center",
    "upper-right",
    "center-left",
    "center",
    "center-right",
    "lower-left",
    "lower-center",
    "lower-right",
)


@dataclass(frozen=True)
class Labels:
    """What an image shows. finding_count counts abnormalities: each polyp, plus each other finding."""

    procedure: str
    findings: tuple[str, ...]
    landmarks: tuple[str, ...]
    instruments: tuple[str, ...]
    finding_count: int
    polyp_count: int
    instrument_count: int
    polyp_types: tuple[str, ...]
    polyp_sizes: tuple[str, ...]
    colors: tuple[str, ...]
    abnormality_locations: tuple[str, ...]
    instrument_locations: tuple[str, ...]
    landmark_locations: tuple[str, ...]
    text: bool
    box_artefact: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def cells_of(mask: np.ndarray, cell: np.ndarray) -> frozenset[str]:
    """The cells holding a real share of `mask`: 4% of the cell, or a quarter of what its fullest cell holds
    (so an object with any visible pixel has at least one cell)."""
    counts = np.bincount(cell[mask], minlength=9)
    keep = (counts >= 0.04 * mask.size / 9) | ((counts > 0) & (counts >= 0.25 * counts.max()))
    return frozenset(CELLS[i] for i in np.flatnonzero(keep))
