"""Pick real challenge prompts that are true of a GI-sim image.

The bundled development prompts are parsed once into families (the attribute keys a prompt constrains:
procedure, text, polyp_count, colors, …). Each image gets one prompt from every family that has a
prompt true of it, chosen by the prompts' development counts, so positives and negations ("with no
polyps", "not containing text") come in the development set's proportions (about ten per image).
A family whose attribute the image has but no bundled prompt states (e.g. a lone "11-20mm", or a
location pair, "4 findings") gets one sentence from `grammar.phrase` of that attribute alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptopt import grammar


@dataclass(frozen=True)
class Family:
    keys: tuple[str, ...]
    prompts: tuple[str, ...]
    attrs: tuple[dict[str, Any], ...]
    weights: tuple[float, ...]


@dataclass(frozen=True)
class PromptTable:
    families: tuple[Family, ...]  # most frequent family first


def prompt_table(prompts: Sequence[tuple[str, int]] | None = None) -> PromptTable:
    """Parse (prompt, count) pairs (default: the bundled development prompts) into families."""
    grouped: dict[tuple[str, ...], list[tuple[str, dict[str, Any], float]]] = {}
    for prompt, count in grammar.challenge_prompts() if prompts is None else prompts:
        attrs = grammar.parse(prompt)
        grouped.setdefault(tuple(sorted(attrs)), []).append((prompt, attrs, float(count)))
    families = [
        Family(keys, tuple(p for p, _, _ in rows), tuple(a for _, a, _ in rows), tuple(w for _, _, w in rows))
        for keys, rows in grouped.items()
    ]
    families.sort(key=lambda f: (-sum(f.weights), f.keys))
    return PromptTable(tuple(families))


def _rendered(keys: tuple[str, ...], labels: Mapping[str, Any]) -> str | None:
    """A rendered prompt for a one-key family whose value the image has (not an empty list), else None."""
    if len(keys) != 1 or keys[0] not in labels or labels[keys[0]] == []:
        return None
    return grammar.phrase({keys[0]: labels[keys[0]]})


def choose_prompts(table: PromptTable, labels: Mapping[str, Any], rng: np.random.Generator) -> list[str]:
    """One true prompt per family, drawn by development count; labels in `Labels.as_dict` form."""
    chosen = []
    for family in table.families:
        true = [i for i, attrs in enumerate(family.attrs) if grammar.holds(attrs, labels)]
        if true:
            weights = np.array([family.weights[i] for i in true])
            chosen.append(family.prompts[true[int(rng.choice(len(true), p=weights / weights.sum()))]])
        elif (prompt := _rendered(family.keys, labels)) is not None:
            chosen.append(prompt)
    return chosen
