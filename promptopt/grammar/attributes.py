"""Attribute sets: checking them, the categories they target, whether a prompt holds of an image, and
combining the attribute sets of several prompts into one image's labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptopt.core.errors import InputError
from promptopt.grammar.colors import is_color_text
from promptopt.grammar.vocabulary import COUNT_KEYS, FLAG_KEYS, KEYS, LIST_VALUES, PROCEDURES


def validate(attrs: Mapping[str, Any]) -> None:
    """Raise InputError unless `attrs` is in the form `parse` returns (known keys and values,
    non-empty sorted lists without repeats, counts >= 0, booleans for text and box_artefact)."""
    for key, value in attrs.items():
        if key not in KEYS:
            raise InputError(f"unknown attribute {key!r}; use one of {', '.join(KEYS)}")
        if key == "procedure" and value not in PROCEDURES:
            raise InputError(f"procedure {value!r} is not one of {', '.join(PROCEDURES)}")
        if key in LIST_VALUES:
            _validate_list(key, value)
        if key in COUNT_KEYS and (type(value) is not int or value < 0):
            raise InputError(f"{key} must be an integer >= 0, got {value!r}")
        if key in FLAG_KEYS and not isinstance(value, bool):
            raise InputError(f"{key} must be true or false, got {value!r}")


def _validate_list(key: str, value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise InputError(f"{key} must be a non-empty list, got {value!r}")
    unknown = [v for v in value if v not in LIST_VALUES[key] and not (key == "colors" and is_color_text(v))]
    if unknown:
        raise InputError(f"{key}: unknown value(s) {unknown}; use any of {', '.join(LIST_VALUES[key])}")
    if value != sorted(set(value)):
        raise InputError(f"{key} must be sorted without repeats, got {value!r}")


def categories(attrs: Mapping[str, Any]) -> list[str]:
    """The OPG categories a prompt with these attributes targets, sorted."""
    found = set()
    if "polyp" in attrs.get("findings", ()) or {"polyp_types", "polyp_sizes"} & attrs.keys():
        found.add("polyp")
    if attrs.get("polyp_count", 0) >= 1:
        found.add("polyp")
    if {"landmarks", "landmark_locations"} & attrs.keys():
        found.add("landmark")
    if {"instruments", "instrument_locations"} & attrs.keys() or attrs.get("instrument_count", 0) >= 1:
        found.add("instrument")
    return sorted(found)


def holds(prompt_attrs: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether every constraint of a prompt is true of an image with ground-truth `labels`.

    A list holds when its values are a subset of the image's list; a count, boolean or procedure when
    it equals the image's value. A key the labels lack is unknown, so a constraint on it does not hold.
    """
    for key, wanted in prompt_attrs.items():
        if key not in labels:
            return False
        if key in LIST_VALUES:
            if not set(wanted) <= set(labels[key]):
                return False
        elif labels[key] != wanted or type(labels[key]) is not type(wanted):
            return False
    return True


def aggregate(attribute_sets: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine the attributes of several prompts of one image: union of lists (sorted), and the value
    of each scalar, which must agree. Raises InputError naming the key whose values conflict."""
    combined: dict[str, Any] = {}
    for attrs in attribute_sets:
        for key, value in attrs.items():
            if key in LIST_VALUES:
                combined[key] = sorted(set(combined.get(key, [])) | set(value))
            elif key in combined and (combined[key] != value or type(combined[key]) is not type(value)):
                raise InputError(f"conflicting values for {key}: {combined[key]!r} and {value!r}")
            else:
                combined[key] = value
    return combined
