"""Propose candidates: a real challenge prompt of the category, mutated in wording, detail, negative prompt,
guidance scale and steps.

Every choice is a fixed pool expressed as an Optuna distribution (no dynamic categorical spaces), so TPE and
NSGA-II see the same space in every trial and `optuna.trial.FixedTrial` can replay any candidate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.grammar.opg_categories import CATEGORIES, Category
from promptopt.study.config import MutatorConfig, StudyConfig

KEEP = "keep"
DESCRIPTOR_CHOICES = ("", *grammar.SEARCH_DESCRIPTORS)
PLAIN_GUIDANCE = 7.5  # diffusers' default guidance scale


@dataclass(frozen=True)
class Candidate:
    prompt: str
    negative_prompt: str
    guidance_scale: float
    steps: int

    def key(self) -> tuple[str, str, float, int]:
        return (self.prompt, self.negative_prompt, self.guidance_scale, self.steps)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Candidate:
        """The candidate in a mapping that holds its fields and maybe more (an export row, a trial's attrs)."""
        return cls(data["prompt"], data["negative_prompt"], data["guidance_scale"], data["steps"])


def with_target(prompt: str, target: Mapping[str, Any]) -> str:
    """`prompt` with the target's attribute values put in (replacing what it says of the same keys)."""
    return grammar.phrase({**grammar.parse(prompt), **target}) if target else prompt


def seed_prompts(category: str, k: int) -> tuple[str, ...]:
    """The k most frequent development prompts that target `category`."""
    ranked = []
    for prompt, count in grammar.challenge_prompts():
        if category in grammar.categories(grammar.parse(prompt)):
            ranked.append((-count, prompt))
    if not ranked:
        raise InputError(f"no development prompt targets category {category!r}")
    return tuple(prompt for _, prompt in sorted(ranked)[:k])


def _with_article(article: str | None, noun: str) -> str:
    """Keep an article before a swapped noun, as one "a" or "an" to suit it (the challenge's "an an"
    becomes one article)."""
    if article is None:
        return noun
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


class PromptMutator:
    """Builds a Candidate from a trial's suggestions over fixed pools. With a `target` (attribute values in the
    grammar's form), every seed prompt says them and no detail mutation touches their keys."""

    def __init__(self, category: Category, cfg: MutatorConfig, target: Mapping[str, Any] | None = None):
        self.category = category
        self.cfg = cfg
        self.target = dict(target or {})
        self.seeds = tuple(
            dict.fromkeys(with_target(p, self.target) for p in seed_prompts(category.name, cfg.seed_prompts))
        )
        self.details = tuple((key, pool) for key, pool in category.details if key not in self.target)
        alternatives = "|".join(re.escape(s) for s in sorted(category.synonyms, key=len, reverse=True))
        self._head = re.compile(rf"\b(?:(an?) )*(?:{alternatives})\b(?!s\b| snare)", re.IGNORECASE)

    def baseline_params(self) -> dict[str, Any]:
        """The trial parameters of the plain seed prompt: the category's most frequent challenge prompt as it is
        (no detail, wording or descriptor change), no negative prompt, guidance `PLAIN_GUIDANCE` (clipped to the
        search range, on its grid) and the largest step count. `propose(FixedTrial(baseline_params()))` is the
        baseline every search starts from and the hold-out check compares against."""
        cfg = self.cfg
        clipped = min(max(PLAIN_GUIDANCE, cfg.guidance_min), cfg.guidance_max)
        guidance = cfg.guidance_min + round((clipped - cfg.guidance_min) / cfg.guidance_step) * cfg.guidance_step
        return {
            "seed_prompt": self.seeds[0],
            **{key: KEEP for key, _ in self.details},
            "opener": grammar.CHALLENGE_OPENER,
            "synonym": self.category.head,
            "descriptor": "",
            "negative_prompt": "",
            "guidance_scale": guidance,
            "steps": max(cfg.steps),
        }

    def baseline(self) -> Candidate:
        """The plain seed prompt as a Candidate (see `baseline_params`)."""
        import optuna

        return self.propose(optuna.trial.FixedTrial(self.baseline_params()))

    def propose(self, trial: Any) -> Candidate:
        prompt = trial.suggest_categorical("seed_prompt", self.seeds)
        changes = {key: trial.suggest_categorical(key, (KEEP, *pool)) for key, pool in self.details}
        changes = {key: [value] for key, value in changes.items() if value != KEEP}
        if changes:
            prompt = grammar.phrase({**grammar.parse(prompt), **changes})
        opener = trial.suggest_categorical("opener", grammar.OPENERS)
        if prompt.startswith(grammar.CHALLENGE_OPENER):
            prompt = opener + prompt[len(grammar.CHALLENGE_OPENER) :]
        synonym = trial.suggest_categorical("synonym", self.category.synonyms)
        prompt = self._head.sub(lambda m: _with_article(m.group(1), synonym), prompt, count=1)
        descriptor = trial.suggest_categorical("descriptor", DESCRIPTOR_CHOICES)
        if descriptor:
            prompt = f"{prompt.rstrip('.')}, {descriptor}."
        return Candidate(
            prompt=prompt,
            negative_prompt=trial.suggest_categorical("negative_prompt", self.category.negatives),
            guidance_scale=trial.suggest_float(
                "guidance_scale", self.cfg.guidance_min, self.cfg.guidance_max, step=self.cfg.guidance_step
            ),
            steps=trial.suggest_categorical("steps", self.cfg.steps),
        )


def build_mutator(cfg: StudyConfig) -> PromptMutator:
    """The mutator of the study's category, settings and target."""
    return PromptMutator(CATEGORIES[cfg.study.category], cfg.mutator, cfg.study.target)
