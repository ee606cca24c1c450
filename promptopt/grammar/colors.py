"""Colours as the grammar reads them: any colour a prompt names, not only the twelve of the development list.

- A known colour (`vocabulary.COLORS`) reads as itself, and so does a one-letter slip of one in a word of four
  letters or more ("yelow", "purpel", "bleu": one letter added, dropped, changed, or two neighbours swapped).
- A shade of a known colour (a `SHADES` word before it: "pale pink", "dark red") reads as written.
- After "color", "colors" or "colored", whatever stands there is a colour: one to three plain words up to the
  next list separator or grammar word ("vermilion", "sea green", "brownish red").

Values outside `COLORS` are kept as written. The judge knows only `COLORS`: a prompt's other colours are clauses
it cannot check (`promptopt.judge.consistency` leaves them out), and a search target may not ask for one.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence

from promptopt.grammar.vocabulary import COLORS

SHADES = ("pale", "light", "dark", "bright", "deep", "dull", "faint", "vivid")
MAX_WORDS = 3
_PLAIN = re.compile(r"[a-z]+(?:-[a-z]+)*")
_SLIP_MIN = 4


def _one_slip(a: str, b: str) -> bool:
    """a and b differ by one insertion, deletion, substitution, or swap of two neighbouring letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        return len(diff) == 1 or swapped
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def known_color(word: str) -> str | None:
    """The known colour `word` names, itself or through a one-letter slip (module docstring); else None."""
    if word in COLORS:
        return word
    if len(word) < _SLIP_MIN:
        return None
    near = [c for c in COLORS if len(c) >= _SLIP_MIN and _one_slip(word, c)]
    return near[0] if len(near) == 1 else None


def shade(first: str, second: str) -> str | None:
    """ "pale pink" (a shade word, then a known colour or a slip of one) as it reads; else None."""
    base = known_color(second)
    return f"{first} {base}" if first in SHADES and base is not None else None


def plain_word(word: str) -> bool:
    return _PLAIN.fullmatch(word) is not None


def is_color_text(value: object) -> bool:
    """A colour value as `parse` writes it: one to `MAX_WORDS` plain lower-case words."""
    return isinstance(value, str) and 0 < len(value.split()) <= MAX_WORDS and all(map(plain_word, value.split()))


def read_color(words: Sequence[str], stop: Container[str] | None = None) -> tuple[str, int] | None:
    """The colour `words` start with and how many words it takes: a known colour or a slip of one, a shade of one,
    or, given the `stop` words that end an open colour (after "color"), one to `MAX_WORDS` plain words that are
    not `stop` words (a known colour always counts); None when they start with no colour."""
    if words and (near := known_color(words[0])) is not None:
        return near, 1
    if len(words) > 1 and (shaded := shade(words[0], words[1])) is not None:
        return shaded, 2
    n = 0
    while stop is not None and n < min(len(words), MAX_WORDS) and plain_word(words[n]):
        if words[n] in stop and not known_color(words[n]):
            break
        n += 1
    return (" ".join(words[:n]), n) if n else None
