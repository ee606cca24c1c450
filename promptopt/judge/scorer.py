"""The study scorer built on the judge: target consistency, hit rate and prompt consistency of a batch.

- `target_consistency`: the mean over images of the target's consistency (`promptopt.judge.consistency`), the default
  objective; `c_<clause>` breaks it down per target clause (mean probability the clause holds);
- `hit_rate`: the share of images on which every target clause holds at its output's decision threshold (the
  judge's, `promptopt.scorers.judge`; 0.5 for a judge file from before thresholds);
- `consistency`: the mean over images of each image's consistency with the prompt it was rendered from (what
  the prompt says, the target or not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from promptopt.judge.consistency import clause_hits, clause_probabilities, combine, consistency
from promptopt.judge.targets import Target
from promptopt.scorers.fitting import load_fitted


def metric_name(label: str) -> str:
    """`c_` + a clause label, `<`/`>` as lt/gt and every run of other non-alphanumerics as one underscore
    (`c_polyp_sizes_gt20mm`)."""
    return "c_" + re.sub(r"[^0-9a-z]+", "_", label.lower().replace(">", "gt").replace("<", "lt")).strip("_")


class JudgeScorer:
    name = "judge"
    metrics = {"target_consistency": True, "hit_rate": True, "consistency": True}

    def __init__(self, judge: Any, target: Target):
        self.judge = judge
        self.target = target
        self.clauses = target.clauses()

    @property
    def unchecked(self) -> tuple[str, ...]:
        """The target's clauses on outputs the judge cannot certify: what it says of them is not evidence."""
        return tuple(c.label for c in self.clauses if c.output in self.judge.uncertifiable)

    def target_judgement(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """Two (n, clauses) arrays: per image, the probability that each target clause holds as stated, and
        whether it holds at its output's decision threshold."""
        proba = self.judge.predict(images)
        hits = clause_hits(proba, self.clauses, self.judge.threshold_array())
        return clause_probabilities(proba, self.clauses), hits

    def image_records(self, images: Sequence[Image.Image], prompt: str) -> list[dict[str, Any]]:
        """Per image rendered from `prompt`: the judge's probabilities, the consistency with the prompt and with
        the target (what exports store in each image's metadata)."""
        proba = self.judge.predict(images)
        prompt_consistency = consistency(proba, [prompt] * len(images))
        target = combine(clause_probabilities(proba, self.clauses))
        return [
            {
                "consistency": round(float(c), 6),
                "target_consistency": round(float(t), 6),
                "probabilities": {k: round(float(p), 6) for k, p in zip(self.judge.outputs, row)},
            }
            for row, c, t in zip(proba, prompt_consistency, target)
        ]

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        proba = self.judge.predict(images)
        per_clause = clause_probabilities(proba, self.clauses)
        hits = clause_hits(proba, self.clauses, self.judge.threshold_array())
        out = {
            "target_consistency": float(combine(per_clause).mean()),
            "hit_rate": float(hits.all(axis=1).mean()),
            "consistency": float(consistency(proba, prompts).mean()),
        }
        for j, clause in enumerate(self.clauses):
            out[metric_name(clause.label)] = float(per_clause[:, j].mean())
        return out


def open_judge(spec: str, what: str) -> Any:
    """The judge `spec` names: `gi-sim` (the shipped one) or a .safetensors path; InputError (naming `what`, the
    flag or key) when it is missing, unreadable or judges another attribute set."""
    from promptopt.judge.schema import SCHEMA
    from promptopt.scorers.judge import load_judge

    return load_fitted(lambda path: load_judge(path, SCHEMA), spec, "judge", what)


def judge_of(scorers: Sequence[Any]) -> JudgeScorer | None:
    """The JudgeScorer among a study's scorers, if it has one."""
    return next((s for s in scorers if s.name == JudgeScorer.name), None)
