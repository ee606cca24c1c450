"""Does the search help? Its first exported prompt against the plain seed prompt, on fresh seeds, by the
classifier.

Trials are scored on the same few evaluation seeds and the finalists on the validation seeds, so the chosen
prompt's scores are optimistic (it was chosen on those seeds). This check renders `export.holdout_images` images
of the export's first candidate and of the plain seed prompt (`PromptMutator.baseline`: the category's most
frequent challenge prompt, no negative prompt, guidance 7.5, the largest step count) on seeds that no trial,
validation or export used, and reports the classifier's hit rate of each.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from promptopt.config import StudyConfig
from promptopt.mutator import Candidate
from promptopt.search import render_candidate

HOLDOUT_SEED_OFFSET = 2_000_000_000  # export seeds start 500,000 after the evaluation seeds, validation 1e9


def holdout_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    base = cfg.study.eval_seeds[0] + HOLDOUT_SEED_OFFSET
    return tuple(range(base, base + cfg.export.holdout_images))


def holdout_check(cfg: StudyConfig, best: Candidate, baseline: Candidate, generator: Any, classifier: Any) -> dict[str, Any]:
    """Hit rates of `best` and the plain `baseline` on the hold-out seeds; `classifier` is a ClassifierScorer."""
    seeds = holdout_seeds(cfg)
    out: dict[str, Any] = {"images": len(seeds), "seeds": [seeds[0], seeds[-1]]}
    for label, candidate in (("best", best), ("seed_prompt", baseline)):
        images = render_candidate(generator, candidate, seeds)
        scores = classifier.score(images, [candidate.prompt] * len(images))
        out[label] = {**asdict(candidate), "hit_rate": scores["hit_rate"]}
    return out
