"""The guards a tuned model must pass: each made to fail by a tuned model that forgets, copies, or loses realism."""

import numpy as np
import pytest

from promptopt.loop.audit import AuditRow
from promptopt.loop.guards import MAX_KID_RATIO, copying, forgetting, realism


def _row(clause: str, rate: float, checkable: bool = True) -> AuditRow:
    hits = round(rate * 20)
    return AuditRow(clause, f"p {clause}", 20, hits, hits / 20, 0.0, 1.0, rate, checkable, "")


BASE = [_row("tube", 1.0), _row("polyp", 0.9), _row("metal clip", 0.0), _row("text", 0.8, checkable=False)]


def test_a_tuned_model_that_keeps_what_the_base_drew_passes():
    tuned = [_row("tube", 0.95), _row("polyp", 0.85), _row("metal clip", 0.7), _row("text", 0.1, checkable=False)]
    guard = forgetting(BASE, tuned)
    assert guard.passed and guard.figures["drawn_by_base"] == 2  # an unchecked clause is no evidence either way


@pytest.mark.parametrize(("polyp", "why"), [(0.45, "below 0.5"), (0.75, "more than 0.1 below its base rate")])
def test_a_tuned_model_that_forgets_fails(polyp, why):
    tuned = [_row("tube", 1.0), _row("polyp", polyp), _row("metal clip", 0.9), _row("text", 0.8, checkable=False)]
    guard = forgetting(BASE, tuned)
    assert not guard.passed, why
    assert guard.figures["forgotten"] == [{"clause": "polyp", "base": 0.9, "tuned": polyp}]
    assert "polyp 0.90 → " in guard.detail


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
