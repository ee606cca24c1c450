"""Does the search help? Its best prompt against the plain seed prompt, on fresh seeds, by the classifier.

Trials are scored on the same few evaluation seeds, so the best trial's score is optimistic (it was chosen on
those seeds). This check renders `export.holdout_images` images of the best candidate and of the plain seed
prompt (the category's most frequent challenge prompt, no negative prompt, guidance `PLAIN_GUIDANCE` clipped
to the search range, the largest step count) on seeds no trial or export used, and reports the classifier's
hit rate of each.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from promptopt.config import StudyConfig
from promptopt.mutator import Candidate, seed_prompts

HOLDOUT_SEED_OFFSET = 2_000_000_000  # export seeds start 500,000 after the evaluation seeds; these far beyond
PLAIN_GUIDANCE = 7.5  # diffusers' default guidance scale


def holdout_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    base = cfg.study.eval_seeds[0] + HOLDOUT_SEED_OFFSET
    return tuple(range(base, base + cfg.export.holdout_images))


def plain_candidate(cfg: StudyConfig) -> Candidate:
    guidance = min(max(PLAIN_GUIDANCE, cfg.mutator.guidance_min), cfg.mutator.guidance_max)
    return Candidate(seed_prompts(cfg.study.category, 1)[0], "", guidance, max(cfg.mutator.steps))


def best_candidate(study: Any) -> Candidate:
    """The best trial's candidate (the first of the Pareto front for several objectives)."""
    best = study.best_trial if len(study.directions) == 1 else study.best_trials[0]
    return Candidate(**best.user_attrs["candidate"])


def holdout_check(cfg: StudyConfig, study: Any, generator: Any, classifier: Any) -> dict[str, Any]:
    """Hit rates of the best and the plain candidate on the hold-out seeds; `classifier` is a ClassifierScorer."""
    seeds = holdout_seeds(cfg)
    out: dict[str, Any] = {"images": len(seeds), "seeds": [seeds[0], seeds[-1]]}
    for label, candidate in (("best", best_candidate(study)), ("seed_prompt", plain_candidate(cfg))):
        images = generator.render(
            [candidate.prompt] * len(seeds),
            seeds,
            negative_prompt=candidate.negative_prompt or None,
            guidance_scale=candidate.guidance_scale,
            steps=candidate.steps,
        )
        scores = classifier.score(images, [candidate.prompt] * len(images))
        out[label] = {**asdict(candidate), "hit_rate": scores["hit_rate"]}
    return out
