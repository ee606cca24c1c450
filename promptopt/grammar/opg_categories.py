"""The three OPG categories, the one list of them, and their search vocabulary: intent text, detail attributes,
synonyms, negatives.

Detail attributes are keys of the challenge grammar (see promptopt.grammar); their pools are the values the
development prompts use. The wording pools (openers, head-noun synonyms, descriptors) belong to the grammar,
which reads every variant.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptopt.grammar.vocabulary import GRID, SYNONYMS


@dataclass(frozen=True)
class Category:
    name: str
    intent: str
    head: str
    details: tuple[tuple[str, tuple[str, ...]], ...]
    negatives: tuple[str, ...]

    @property
    def synonyms(self) -> tuple[str, ...]:
        """The head noun and the grammar's synonyms for it, plain noun first."""
        return (self.head, *SYNONYMS[self.head])


_COMMON_NEGATIVES = ("", "blurry, low quality, distorted", "text, watermark, green box artefact")

CATEGORIES: dict[str, Category] = {
    "polyp": Category(
        name="polyp",
        intent="an endoscopic image showing a polyp in the colon",
        head="polyp",
        details=(
            ("polyp_types", ("ip", "is", "iia")),
            ("polyp_sizes", ("<5mm", "5-10mm", "11-20mm", ">20mm")),
            ("abnormality_locations", GRID),
        ),
        negatives=(
            *_COMMON_NEGATIVES,
            "instruments, normal mucosa without lesions",
            "Generate an image with no polyps.",
        ),  # the last: the category's own negation in the challenge's words
    ),
    "landmark": Category(
        name="landmark",
        intent="an endoscopic image showing an anatomical landmark of the gastrointestinal tract",
        head="landmark",
        details=(
            ("landmarks", ("z-line", "cecum", "pylorus", "ileum")),
            ("landmark_locations", GRID),
        ),
        negatives=(*_COMMON_NEGATIVES, "polyps, instruments, lesions"),
    ),
    "instrument": Category(
        name="instrument",
        intent="an endoscopic image showing a medical instrument such as forceps, a snare or a tube",
        head="instrument",
        details=(
            ("instruments", ("biopsy forceps", "polyp snare", "metal clip", "injection needle", "tube")),
            ("instrument_locations", GRID),
        ),
        negatives=(*_COMMON_NEGATIVES, "polyps, lesions, empty lumen", "Generate an image with no instruments."),
    ),
}
CATEGORY_NAMES = tuple(CATEGORIES)  # polyp, landmark, instrument: the order studies, training and help texts use
