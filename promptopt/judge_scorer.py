"""The study scorer built on the judge: target consistency, hit rate and prompt consistency of a batch.

- `target_consistency`: the mean over images of the target's consistency (`promptopt.consistency`), the default
  objective; `c_<clause>` breaks it down per target clause (mean probability the clause holds);
- `hit_rate`: the share of images on which every target clause holds at p >= 0.5;
- `consistency`: the mean over images of each image's consistency with the prompt it was rendered from (what
  the prompt says, the target or not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from promptopt.config import GI_SIM_REFERENCE, StudyConfig
from promptopt.consistency import Target, clause_probabilities, combine, consistency
from promptopt.errors import InputError

THRESHOLD = 0.5


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

    def target_scores(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, clauses): per image, the probability that each target clause holds."""
        return clause_probabilities(self.judge.predict(images), self.clauses)

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
        out = {
            "target_consistency": float(combine(per_clause).mean()),
            "hit_rate": float((per_clause >= THRESHOLD).all(axis=1).mean()),
            "consistency": float(consistency(proba, prompts).mean()),
        }
        for j, clause in enumerate(self.clauses):
            out[metric_name(clause.label)] = float(per_clause[:, j].mean())
        return out


def open_judge(spec: str, what: str) -> Any:
    """The judge `spec` names: `gi-sim` (the shipped one) or a .safetensors path; InputError (naming `what`, the
    flag or key) when it is missing, unreadable or judges another attribute set."""
    from promptopt.judge_schema import SCHEMA
    from promptopt.scorers.judge import load_judge

    if spec == GI_SIM_REFERENCE:
        from promptopt.scorers.assets import shipped_model

        try:
            spec = str(shipped_model("judge"))
        except FileNotFoundError as err:
            raise InputError(str(err)) from None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist: fit one with `promptopt fit judge --data DIR --out {path}`")
    try:
        return load_judge(path, SCHEMA)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{what} {path} cannot be used ({err})") from None


def study_target(cfg: StudyConfig) -> Target:
    return Target(cfg.study.category, dict(cfg.study.target))
