"""Prompt–image consistency: how far an image shows what its prompt asks, read off the judge.

The grammar parses a prompt into clauses, each asserting or negating one judge output:
- each named finding, landmark and instrument: present;
- a count ("with no polyps", "with 2 instruments"): that count (`polyp_count=0` is how the grammar says "no
  polyp");
- each Paris type, size bin, colour and location cell: `key=value` present;
- the procedure: `procedure=…`;
- `text` and `box_artefact`: present or, for "not containing …", absent.
A value the judge has no output for (a colour outside the development list's twelve, `grammar.colors`) makes no
clause: the judge cannot check it (`unjudged` names such values).

A clause's probability is the judge's probability that the image satisfies it as stated (p, or 1 - p for a
negated clause). Consistency is the **mean** of a prompt's clause probabilities: it rewards every clause met
(unlike the minimum, which only sees the worst one) and stays informative when one clause is hopeless (unlike
the product, which falls to 0); `bench/judge_audit.py` measures the three rules against each other.

A target (`promptopt.judge.targets.Target`) asks for its clauses the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.grammar.vocabulary import COUNT_KEYS, FLAG_KEYS
from promptopt.judge.schema import COLUMN, valued

RULES = ("mean", "min", "product")
NAMED = ("findings", "landmarks", "instruments")


@dataclass(frozen=True)
class Clause:
    """One thing a prompt says: judge output `output` should hold (`holds`) or not."""

    output: str
    holds: bool = True

    @property
    def label(self) -> str:
        return self.output if self.holds else f"not {self.output}"


def clauses(attrs: Mapping[str, Any]) -> tuple[Clause, ...]:
    """The clauses of a parsed prompt (module docstring), in a fixed order, without repeats; values the judge
    has no output for are left out."""
    return tuple(c for c in _all_clauses(attrs) if c.output in COLUMN)


def unjudged(attrs: Mapping[str, Any]) -> list[str]:
    """The `key=value` names of `attrs` that the judge has no output for."""
    return [c.output for c in _all_clauses(attrs) if c.output not in COLUMN]


def _all_clauses(attrs: Mapping[str, Any]) -> tuple[Clause, ...]:
    found: list[Clause] = []
    for key, value in attrs.items():
        if key in NAMED:
            found += [Clause(v) for v in value]
        elif key in FLAG_KEYS:
            found.append(Clause(key, bool(value)))
        elif key in COUNT_KEYS or key == "procedure":
            found.append(Clause(valued(key, value)))
        else:
            found += [Clause(valued(key, v)) for v in value]
    return tuple(dict.fromkeys(found))


def prompt_clauses(prompt: str) -> tuple[Clause, ...]:
    """The clauses of `prompt`; InputError naming the prompt when the grammar cannot read it or it says nothing."""
    try:
        found = clauses(grammar.parse(prompt))
    except grammar.PromptParseError as err:
        raise InputError(f"prompt {prompt!r} cannot be read: {err}") from None
    if not found:
        raise InputError(f"prompt {prompt!r} asks for nothing the judge can check")
    return found


def clause_probabilities(proba: np.ndarray, found: Sequence[Clause]) -> np.ndarray:
    """(n, len(found)): per image, the probability that each clause holds as stated."""
    columns = proba[:, [COLUMN[c.output] for c in found]]
    return np.where([c.holds for c in found], columns, 1.0 - columns)


def clause_hits(proba: np.ndarray, found: Sequence[Clause], thresholds: np.ndarray) -> np.ndarray:
    """(n, len(found)) booleans: per image, whether each clause holds as stated at its output's decision threshold
    (`thresholds`, one an output: the judge's): the output reaches it, or for a negated clause stays below it."""
    columns = [COLUMN[c.output] for c in found]
    called = proba[:, columns] >= np.asarray(thresholds)[columns]
    return np.where([c.holds for c in found], called, ~called)


def combine(per_clause: np.ndarray, rule: str = "mean") -> np.ndarray:
    """Per image, the clause probabilities combined by `rule` (mean, min or product)."""
    if rule == "mean":
        return per_clause.mean(axis=1)
    if rule == "min":
        return per_clause.min(axis=1)
    if rule == "product":
        return per_clause.prod(axis=1)
    raise ValueError(f"unknown consistency rule {rule!r}: use one of {', '.join(RULES)}")


def consistency(proba: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
    """Per image, the consistency of judge probabilities row i with prompts[i] (each distinct prompt parsed once)."""
    parsed = {prompt: prompt_clauses(prompt) for prompt in dict.fromkeys(prompts)}
    return np.array([combine(clause_probabilities(proba[i : i + 1], parsed[p]))[0] for i, p in enumerate(prompts)])
