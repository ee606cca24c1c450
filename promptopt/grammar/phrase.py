"""Phrasing an attribute set as one challenge-style sentence that `parse` reads back to the same set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptopt.grammar.attributes import validate
from promptopt.grammar.vocabulary import CHALLENGE_OPENER

_LOCATION_NOUNS = {
    "abnormality_locations": "an abnormality",
    "instrument_locations": "an instrument",
    "landmark_locations": "an anatomical landmark",
}
_COUNT_NOUNS = {"finding_count": "finding", "polyp_count": "polyp", "instrument_count": "instrument"}
_FLAG_PHRASES = {"text": "text", "box_artefact": "a green/black box artefact"}


def _join(words: list[str], conjunction: str = "and") -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _present(attrs: Mapping[str, Any]) -> list[str]:
    items = [("a polyp" if f == "polyp" else f) for f in attrs.get("findings", [])]
    items += [f"the {landmark}" for landmark in attrs.get("landmarks", [])]
    items += attrs.get("instruments", [])
    return items + [phrase for key, phrase in _FLAG_PHRASES.items() if attrs.get(key) is True]


def _count(key: str, n: int) -> str:
    noun = _COUNT_NOUNS[key] + ("" if n == 1 else "s")
    return f"with {'no' if n == 0 else n} {noun}"


def _polyps(what: str, values: list[str]) -> str:
    subject = "a polyp" if len(values) == 1 else "polyps"
    return f"with {subject} of {what} {_join(values)}"


def phrase(attrs: Mapping[str, Any]) -> str:
    """One challenge-style sentence for `attrs`, e.g. "Generate an image with 1 polyp.".

    `parse(phrase(a)) == a` for every `a` that `validate` accepts; anything else raises InputError
    (unknown keys or values, empty or unsorted lists, negative counts).
    """
    validate(attrs)
    clauses = []
    if "procedure" in attrs:
        clauses.append(f"from a {attrs['procedure']} procedure")
    if present := _present(attrs):
        clauses.append(f"containing {_join(present)}")
    if absent := [phrase for key, phrase in _FLAG_PHRASES.items() if attrs.get(key) is False]:
        clauses.append(f"not containing {_join(absent, 'or')}")
    clauses += [_count(key, attrs[key]) for key in _COUNT_NOUNS if key in attrs]
    if "colors" in attrs:
        colors = attrs["colors"]
        clauses.append(f"with an abnormality with the color{'s' if len(colors) > 1 else ''} {_join(colors)}")
    if "polyp_types" in attrs:
        clauses.append(_polyps("type", [f"paris {t}" for t in attrs["polyp_types"]]))
    if "polyp_sizes" in attrs:
        clauses.append(_polyps("size", [s.replace("<", "< ") for s in attrs["polyp_sizes"]]))
    for key, noun in _LOCATION_NOUNS.items():
        if key in attrs:
            clauses.append(f"with {noun} located in the {_join(attrs[key])}")
    return f"{CHALLENGE_OPENER} {', '.join(clauses)}." if clauses else f"{CHALLENGE_OPENER}."
