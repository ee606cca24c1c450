import numpy as np
import pytest

from promptopt.scorers.realism_metrics import kid, kid_summary, mmd2_unbiased


def _features(seed: int, n: int, d: int = 16, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * 0.5 + shift


def test_exact_when_one_subset_holds_both_sets():
    a, b = _features(0, 30), _features(1, 30, shift=0.2)
    out = kid_summary(a, b, subset_size=100)
    assert out == {
        "kid": pytest.approx(mmd2_unbiased(a, b), rel=1e-12),
        "kid_std": 0.0,
        "kid_se": 0.0,
        "subset_size": 30.0,
        "n_real": 30.0,
        "n_fake": 30.0,
    }


def test_subset_size_adapts_to_the_smaller_set():
    a, b = _features(0, 80), _features(1, 25, shift=0.2)
    out = kid_summary(a, b, subsets=20, subset_size=50, seed=3)
    assert out["subset_size"] == 25.0 and out["n_real"] == 80.0 and out["n_fake"] == 25.0
    assert (out["kid"], out["kid_std"]) == kid(a, b, subsets=20, subset_size=25, seed=3)
    assert out["kid_se"] == pytest.approx(out["kid_std"] / np.sqrt(20))
    assert out["kid_se"] > 0


def test_subset_mean_lies_within_a_few_standard_errors_of_the_full_set_value():
    # Each subset's unbiased MMD² has the full-set U-statistic as its expectation, so kid_se measures the
    # Monte-Carlo error of the subset mean around it.
    a, b = _features(4, 120), _features(5, 90, shift=0.1)
    out = kid_summary(a, b, subsets=200, subset_size=30, seed=0)
    assert abs(out["kid"] - mmd2_unbiased(a, b)) < 4 * out["kid_se"]


def test_rejects_empty_subset_settings():
    with pytest.raises(ValueError, match="subsets >= 1"):
        kid_summary(_features(0, 10), _features(1, 10), subsets=0)
