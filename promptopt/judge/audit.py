"""The judge measured on the images it will see, per output: held-out GI-sim drawn rare-enriched (so that every
output the simulator draws has its positives) and at the development frequencies (for calibration), each clean
and through the generator's autoencoder, at the judge's own decision thresholds. A macro average never stands
alone: every output is reported with its positives, AUROC, precision and recall, and whether it meets the
certification bar (`promptopt.scorers.judge_training.CERTIFY`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from promptopt.core.progress import Progress
from promptopt.judge.fit import gi_sim_data
from promptopt.judge.schema import SCHEMA
from promptopt.scorers.judge_training import CERTIFY, judge_metrics, uncertifiable

AUDIT_SEED = 7  # GI-sim run of the audit: never used to fit a judge (the shipped one is fitted on seed 0)
AUDIT_NATURAL, AUDIT_RARE = 1000, 2000  # images at the development frequencies, and rare-enriched


def judge_audit(
    judge: Any,
    autoencoder: Any,
    *,
    seed: int = AUDIT_SEED,
    n_natural: int = AUDIT_NATURAL,
    n_rare: int = AUDIT_RARE,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """`judge_metrics` at the judge's thresholds of GI-sim run `seed` (n_natural images at the development
    frequencies, then n_rare rare-enriched), each set clean and (with an autoencoder) round-tripped, and per
    round-tripped rare-enriched output whether it meets the bar."""
    data = gi_sim_data(n_natural + n_rare, judge.config.size, seed, progress, rare_share=n_rare / (n_natural + n_rare))
    views = {"clean": data.pixels}
    if autoencoder is not None:
        views["round_trip"] = autoencoder.round_trip(data.pixels)
    sets = {"natural": ~data.rare, "rare_enriched": data.rare}
    report: dict[str, Any] = {"seed": seed, "n_natural": n_natural, "n_rare": n_rare, "bar": CERTIFY}
    for view, pixels in views.items():
        proba = judge.predict_pixels(pixels)
        for name, rows in sets.items():
            report[f"{name}_{view}"] = judge_metrics(
                proba[rows], data.y[rows], data.known[rows], SCHEMA, judge.threshold_array()
            )
    last = "round_trip" if autoencoder is not None else "clean"
    report["misses_bar"] = sorted(
        set(uncertifiable(report[f"rare_enriched_{last}"]["outputs"]))
        | set(uncertifiable(report["rare_enriched_clean"]["outputs"]))
    )
    return report


def presence_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The presence outputs of `judge_metrics`, one row each (name, positives, AUROC, threshold, precision,
    recall), for a table."""
    return [{"output": name, **m} for name, m in metrics["outputs"].items() if m["head"] == "presence"]


def macro(metrics: dict[str, Any], head: str = "presence") -> float:
    """The mean AUROC of a head's outputs that have both classes (beside the per-output rows, never alone)."""
    values = [m["auroc"] for m in metrics["outputs"].values() if m["head"] == head and m["auroc"] is not None]
    return float(np.mean(values))
