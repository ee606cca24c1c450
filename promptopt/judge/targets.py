"""What a study aims at: an OPG category plus optional attribute values in the grammar's form (`Target`), read
from `--target 'polyp: type ip, size >20mm'` (`parse_target`). Its clauses are the category's "any of" judge output
(`polyp`, `instrument`, `landmark`) and the clauses of its attributes (`promptopt.judge.consistency`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.judge.consistency import Clause, clauses, unjudged


@dataclass(frozen=True)
class Target:
    """An OPG category plus attribute values it must show (the grammar's form, e.g. {"polyp_types": ["ip"]})."""

    category: str
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in grammar.CATEGORY_NAMES:
            raise InputError(f"unknown category {self.category!r}: choose one of {', '.join(grammar.CATEGORY_NAMES)}")
        grammar.validate(self.attributes)
        if missing := unjudged(self.attributes):
            raise InputError(
                f"the target asks for {', '.join(missing)}, which the judge cannot check: use values it knows "
                "(promptopt classify --json lists its outputs)"
            )

    def clauses(self) -> tuple[Clause, ...]:
        return tuple(dict.fromkeys((Clause(self.category), *clauses(self.attributes))))

    @property
    def slug(self) -> str:
        """A folder name saying what the target asks: `polyp-is-11-20mm`, `instrument-biopsy-forceps`."""
        values = [v for key in grammar.KEYS if key in self.attributes for v in _as_list(self.attributes[key])]
        words = [self.category, *(str(v).replace("<", "lt").replace(">", "gt") for v in values)]
        return "-".join("-".join(str(w).split()) for w in words)


_NOUN = {"polyp": "a polyp", "instrument": "an instrument", "landmark": "an anatomical landmark"}
TARGET_EXAMPLE = "'polyp: type ip, size >20mm', 'instrument: biopsy forceps' or 'landmark: pylorus'"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def parse_target(text: str) -> Target:
    """A target written as `category: item, item, …`. Each item is what the grammar reads after the category's
    noun ("type ip", "size >20mm", "in the upper-left", "color red": "a polyp of type ip") or after "containing"
    (a name: "biopsy forceps", "the pylorus"). InputError names an item the grammar cannot read."""
    category, colon, rest = text.partition(":")
    category = category.strip().lower()
    if not colon or category not in _NOUN:
        raise InputError(f"target {text!r}: write the category, a colon and its attributes, e.g. {TARGET_EXAMPLE}")
    found = [_target_item(category, item.strip(), text) for item in rest.replace(";", ",").split(",") if item.strip()]
    attrs = grammar.aggregate(found) if found else {}
    if category == "polyp" and attrs.get("findings") == ["polyp"]:
        del attrs["findings"]  # the category itself
    other = [c for c in grammar.categories(attrs) if c != category]
    if other:
        raise InputError(f"target {text!r} asks for {', '.join(other)} attributes: a target has one category")
    return Target(category, attrs)


def _target_item(category: str, item: str, text: str) -> dict[str, Any]:
    for prompt in (f"Generate an image with {_NOUN[category]} {item}.", f"Generate an image containing {item}."):
        try:
            return grammar.parse(prompt)
        except grammar.PromptParseError:
            continue
    raise InputError(
        f"target {text!r}: cannot read {item!r}; write attributes as the prompts do ('type ip', 'size >20mm', "
        "'in the upper-left', 'color red') or a name ('biopsy forceps', 'the pylorus')"
    )
