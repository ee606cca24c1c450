"""Rank complete trials: by objective value for one objective, by Pareto front (then the first objective)
for several. Duplicate prompts keep their best-ranked trial only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _dominates(a: Sequence[float], b: Sequence[float], signs: Sequence[float]) -> bool:
    better_or_equal = all(s * x >= s * y for x, y, s in zip(a, b, signs))
    return better_or_equal and any(s * x > s * y for x, y, s in zip(a, b, signs))


def pareto_levels(values: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Non-domination level of each point (0 = the Pareto front)."""
    signs = [1.0 if d == "maximize" else -1.0 for d in directions]
    levels = [-1] * len(values)
    remaining = set(range(len(values)))
    level = 0
    while remaining:
        front = {i for i in remaining if not any(_dominates(values[j], values[i], signs) for j in remaining if j != i)}
        for i in front:
            levels[i] = level
        remaining -= front
        level += 1
    return levels


def rank_trials(trials: Sequence[Any], directions: Sequence[str]) -> list[Any]:
    """Complete trials best first, one per distinct prompt; ties keep the earlier trial."""
    levels = pareto_levels([t.values for t in trials], directions)
    first_sign = 1.0 if directions[0] == "maximize" else -1.0
    order = sorted(range(len(trials)), key=lambda i: (levels[i], -first_sign * trials[i].values[0], trials[i].number))
    seen: set[str] = set()
    ranked = []
    for i in order:
        prompt = trials[i].user_attrs["candidate"]["prompt"]
        if prompt not in seen:
            seen.add(prompt)
            ranked.append(trials[i])
    return ranked
