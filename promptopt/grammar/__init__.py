"""The MEDVQA-GI prompt grammar: parse a prompt into the attributes it constrains, phrase attributes
back into a prompt, and decide whether a prompt holds of an image.

Attributes (only the keys a prompt constrains; lists sorted and lower case):
procedure, findings, landmarks, instruments, finding_count, polyp_count, instrument_count,
polyp_types (Paris types without "paris"), polyp_sizes, colors, abnormality_locations,
instrument_locations, landmark_locations (cells of the 3x3 grid), text, box_artefact.

Semantics:
- The parser reads clauses ("from …", "with …", "containing …", "not containing …", "without …")
  built from vocabulary, not whole prompts, so new combinations parse ("Generate an image from a
  colonoscopy procedure containing a polyp and tube, with 1 finding."). Lists split on ",", "and",
  "or", "/" and on "and" glued to a word ("snareandtube"); the challenge's typos ("an an",
  "lower-rigth") and spelling variants (colour, esophagitis, centre, gray, < 5 mm) are normalised.
- Colours are open (`grammar.colors`): after "color(s)" any one to three plain words are a colour ("with the
  color sea green"); before a noun, a known colour, a one-letter slip of one ("yelow") or a shade of one ("pale
  pink"). Colours outside the development list's twelve are kept as written.
- A location list names every grid cell the object touches: "located in the center and lower-right"
  gives abnormality_locations == ["center", "lower-right"], and the prompt holds of an image whose
  abnormality covers at least those cells.
- "with 1 polyp" sets polyp_count only; "with a polyp of type paris is" / "of size 5-10mm" set
  polyp_types / polyp_sizes only; "containing a polyp" (or "a polyp located in …") sets
  findings == ["polyp"]. "no polyps" / "without instruments" set the count to 0; "not containing
  text" sets text == False. The grammar cannot state the absence of a named finding, landmark or
  instrument, and a generic noun alone ("an instrument") is an error: it constrains nothing.
- Descriptor phrases (`DESCRIPTORS`: "close-up endoscopic view", "white-light colonoscopy",
  "high-resolution", …), in runs optionally closed by an image noun ("clinical endoscopy photograph"),
  may stand before, inside (between clauses) or after the challenge sentence and constrain nothing;
  "white-light colonoscopy" does not set the procedure. Any other unknown word is a PromptParseError
  naming where reading stopped.
- Search wording reads as the plain challenge words: an opener (`OPENERS`: "Create a realistic
  endoscopy image", …) constrains nothing, like "Generate an image"; a synonym (`SYNONYMS`:
  "polypoid lesion", "anatomical structure", "surgical instrument", …) names what its plain noun names;
  the descriptors a search appends (`SEARCH_DESCRIPTORS`) constrain nothing.
- `holds`: lists in the prompt must be subsets of the image's lists; counts, booleans and the
  procedure must be equal; a key missing from the labels makes the constraint unknown, so False.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

from promptopt.grammar.attributes import aggregate, categories, holds, validate
from promptopt.grammar.opg_categories import CATEGORY_NAMES
from promptopt.grammar.parser import PromptParseError, parse
from promptopt.grammar.phrase import phrase
from promptopt.grammar.vocabulary import (
    CHALLENGE_OPENER,
    DESCRIPTORS,
    KEYS,
    LIST_VALUES,
    OPENERS,
    PROCEDURES,
    SEARCH_DESCRIPTORS,
    SYNONYMS,
)

__all__ = [
    "CATEGORY_NAMES",
    "CHALLENGE_OPENER",
    "DESCRIPTORS",
    "KEYS",
    "LIST_VALUES",
    "OPENERS",
    "PROCEDURES",
    "SEARCH_DESCRIPTORS",
    "SYNONYMS",
    "PromptParseError",
    "aggregate",
    "categories",
    "challenge_prompts",
    "holds",
    "parse",
    "phrase",
    "validate",
]


def challenge_prompts() -> list[tuple[str, int]]:
    """The bundled MEDVQA-GI 2024 development prompts with how many prompt rows carry each."""
    text = resources.files("promptopt").joinpath("data/medvqa-gi-2024-prompts.csv").read_text(encoding="utf-8")
    return [(row["prompt"], int(row["count"])) for row in csv.DictReader(io.StringIO(text))]
