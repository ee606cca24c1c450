"""Re-score the search's finalists on fresh validation seeds before the export ranks them.

Every trial is scored on the same few evaluation seeds, and the best of many noisy scores is optimistic (the
winner's curse): with 8 seeds a candidate's hit rate moves in steps of 1/8. The export's `top_k` finalists
(the best distinct prompts by their trial score) are therefore rendered again on `export.validation_images`
seeds that no trial, export or hold-out check uses, scored by the same scorers and objectives, and ranked by
those validation scores. Results live in runs/<study>/validation/<trial>/ (images + scores.json, written
atomically) and are reused when the candidate, seeds and generator are unchanged, so a repeated export does not
render them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.paths import TRIAL_IMAGES, TRIAL_SCORES
from promptopt.scorers.base import Scorer
from promptopt.search.loop import render_candidate, score_images
from promptopt.search.mutator import Candidate
from promptopt.search.ranking import pareto_levels
from promptopt.search.seeds import validation_seeds
from promptopt.search.trials import TrialRecord
from promptopt.study.config import StudyConfig


def validate_finalists(
    cfg: StudyConfig,
    folder: Path,
    trials: Sequence[Any],
    *,
    generator: Any,
    scorers: Sequence[Scorer],
    progress: Callable[[int], None] | None = None,
) -> list[TrialRecord]:
    """Validation scores of each trial's candidate (Optuna FrozenTrials, in their trial ranking), best first:
    by Pareto level of the validation objective values, then the first objective, then the trial ranking."""
    seeds = validation_seeds(cfg)
    validated = []
    for trial in trials:
        candidate = Candidate(**trial.user_attrs["candidate"])
        target = folder / f"{trial.number:04d}"
        scores = _stored(target, candidate, seeds, generator.identity)
        if scores is None:
            scores = _render_and_score(target, candidate, seeds, generator, scorers)
        values = tuple(objective.value(scores) for objective in cfg.objectives)
        validated.append(TrialRecord(trial.number, candidate, scores, values))
        if progress is not None:
            progress(len(seeds))
    return rank_validated(validated, [o.direction for o in cfg.objectives])


def rank_validated(validated: Sequence[TrialRecord], directions: Sequence[str]) -> list[TrialRecord]:
    """Best first; ties keep the given order."""
    levels = pareto_levels([v.values for v in validated], directions)
    sign = 1.0 if directions[0] == "maximize" else -1.0
    order = sorted(range(len(validated)), key=lambda i: (levels[i], -sign * validated[i].values[0], i))
    return [validated[i] for i in order]


def _stored(target: Path, candidate: Candidate, seeds: Sequence[int], identity: Any) -> dict[str, float] | None:
    path = target / TRIAL_SCORES
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    same = (
        record.get("candidate") == asdict(candidate)
        and record.get("seeds") == list(seeds)
        and record.get("generator") == json.loads(json.dumps(identity))
    )
    return record["scores"] if same else None


def _render_and_score(
    target: Path, candidate: Candidate, seeds: Sequence[int], generator: Any, scorers: Sequence[Scorer]
) -> dict[str, float]:
    images = render_candidate(generator, candidate, seeds)
    scores = score_images(scorers, images, candidate.prompt)
    with atomic.staged_dir(target) as staging:
        (staging / TRIAL_IMAGES).mkdir()
        for i, image in enumerate(images):
            image.save(staging / TRIAL_IMAGES / f"{i:02d}.png")
        record = {
            "candidate": asdict(candidate),
            "seeds": list(seeds),
            "scores": scores,
            "generator": generator.identity,
        }
        (staging / TRIAL_SCORES).write_text(json.dumps(record, indent=2) + "\n")
    return scores
