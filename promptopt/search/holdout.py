"""Does the search help? Its first exported prompt against the plain seed prompt, on fresh seeds, by the
judge.

Trials are scored on the same few evaluation seeds and the finalists on the validation seeds, so the chosen
prompt's scores are optimistic (it was chosen on those seeds). This check renders `export.holdout_images` images
of the export's first candidate and of the plain seed prompt (`PromptMutator.baseline`: the category's most
frequent challenge prompt, no negative prompt, guidance 7.5, the largest step count) on seeds that no trial,
validation or export used, and reports the judge's target consistency and hit rate of each. The same seeds make
the two paired: the Wilcoxon signed-rank test on the per-seed consistency differences, and the seeds on which only
one of them hits with McNemar's exact test on those, say whether the difference is more than noise; the 95 %
interval of the mean per-seed gain says how large it is, and when that interval lies within ±EQUIVALENCE_MARGIN
the two are reported as no different (a tiny p beside two equal means would mislead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core import atomic
from promptopt.core.paths import HOLDOUT_FILE
from promptopt.judge.consistency import combine
from promptopt.judge.scorer import judge_of
from promptopt.scorers.base import Scorer
from promptopt.search.loop import render_candidate
from promptopt.search.mutator import Candidate
from promptopt.search.seeds import holdout_seeds
from promptopt.study.config import StudyConfig


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (1.0 when there are none)."""
    from scipy.stats import binomtest

    n = only_first + only_second
    return float(binomtest(only_first, n, 0.5).pvalue) if n else 1.0


EQUIVALENCE_MARGIN = 0.02  # a mean per-seed consistency gain whose 95 % interval lies within ±this is no difference


def gain_interval(gains: np.ndarray) -> tuple[float, float]:
    """The 95 % t interval of the mean of per-seed gains (the mean itself when they are all equal)."""
    from scipy.stats import t

    n = len(gains)
    if n < 2 or np.allclose(gains, gains[0], rtol=0.0, atol=1e-12):
        return float(gains.mean()), float(gains.mean())
    half = float(t.ppf(0.975, n - 1) * gains.std(ddof=1) / np.sqrt(n))
    return float(gains.mean()) - half, float(gains.mean()) + half


def wilcoxon_p(first: np.ndarray, second: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired values (1.0 when every pair is equal)."""
    from scipy.stats import wilcoxon

    if np.allclose(first, second, rtol=0.0, atol=1e-12):
        return 1.0
    return float(wilcoxon(first, second, zero_method="zsplit").pvalue)


def holdout_check(cfg: StudyConfig, best: Candidate, baseline: Candidate, generator: Any, judge: Any) -> dict[str, Any]:
    """Target consistency and hit rate of `best` and the plain `baseline` on the hold-out seeds, and their paired
    comparison; `judge` is a JudgeScorer. When `best` is the plain seed prompt itself, it is rendered once and
    `best_is_seed_prompt` says so: there is nothing to compare."""
    seeds = holdout_seeds(cfg)
    same = best == baseline
    out: dict[str, Any] = {
        "images": len(seeds),
        "seeds": {"seed_start": seeds[0], "count": len(seeds)},
        "best_is_seed_prompt": same,
        "unchecked": list(judge.unchecked),  # target clauses the judge cannot certify: their figures are no evidence
    }  # consecutive seeds: seed_start, seed_start + 1, ...

    def judged(candidate: Candidate) -> tuple[np.ndarray, np.ndarray]:
        return judge.target_judgement(render_candidate(generator, candidate, seeds))

    scores = {"seed_prompt": judged(baseline)}
    scores["best"] = scores["seed_prompt"] if same else judged(best)
    consistency = {label: combine(per_clause) for label, (per_clause, _) in scores.items()}
    hits = {label: clause_hit.all(axis=1) for label, (_, clause_hit) in scores.items()}
    for label, candidate in (("best", best), ("seed_prompt", baseline)):
        out[label] = {
            **asdict(candidate),
            "target_consistency": float(consistency[label].mean()),
            "hit_rate": float(hits[label].mean()),
        }
    only_best = int((hits["best"] & ~hits["seed_prompt"]).sum())
    only_plain = int((hits["seed_prompt"] & ~hits["best"]).sum())
    gains = consistency["best"] - consistency["seed_prompt"]
    low, high = gain_interval(gains)
    out["paired"] = {
        "consistency_gain": float(gains.mean()),
        "gain_ci": [low, high],
        "no_difference": -EQUIVALENCE_MARGIN <= low and high <= EQUIVALENCE_MARGIN,
        "wilcoxon_p": wilcoxon_p(consistency["best"], consistency["seed_prompt"]),
        "best_only": only_best,
        "seed_prompt_only": only_plain,
        "mcnemar_p": mcnemar_exact(only_best, only_plain),
    }
    return out


def export_holdout(
    cfg: StudyConfig, folder: Path, rows: Sequence[dict[str, Any]], generator: Any, scorers: Sequence[Scorer]
) -> dict[str, Any] | None:
    """`holdout_check` of an export's first prompt (its `rows`) against the plain seed prompt, written to
    `folder`/holdout.json; None without a judge scorer, hold-out images or prompts."""
    judge = judge_of(scorers)
    if judge is None or not cfg.export.holdout_images or not rows:
        return None
    from promptopt.search.mutator import build_mutator

    result = holdout_check(cfg, Candidate.from_mapping(rows[0]), build_mutator(cfg).baseline(), generator, judge)
    atomic.write_json(folder / HOLDOUT_FILE, result)
    return result
