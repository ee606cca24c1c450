"""The guards a tuned model must pass before it is submitted; the loop enforces them and says which failed.

- No forgetting: every clause the base model drew (hit rate >= 0.5 in its audit, checkable by the judge) stays at
  0.5 or more, and no more than `MAX_DROP` below the base's rate, beyond sampling noise: a clause is forgotten
  when it breaks either bar *and* its drop is significant (one-sided Fisher exact test of its hits, Holm-corrected
  over every clause the base drew, family-wise `ALPHA`). Measured: gi-sim-tiny audited twice on different seeds,
  24 renders a clause, breaks the bars on 8 of its 26 drawn clauses by drops of up to 0.37
  (`bench/tune_loop.py --noise`), so the bars alone fail the base model against itself; breaks that are not
  significant are reported (`within_noise`), not counted.
- No copying: the tuned model's renders of a target are not near copies of that target's own training images
  (the few images the adapter saw most often). A render is a near copy when its Inception features sit closer to
  one of those images than `MEMORISATION_PERCENTILE` % of the training set's images sit to their nearest
  neighbour (`promptopt.scorers.memorisation`'s rule, the threshold taken from the whole training set so that it
  stays meaningful for a target with three images); at most `MAX_COPIES` of the renders may be.
- Realism: KID of the tuned model's audit renders against the GI-sim (or the user's) reference is at most
  `MAX_KID_RATIO` times the base model's, on the same prompts and seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from promptopt.loop.audit import HIT, AuditRow

MAX_DROP = 0.1
ALPHA = 0.05
MAX_COPIES = 0.05
MAX_KID_RATIO = 1.1
MEMORISATION_PERCENTILE = 1.0


@dataclass(frozen=True)
class Guard:
    """One guard's verdict and the figures behind it."""

    name: str
    passed: bool
    detail: str
    figures: dict[str, Any]


def forgetting(base: Sequence[AuditRow], tuned: Sequence[AuditRow]) -> Guard:
    """Fails when a clause the base drew falls below HIT, or more than MAX_DROP below its base rate, by more than
    sampling noise (module docstring)."""
    after = {row.clause: row for row in tuned}
    drawn = [row for row in base if row.checkable and row.hit_rate >= HIT and row.clause in after]
    broken = []
    for row in drawn:
        now = after[row.clause]
        if now.hit_rate < HIT or now.hit_rate < row.hit_rate - MAX_DROP:
            p = _drop_p(row, now)
            broken.append({"clause": row.clause, "base": row.hit_rate, "tuned": now.hit_rate, "p": p})
    lost, noise = _holm(broken, len(drawn))
    if lost:
        detail = "forgotten: " + "; ".join(f"{x['clause']} {x['base']:.2f} → {x['tuned']:.2f}" for x in lost)
    else:
        detail = f"every one of the {len(drawn)} clauses the base drew still drawn"
    if noise:
        detail += f" ({len(noise)} more below the bars within sampling noise)"
    figures = {"drawn_by_base": len(drawn), "forgotten": lost, "within_noise": noise, "alpha": ALPHA}
    return Guard("no forgetting", not lost, detail, figures)


def _drop_p(base: AuditRow, tuned: AuditRow) -> float:
    """One-sided p of the tuned model hitting less often than the base (Fisher exact, on their hit counts)."""
    from scipy.stats import fisher_exact

    table = [[base.hits, base.n - base.hits], [tuned.hits, tuned.n - tuned.hits]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def _holm(broken: list[dict[str, Any]], tests: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(significant, not) among the broken clauses, Holm's step-down over `tests` hypotheses at ALPHA."""
    ordered = sorted(broken, key=lambda x: x["p"])
    for i, item in enumerate(ordered):
        if item["p"] > ALPHA / (tests - i):
            return ordered[:i], ordered[i:]
    return ordered, []


def copying(renders: np.ndarray, target_images: np.ndarray, training: np.ndarray, target: str) -> Guard:
    """Near copies (features) of the target's training images among its renders (module docstring)."""
    from promptopt.scorers.memorisation import nearest_reference, reference_neighbour_distances

    threshold = float(np.percentile(reference_neighbour_distances(training), MEMORISATION_PERCENTILE))
    distances, _ = nearest_reference(renders, target_images)
    copies = int((distances <= threshold).sum())
    share = copies / len(renders)
    detail = (
        f"{target}: {copies} of {len(renders)} renders are near copies of its {len(target_images)} training "
        f"image(s) (nearest distance {distances.min():.3g}, threshold {threshold:.3g})"
    )
    figures = {
        "near_copies": copies,
        "renders": len(renders),
        "share": share,
        "threshold": threshold,
        "nearest": float(distances.min()),
        "training_images": len(target_images),
    }
    return Guard("no copying", share <= MAX_COPIES, detail, figures)


def realism(base_kid: float, tuned_kid: float) -> Guard:
    """Fails when the tuned model's KID is above MAX_KID_RATIO times the base's."""
    ratio = tuned_kid / base_kid if base_kid > 0 else (1.0 if tuned_kid <= 0 else float("inf"))
    detail = f"KID {tuned_kid:.4f} against the base model's {base_kid:.4f} ({ratio:.2f}×, at most {MAX_KID_RATIO}×)"
    return Guard(
        "realism", ratio <= MAX_KID_RATIO, detail, {"base_kid": base_kid, "tuned_kid": tuned_kid, "ratio": ratio}
    )
