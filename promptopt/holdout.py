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

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from promptopt.config import StudyConfig
from promptopt.mutator import Candidate
from promptopt.paths import HOLDOUT_FILE
from promptopt.scorers import atomic
from promptopt.scorers.base import Scorer
from promptopt.scorers.classifier import THRESHOLD
from promptopt.search import render_candidate
from promptopt.seeds import holdout_seeds


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (1.0 when there are none)."""
    from scipy.stats import binomtest

    n = only_first + only_second
    return float(binomtest(only_first, n, 0.5).pvalue) if n else 1.0


def holdout_check(
    cfg: StudyConfig, best: Candidate, baseline: Candidate, generator: Any, classifier: Any
) -> dict[str, Any]:
    """Hit rates of `best` and the plain `baseline` on the hold-out seeds, and their paired comparison;
    `classifier` is a ClassifierScorer. When `best` is the plain seed prompt itself, it is rendered once and
    `best_is_seed_prompt` says so: there is nothing to compare."""
    seeds = holdout_seeds(cfg)
    same = best == baseline
    out: dict[str, Any] = {
        "images": len(seeds), "seeds": {"first": seeds[0], "last": seeds[-1]}, "best_is_seed_prompt": same
    }  # fmt: skip

    def hit(candidate: Candidate) -> Any:
        return classifier.target_probabilities(render_candidate(generator, candidate, seeds)) >= THRESHOLD

    hits = {"seed_prompt": hit(baseline)}
    hits["best"] = hits["seed_prompt"] if same else hit(best)
    for label, candidate in (("best", best), ("seed_prompt", baseline)):
        out[label] = {**asdict(candidate), "hit_rate": float(hits[label].mean())}
    only_best = int((hits["best"] & ~hits["seed_prompt"]).sum())
    only_plain = int((hits["seed_prompt"] & ~hits["best"]).sum())
    out["paired"] = {
        "best_only": only_best, "seed_prompt_only": only_plain, "mcnemar_p": mcnemar_exact(only_best, only_plain)
    }  # fmt: skip
    return out


def export_holdout(
    cfg: StudyConfig, folder: Path, rows: Sequence[dict[str, Any]], generator: Any, scorers: Sequence[Scorer]
) -> dict[str, Any] | None:
    """`holdout_check` of an export's first prompt (its `rows`) against the plain seed prompt, written to
    `folder`/holdout.json; None without a classifier scorer, hold-out images or prompts."""
    classifier = next((s for s in scorers if s.name == "classifier"), None)
    if classifier is None or not cfg.export.holdout_images or not rows:
        return None
    from promptopt.factory import build_mutator

    result = holdout_check(cfg, Candidate.from_mapping(rows[0]), build_mutator(cfg).baseline(), generator, classifier)
    atomic.write_json(folder / HOLDOUT_FILE, result)
    return result
