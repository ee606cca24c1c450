"""The words of the MEDVQA-GI prompts: canonical attribute values and the phrases that name them.

Every phrase here is written as it reads after `tokens.normalise` (lower case, the challenge's typos
fixed, sizes without spaces). The parser matches the longest phrase first, so "polyp snare" wins over
"polyp".
"""

from __future__ import annotations

from dataclasses import dataclass

PROCEDURES = ("colonoscopy", "gastroscopy")
FINDINGS = ("barretts", "oesophagitis", "polyp", "ulcerative colitis")
LANDMARKS = ("cecum", "ileum", "pylorus", "z-line")
INSTRUMENTS = ("biopsy forceps", "injection needle", "metal clip", "polyp snare", "tube")
PARIS_TYPES = ("iia", "iib", "iic", "iii", "ip", "is", "isp")
POLYP_SIZES = ("11-20mm", "5-10mm", "<5mm", ">20mm")
COLORS = (
    "black", "blue", "brown", "burgundy", "green", "grey",
    "orange", "pink", "purple", "red", "white", "yellow",
)  # fmt: skip
# the 3x3 cells in reading order (the search's pools); attribute lists hold them sorted
GRID = (
    "upper-left", "upper-center", "upper-right",
    "center-left", "center", "center-right",
    "lower-left", "lower-center", "lower-right",
)  # fmt: skip

LIST_VALUES: dict[str, tuple[str, ...]] = {
    "findings": FINDINGS,
    "landmarks": LANDMARKS,
    "instruments": INSTRUMENTS,
    "polyp_types": PARIS_TYPES,
    "polyp_sizes": POLYP_SIZES,
    "colors": COLORS,
    "abnormality_locations": tuple(sorted(GRID)),
    "instrument_locations": tuple(sorted(GRID)),
    "landmark_locations": tuple(sorted(GRID)),
}
COUNT_KEYS = ("finding_count", "polyp_count", "instrument_count")
FLAG_KEYS = ("text", "box_artefact")
KEYS = ("procedure", *LIST_VALUES, *COUNT_KEYS, *FLAG_KEYS)

# Style words that constrain nothing. The parser skips a run of them, optionally closed by an image noun
# ("clinical endoscopy photograph"), wherever a clause may stand; "white-light colonoscopy" does not set
# the procedure (only a "from …"/"during …" clause does).
DESCRIPTORS = (
    "close-up endoscopic view",
    "close-up",
    "endoscopic view",
    "endoscopic",
    "endoscopy",
    "white-light colonoscopy",
    "white-light gastroscopy",
    "white-light endoscopy",
    "white-light",
    "high-definition",
    "high-resolution",
    "high resolution",
    "highly detailed",
    "detailed",
    "realistic",
    "photorealistic",
    "clinical",
    "sharp focus",
    "in focus",
    "medical image",
    "narrow-band imaging",
)

# The wording a prompt search varies. The parser reads every variant with the meaning of the plain
# challenge words: an opener constrains nothing, a synonym names what its plain noun names.
CHALLENGE_OPENER = "Generate an image"
OPENERS = (
    CHALLENGE_OPENER,
    "Generate an endoscopic image",
    "Generate an endoscopy photograph",
    "Create a realistic endoscopy image",
)
OPENING_VERBS = ("generate", "create")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "polyp": ("colorectal polyp", "polypoid lesion", "adenomatous polyp"),
    "landmark": ("anatomical landmark", "anatomical structure"),
    "instrument": ("endoscopic instrument", "surgical instrument"),
}
# Descriptors a search appends to a prompt; each is a run of `DESCRIPTORS` (and image nouns).
SEARCH_DESCRIPTORS = (
    "white-light colonoscopy",
    "close-up endoscopic view",
    "high-definition endoscopy image",
    "narrow-band imaging",
    "clinical endoscopy photograph, sharp focus",
)

IMAGE_NOUNS = ("image", "picture", "photo", "photograph", "frame")

PROCEDURE_PHRASES: dict[str, str] = {
    "colonoscopy": "colonoscopy",
    "lower endoscopy": "colonoscopy",
    "gastroscopy": "gastroscopy",
    "upper endoscopy": "gastroscopy",
    "upper gi endoscopy": "gastroscopy",
    "esophagogastroduodenoscopy": "gastroscopy",
}

_PARIS_SYNONYMS = {"ips": "isp", **{f"0-{t}": t for t in PARIS_TYPES}, "0-ips": "isp"}
PARIS_PHRASES: dict[str, str] = {**{t: t for t in PARIS_TYPES}, **_PARIS_SYNONYMS}
SIZE_PHRASES: dict[str, str] = {s: s for s in POLYP_SIZES}

_ROWS = {"upper": "upper", "top": "upper", "center": "center", "middle": "center", "lower": "lower", "bottom": "lower"}
_COLS = {"left": "left", "center": "center", "middle": "center", "right": "right"}


def _grid_phrases() -> dict[str, str]:
    phrases: dict[str, str] = {"center": "center", "middle": "center"}
    for row_word, row in _ROWS.items():
        for col_word, col in _COLS.items():
            cell = "center" if row == col == "center" else f"{row}-{col}"
            phrases[f"{row_word}-{col_word}"] = cell
            phrases[f"{row_word} {col_word}"] = cell
    return phrases


GRID_PHRASES = _grid_phrases()


@dataclass(frozen=True)
class Noun:
    """The noun of a noun phrase: what it names, and how it may be counted and qualified.

    `kind` is "abnormality", "polyp", "instrument", "landmark" or "flag"; `item` is the attribute the
    bare noun sets (e.g. ("instruments", "tube")); `count_key` the count a number before it sets.
    """

    kind: str
    item: tuple[str, str | bool] | None = None
    count_key: str | None = None


_ABNORMALITY = Noun("abnormality", None, "finding_count")
_POLYP = Noun("polyp", ("findings", "polyp"), "polyp_count")
_INSTRUMENT = Noun("instrument", None, "instrument_count")
_LANDMARK = Noun("landmark")
_TEXT = Noun("flag", ("text", True))
_BOX = Noun("flag", ("box_artefact", True))


def _named(kind: str, key: str, phrases: dict[str, str]) -> dict[str, Noun]:
    return {phrase: Noun(kind, (key, value)) for phrase, value in phrases.items()}


def _with_plurals(nouns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(form for noun in nouns for form in (noun, f"{noun}s"))


HEADS: dict[str, Noun] = {
    **dict.fromkeys(("abnormality", "abnormalities", "finding", "findings", "lesion", "lesions"), _ABNORMALITY),
    **dict.fromkeys(_with_plurals(("polyp", *SYNONYMS["polyp"])), _POLYP),
    **dict.fromkeys(_with_plurals(("instrument", "tool", *SYNONYMS["instrument"])), _INSTRUMENT),
    **dict.fromkeys(_with_plurals(("landmark", *SYNONYMS["landmark"])), _LANDMARK),
    **dict.fromkeys(("text",), _TEXT),
    **dict.fromkeys(
        (
            "green/black box artefact",
            "green/black box",
            "green box artefact",
            "black box artefact",
            "box artefact",
            "green box",
            "black box",
        ),
        _BOX,
    ),
    **_named(
        "abnormality",
        "findings",
        {
            "oesophagitis": "oesophagitis",
            "ulcerative colitis": "ulcerative colitis",
            "barretts": "barretts",
            "barretts oesophagus": "barretts",
        },
    ),
    **_named(
        "landmark",
        "landmarks",
        {
            "z-line": "z-line",
            "z line": "z-line",
            "zline": "z-line",
            "cecum": "cecum",
            "pylorus": "pylorus",
            "ileum": "ileum",
            "terminal ileum": "ileum",
        },
    ),
    **_named(
        "instrument",
        "instruments",
        {
            "biopsy forceps": "biopsy forceps",
            "forceps": "biopsy forceps",
            "polyp snare": "polyp snare",
            "polyp snares": "polyp snare",
            "snare": "polyp snare",
            "snares": "polyp snare",
            "metal clip": "metal clip",
            "metal clips": "metal clip",
            "clip": "metal clip",
            "clips": "metal clip",
            "injection needle": "injection needle",
            "injection needles": "injection needle",
            "needle": "injection needle",
            "tube": "tube",
            "tubes": "tube",
        },
    ),
}

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip

# Words that end a named item; the challenge glues "and" onto them ("polyp snareandtube").
GLUED_AND_WORDS = sorted({phrase.split()[-1].split("/")[-1] for phrase, head in HEADS.items() if head.item})
