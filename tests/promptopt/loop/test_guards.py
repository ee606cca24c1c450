"""The guards a tuned model must pass: each made to fail by a tuned model that forgets, copies, or loses realism."""

import numpy as np
import pytest

from promptopt.loop.audit import AuditRow
from promptopt.loop.guards import MAX_KID_RATIO, copying, forgetting, realism


def _row(clause: str, rate: float, checkable: bool = True, n: int = 20) -> AuditRow:
    hits = round(rate * n)
    return AuditRow(clause, f"p {clause}", n, hits, hits / n, 0.0, 1.0, rate, checkable, "")


BASE = [_row("tube", 1.0), _row("polyp", 0.9), _row("metal clip", 0.0), _row("text", 0.8, checkable=False)]


def test_a_tuned_model_that_keeps_what_the_base_drew_passes():
    tuned = [_row("tube", 0.95), _row("polyp", 0.85), _row("metal clip", 0.7), _row("text", 0.1, checkable=False)]
    guard = forgetting(BASE, tuned)
    assert guard.passed and guard.figures["drawn_by_base"] == 2  # an unchecked clause is no evidence either way


@pytest.mark.parametrize(
    ("polyp", "n", "why"), [(0.45, 20, "below 0.5"), (0.75, 400, "more than 0.1 below its base rate")]
)
def test_a_tuned_model_that_forgets_fails(polyp, n, why):
    base = [_row("tube", 1.0, n=n), _row("polyp", 0.9, n=n)]
    guard = forgetting(base, [_row("tube", 1.0, n=n), _row("polyp", polyp, n=n)])
    assert not guard.passed, why
    [lost] = guard.figures["forgotten"]
    assert (lost["clause"], lost["base"], lost["tuned"]) == ("polyp", 0.9, polyp) and lost["p"] < 0.05 / 2
    assert "polyp 0.90 → " in guard.detail


def test_a_drop_within_sampling_noise_is_reported_not_counted():
    """18 of 20 renders, then 15 of 20: past the 0.1 bar, but one-sided Fisher p = 0.2 (the base model against
    itself on other seeds does as much: bench/tune_loop.py --noise)."""
    guard = forgetting(BASE, [_row("tube", 1.0), _row("polyp", 0.75)])
    assert guard.passed and guard.figures["forgotten"] == []
    assert [x["clause"] for x in guard.figures["within_noise"]] == ["polyp"]
    assert "1 more below the bars within sampling noise" in guard.detail


def test_holm_corrects_for_every_clause_the_base_drew():
    """p = 0.03 is significant alone, not as one of 26 tests."""
    drawn = [_row(f"c{i}", 0.9) for i in range(26)]
    tuned = [_row("c0", 0.6), *drawn[1:]]  # 18/20 → 12/20: Fisher p ≈ 0.03
    assert forgetting(drawn[:1], tuned[:1]).figures["forgotten"]
    assert forgetting(drawn, tuned).passed


def test_renders_that_copy_the_targets_training_images_fail():
    rng = np.random.default_rng(0)
    training = rng.normal(size=(200, 8))
    own = training[:3]  # the target's three training images
    fresh = rng.normal(size=(24, 8)) * 1.5
    assert copying(fresh, own, training, "instrument-injection-needle").passed
    copies = np.vstack([own[rng.integers(0, 3, 20)] + 1e-6, fresh[:4]])
    guard = copying(copies, own, training, "instrument-injection-needle")
    assert not guard.passed and guard.figures["near_copies"] == 20 and guard.figures["training_images"] == 3
    assert "20 of 24 renders are near copies of its 3 training image(s)" in guard.detail


def test_a_tuned_model_less_realistic_than_the_base_fails():
    assert realism(0.010, 0.010 * MAX_KID_RATIO).passed
    guard = realism(0.010, 0.012)
    assert not guard.passed and guard.figures["ratio"] == pytest.approx(1.2)
    assert realism(0.0, 0.0).passed and not realism(0.0, 0.001).passed
