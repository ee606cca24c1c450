"""Does the search help? Its first exported prompt against the plain seed prompt, on fresh seeds, by the
classifier.

Trials are scored on the same few evaluation seeds and the finalists on the validation seeds, so the chosen
prompt's scores are optimistic (it was chosen on those seeds). This check renders `export.holdout_images` images
of the export's first candidate and of the plain seed prompt (`PromptMutator.baseline`: the category's most
frequent challenge prompt, no negative prompt, guidance 7.5, the largest step count) on seeds that no trial,
validation or export used, and reports the classifier's hit rate of each. The same seeds make the two hit
rates paired: the seeds on which only one of them hits, and McNemar's exact test on those, say whether the
difference is more than noise.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from promptopt.config import StudyConfig
from promptopt.mutator import Candidate
from promptopt.search import render_candidate
from scorers.classifier import THRESHOLD

HOLDOUT_SEED_OFFSET = 2_000_000_000  # export seeds start 500,000 after the evaluation seeds, validation 1e9


def holdout_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    base = cfg.study.eval_seeds[0] + HOLDOUT_SEED_OFFSET
    return tuple(range(base, base + cfg.export.holdout_images))


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (1.0 when there are none)."""
    from scipy.stats import binomtest

    n = only_first + only_second
    return float(binomtest(only_first, n, 0.5).pvalue) if n else 1.0


def holdout_check(
    cfg: StudyConfig, best: Candidate, baseline: Candidate, generator: Any, classifier: Any
) -> dict[str, Any]:
    """Hit rates of `best` and the plain `baseline` on the hold-out seeds, and their paired comparison;
    `classifier` is a ClassifierScorer."""
    seeds = holdout_seeds(cfg)
    out: dict[str, Any] = {"images": len(seeds), "seeds": [seeds[0], seeds[-1]]}
    hits = {}
    for label, candidate in (("best", best), ("seed_prompt", baseline)):
        hits[label] = classifier.target_probabilities(render_candidate(generator, candidate, seeds)) >= THRESHOLD
        out[label] = {**asdict(candidate), "hit_rate": float(hits[label].mean())}
    only_best = int((hits["best"] & ~hits["seed_prompt"]).sum())
    only_plain = int((hits["seed_prompt"] & ~hits["best"]).sum())
    out["paired"] = {
        "best_only": only_best, "seed_prompt_only": only_plain, "mcnemar_p": mcnemar_exact(only_best, only_plain)
    }  # fmt: skip
    return out
