"""Normalising and tokenising prompt text: lower case, the challenge's typos and spelling variants
mapped to one form, sizes written without spaces, and "and" unglued from the word before it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptopt.grammar.vocabulary import GLUED_AND_WORDS

_REWRITES: tuple[tuple[str, str], ...] = (
    (r"[\u2010-\u2015]", "-"),
    (r"[\u2018\u2019]", "'"),
    (r"\brigth\b", "right"),
    (r"\bcentre\b", "center"),
    (r"\bcolour", "color"),
    (r"\bgray\b", "grey"),
    (r"\bartifact", "artefact"),
    (r"\besophag", "oesophag"),
    (r"\bcaecum\b", "cecum"),
    (r"\bbarrett(?:'s|s)?\b", "barretts"),
    (r"\b(?:less|smaller) than\s*(?=\d)", "<"),
    (r"\b(?:more|larger|greater|bigger) than\s*(?=\d)", ">"),
    (r"([<>])\s*(\d+)\s*mm\b", r"\1\2mm"),
    (r"\b(\d+)\s*(?:-|to)\s*(\d+)\s*mm\b", r"\1-\2mm"),
    (r"\b(" + "|".join(sorted(map(re.escape, GLUED_AND_WORDS), key=len, reverse=True)) + r")and(?=[a-z])", r"\1 and "),
)
_TOKEN = re.compile(r"[a-z0-9<>]+(?:['-][a-z0-9<>]+)*|[,;:./]|(\S)")
_ARTICLES = frozenset({"a", "an", "the"})


@dataclass(frozen=True)
class Token:
    """One word or punctuation mark, with its offset in the normalised text (for error messages)."""

    text: str
    start: int


def normalise(prompt: str) -> str:
    """Lower-case `prompt` and rewrite spelling variants to the forms the vocabulary uses."""
    text = " ".join(prompt.lower().split())
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    return text


def tokenise(text: str) -> tuple[list[Token], str | None]:
    """Split normalised text into tokens, dropping a repeated article ("an an").

    Returns the tokens and the first character no token can hold (None when every character fits).
    """
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        if match.group(1) is not None:
            return tokens, match.group(1)
        word = match.group(0)
        if tokens and word in _ARTICLES and tokens[-1].text == word:
            continue
        tokens.append(Token(word, match.start()))
    return tokens, None


def phrase_tokens(phrase: str) -> tuple[str, ...]:
    """The token texts of a vocabulary phrase."""
    tokens, bad = tokenise(phrase)
    assert bad is None, phrase
    return tuple(token.text for token in tokens)
