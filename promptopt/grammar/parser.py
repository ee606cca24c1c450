"""A recursive-descent parser from a prompt to the attributes it constrains.

The grammar, over the tokens of the normalised prompt (see `tokens.py`):

    prompt      := (style sep?)* [opening-verb] [subject] (sep? (clause | style))* sep?
    style       := descriptor+ [image-noun] ("high-definition endoscopy image")
    subject     := has-list | [det] (style | image-noun)
    clause      := ("from" | "during") [det] procedure ["procedure" | "examination" | "exam"]
                 | has-verb has-list | neg-verb neg-list
    has-list    := noun-phrase (list-sep noun-phrase)*
    noun-phrase := "no" head | [number | det] head qualifier* | [number | det] colors head qualifier*
    qualifier   := [with | of | in] [the] (color | colors | colored) colors
                 | (located | in | at | on ...) [the] cells
                 | [of] [the] [paris] (type | types) paris-types
                 | [of | with] [the | a] (size | sizes | sized) sizes
    neg-list    := [det | any] head (list-sep [det | any] head)*

An opening verb is "generate" or "create"; a head is a noun of `HEADS`, synonyms ("polypoid lesion",
"anatomical structure") included, matched longest first ("polyp snare" is an instrument, never a polyp).
`sep` is punctuation and/or "and"; list items are separated by ",", "and", "or" or "/"; lists are
greedy and give back a separator that does not lead to another item. What a noun phrase sets is
decided in `_noun_attrs`; the package docstring states the rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from promptopt.core.errors import InputError
from promptopt.grammar.attributes import aggregate
from promptopt.grammar.colors import MAX_WORDS, read_color
from promptopt.grammar.tokens import normalise, phrase_tokens, tokenise
from promptopt.grammar.vocabulary import (
    DESCRIPTORS,
    GRID_PHRASES,
    HEADS,
    IMAGE_NOUNS,
    KEYS,
    NUMBER_WORDS,
    OPENING_VERBS,
    PARIS_PHRASES,
    PROCEDURE_PHRASES,
    SIZE_PHRASES,
    Noun,
)

T = TypeVar("T")
Table = list[tuple[tuple[str, ...], Any]]


class PromptParseError(InputError):
    """A prompt the grammar cannot read; the message names the part that was not understood."""


def _table(phrases: dict[str, T] | tuple[str, ...]) -> Table:
    """Phrases as token tuples, longest first, mapped to their values."""
    items = phrases.items() if isinstance(phrases, dict) else ((p, p) for p in phrases)
    return sorted(((phrase_tokens(p), v) for p, v in items), key=lambda item: -len(item[0]))


_HEADS = _table(HEADS)
_CELLS = _table(GRID_PHRASES)
_PARIS = _table(PARIS_PHRASES)
_SIZES = _table(SIZE_PHRASES)
_PROCEDURES = _table(PROCEDURE_PHRASES)
_DESCRIPTORS = _table(DESCRIPTORS)
_IMAGE_NOUNS = _table(IMAGE_NOUNS)
_HAS_VERBS = _table(
    ("with", "containing", "showing", "of", "featuring", "depicting", "including", "that contains", "that shows")
)
_NEG_VERBS = _table(("not containing", "not showing", "without", "free of"))
_PUNCTUATION = frozenset({",", ";", ":", "."})
_COLORED_KINDS = frozenset({"polyp", "abnormality"})
# words that end an open colour ("with the color sea green located in …"): grammar words and the first word of
# every phrase the grammar reads
_NOT_COLOR = frozenset(
    {"and", "or", "with", "without", "of", "in", "at", "on", "located", "situated", "positioned", "type", "types",
     "paris", "size", "sizes", "sized", "color", "colors", "colored", "no", "not", "from", "during", "free", "that"}
    | {phrase[0] for table in (_HEADS, _CELLS, _DESCRIPTORS, _IMAGE_NOUNS, _HAS_VERBS, _NEG_VERBS)
       for phrase, _ in table}
)  # fmt: skip
_QUALIFIER_NAMES = {
    "colors": "colours",
    "locations": "a location",
    "polyp_types": "a Paris type",
    "polyp_sizes": "a size",
}
_LOCATION_KEYS = {
    "polyp": "abnormality_locations",
    "abnormality": "abnormality_locations",
    "instrument": "instrument_locations",
    "landmark": "landmark_locations",
}


def parse(prompt: str) -> dict[str, Any]:
    """The attributes `prompt` constrains (only those keys; lists sorted). Raises PromptParseError."""
    return _Parser(prompt).prompt()


class _Parser:
    def __init__(self, prompt: str) -> None:
        self.prompt_text = prompt
        self.text = normalise(prompt)
        self.tokens, bad_char = tokenise(self.text)
        if bad_char is not None:
            raise PromptParseError(f"cannot read the character {bad_char!r} in prompt {prompt!r}")
        self.pos = 0
        self.furthest = 0
        self.expected: str | None = None

    # -- token helpers ------------------------------------------------------------------------
    def _advance_to(self, pos: int) -> None:
        self.pos = pos
        if pos > self.furthest:
            self.furthest, self.expected = pos, None

    def _expect(self, what: str) -> None:
        """Note what was wanted here; the first wish at the furthest position goes in the error."""
        if self.pos > self.furthest or (self.pos == self.furthest and self.expected is None):
            self.furthest, self.expected = self.pos, what

    def _match(self, table: Table, what: str | None = None) -> Any | None:
        words = tuple(t.text for t in self.tokens[self.pos :])
        for phrase, value in table:
            if words[: len(phrase)] == phrase:
                self._advance_to(self.pos + len(phrase))
                return value
        if what is not None:
            self._expect(what)
        return None

    def _accept(self, *words: str) -> bool:
        """Consume the next token if it is one of `words`."""
        if self.pos < len(self.tokens) and self.tokens[self.pos].text in words:
            self._advance_to(self.pos + 1)
            return True
        return False

    def _sep(self, *conjunctions: str) -> None:
        while self._accept(*_PUNCTUATION):
            pass
        self._accept(*conjunctions)

    def _list(self, item: Callable[[], T | None], conjunctions: tuple[str, ...] = ("and",)) -> list[T] | None:
        first = item()
        if first is None:
            return None
        found = [first]
        while True:
            save = self.pos
            if not self._accept("/"):
                self._sep(*conjunctions)
            nxt = item() if self.pos > save else None
            if nxt is None:
                self.pos = save
                return found
            found.append(nxt)

    def _fail(self, problem: str | None = None) -> PromptParseError:
        """The error for this prompt: `problem`, or what was expected where reading got furthest."""
        if problem is not None:
            return PromptParseError(f"cannot read prompt {self.prompt_text!r}: {problem}")
        at = self.tokens[self.furthest].start if self.furthest < len(self.tokens) else len(self.text)
        rest = self.text[at:].strip() or "the end of the prompt"
        why = f"expected {self.expected}" if self.expected else "not understood"
        return PromptParseError(f"cannot read {rest!r} in prompt {self.prompt_text!r}: {why}")

    # -- grammar ------------------------------------------------------------------------------
    def prompt(self) -> dict[str, Any]:
        if not self.tokens:
            raise PromptParseError(f"empty prompt {self.prompt_text!r}: write what the image should show")
        parts: list[dict[str, Any]] = []
        while self._style():
            self._sep()
        self._accept(*OPENING_VERBS)
        parts.append(self._subject() or {})
        while self.pos < len(self.tokens):
            start = self.pos
            self._sep("and")
            if self.pos == len(self.tokens) and self.tokens[-1].text in _PUNCTUATION:
                break
            part = self._clause()
            if part is None and not self._style():
                self.pos = start
                raise self._fail()
            parts.append(part or {})
        combined = self._combine(parts)
        return {key: combined[key] for key in KEYS if key in combined}

    def _style(self) -> bool:
        """Descriptors, optionally closed by an image noun; they constrain nothing."""
        if self._match(_DESCRIPTORS) is None:
            return False
        while self._match(_DESCRIPTORS) is not None:
            pass
        self._match(_IMAGE_NOUNS)
        return True

    def _subject(self) -> dict[str, Any] | None:
        found = self._has_list()
        if found is not None:
            return found
        save = self.pos
        self._accept("a", "an", "the")
        if self._style() or self._match(_IMAGE_NOUNS, "'an image'") is not None:
            return {}
        self.pos = save
        return None

    def _clause(self) -> dict[str, Any] | None:
        if self._accept("from", "during"):
            self._accept("a", "an", "the")
            procedure = self._match(_PROCEDURES, "colonoscopy or gastroscopy")
            if procedure is None:
                raise self._fail()
            self._accept("procedure", "examination", "exam")
            return {"procedure": procedure}
        if self._match(_NEG_VERBS) is not None:
            return self._required(self._neg_list())
        if self._match(_HAS_VERBS, "a clause (with, containing, from, not containing)") is not None:
            return self._required(self._has_list())
        return None

    def _required(self, part: dict[str, Any] | None) -> dict[str, Any]:
        if part is None:
            raise self._fail()
        return part

    def _has_list(self) -> dict[str, Any] | None:
        parts = self._list(self._noun_phrase, ("and",))
        return None if parts is None else self._combine(parts)

    def _neg_list(self) -> dict[str, Any] | None:
        parts = self._list(self._absent_item, ("and", "or", "nor"))
        return None if parts is None else self._combine(parts)

    def _combine(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            return aggregate(parts)
        except InputError as err:
            raise PromptParseError(f"prompt {self.prompt_text!r} contradicts itself: {err}") from None

    def _absent_item(self) -> dict[str, Any] | None:
        start = self.pos
        self._accept("a", "an", "the", "any")
        head = self._match(_HEADS, "text, a box artefact, polyps, findings or instruments")
        if head is None:
            self.pos = start
            return None
        return self._absent(head, start)

    def _absent(self, head: Noun, start: int) -> dict[str, Any]:
        if head.kind == "flag" and head.item is not None:
            return {head.item[0]: False}
        if head.count_key is not None:
            return {head.count_key: 0}
        phrase = " ".join(t.text for t in self.tokens[start : self.pos])
        raise self._fail(f"the grammar cannot say that an image lacks {phrase!r}; name a count instead")

    def _quantity(self) -> int | None:
        """A number ("no" is 0) before a noun; an article is consumed and gives None."""
        if self.pos >= len(self.tokens):
            return None
        word = self.tokens[self.pos].text
        if word == "no":
            self._advance_to(self.pos + 1)
            return 0
        if word.isdigit() or word in NUMBER_WORDS:
            self._advance_to(self.pos + 1)
            return int(word) if word.isdigit() else NUMBER_WORDS[word]
        self._accept("a", "an", "the")
        return None

    def _noun_phrase(self) -> dict[str, Any] | None:
        start = self.pos
        quantity = self._quantity()
        if quantity == 0:
            head = self._match(_HEADS, "what there is none of")
            if head is None:
                self.pos = start
                return None
            return self._absent(head, start)
        head = self._match(_HEADS, "a finding, landmark, instrument or count")
        colors: list[str] = []
        if head is None:
            colors = self._list(lambda: self._color(open_=False), ("and", "or")) or []
            head = self._match(_HEADS, "findings or an abnormality") if colors else None
        if head is None:
            self.pos = start
            return None
        qualifiers = self._qualifiers()
        if colors:
            qualifiers["colors"] = colors + qualifiers.get("colors", [])
        return self._noun_attrs(head, quantity, qualifiers, start)

    def _qualifiers(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        while True:
            save = self.pos
            self._sep("and")
            qualifier = self._qualifier()
            if qualifier is None:
                self.pos = save
                return found
            key, values = qualifier
            found[key] = found.get(key, []) + values

    def _qualifier(self) -> tuple[str, list[str]] | None:
        start = self.pos
        for key, intro, table, what in (
            ("colors", self._color_intro, (), "a colour"),
            ("locations", self._location_intro, _CELLS, "a grid cell (center, upper-left, …)"),
            ("polyp_types", self._type_intro, _PARIS, "a Paris type (ip, is, isp, iia, iib, iic, iii)"),
            ("polyp_sizes", self._size_intro, _SIZES, "a polyp size (<5mm, 5-10mm, 11-20mm, >20mm)"),
        ):
            self.pos = start
            if not intro():
                continue
            values = self._list(functools.partial(self._qualifier_value, table, what, key), ("and", "or"))
            if values is not None:
                return key, values
        self.pos = start
        return None

    def _qualifier_value(self, table: Table, what: str, key: str) -> str | None:
        if key == "colors":
            return self._color(open_=True)
        save = self.pos
        if key == "locations":
            self._accept("the")
        elif key == "polyp_types":
            self._accept("paris")
        value = self._match(table, what)
        if value is None:
            self.pos = save
        return value

    def _color(self, *, open_: bool) -> str | None:
        """A colour (`grammar.colors.read_color`); with `open_` (after "color") also plain words."""
        words = [t.text for t in self.tokens[self.pos : self.pos + MAX_WORDS]]
        found = read_color(words, _NOT_COLOR if open_ else None)
        if found is None:
            self._expect("a colour")
            return None
        self._advance_to(self.pos + found[1])
        return found[0]

    def _color_intro(self) -> bool:
        self._accept("with", "of", "in")
        self._accept("the")
        return self._accept("color", "colors") or self._accept("colored")

    def _location_intro(self) -> bool:
        located = self._accept("located", "situated", "positioned")
        if not self._accept("in", "at", "on") and not located:
            return False
        self._accept("the")
        return True

    def _type_intro(self) -> bool:
        self._accept("of")
        self._accept("the")
        self._accept("paris")
        return self._accept("type", "types")

    def _size_intro(self) -> bool:
        self._accept("of", "with")
        self._accept("the", "a")
        return self._accept("size", "sizes") or self._accept("sized")

    def _noun_attrs(
        self, head: Noun, quantity: int | None, qualifiers: dict[str, list[str]], start: int
    ) -> dict[str, Any]:
        """What a noun phrase sets. The named item (e.g. findings=[polyp]) is set unless a count, Paris
        type or size already says the polyp is there; a generic noun alone ("an instrument") is an error."""
        phrase = " ".join(t.text for t in self.tokens[start : self.pos])
        attrs: dict[str, Any] = {}
        for key, values in qualifiers.items():
            if key == "locations" and head.kind in _LOCATION_KEYS:
                attrs[_LOCATION_KEYS[head.kind]] = sorted(set(values))
            elif (key == "colors" and head.kind in _COLORED_KINDS) or (
                key.startswith("polyp_") and head.kind == "polyp"
            ):
                attrs[key] = sorted(set(values))
            else:
                raise self._fail(f"{phrase!r} cannot have {_QUALIFIER_NAMES[key]}")
        if quantity is not None:
            if head.count_key is None:
                raise self._fail(f"{phrase!r}: the grammar counts only findings, polyps and instruments")
            attrs[head.count_key] = quantity
        elif head.item is not None and not (head.kind == "polyp" and attrs.keys() & {"polyp_types", "polyp_sizes"}):
            key, value = head.item
            attrs[key] = value if isinstance(value, bool) else [value]
        if not attrs:
            raise self._fail(f"{phrase!r} alone constrains nothing: give a count, a name, colours or a location")
        return attrs
