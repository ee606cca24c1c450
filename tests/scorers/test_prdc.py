import numpy as np
import pytest
from prdc import compute_prdc
from scipy.spatial.distance import cdist

import promptopt.scorers.prdc as prdc_module
from promptopt.scorers.prdc import euclidean_distances, kth_neighbour_distances, prdc


def _gaussian(seed: int, n: int, d: int = 8, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale + shift


def test_euclidean_distances_equal_scipy():
    a, b = _gaussian(0, 30), _gaussian(1, 20, shift=3.0)
    np.testing.assert_allclose(euclidean_distances(a, b), cdist(a, b), rtol=1e-12)


@pytest.mark.parametrize(
    ("n_real", "n_fake", "k", "shift", "scale"),
    [(200, 200, 5, 0.0, 1.0), (150, 90, 3, 0.5, 1.0), (120, 160, 10, 0.0, 0.6), (100, 100, 1, 1.5, 1.4)],
)
def test_prdc_equals_reference_package(n_real, n_fake, k, shift, scale):
    real, fake = _gaussian(10, n_real), _gaussian(11, n_fake, shift=shift, scale=scale)
    ours = prdc(real, fake, k=k)
    theirs = compute_prdc(real, fake, k)
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(float(value), abs=1e-9), name


def test_blocked_computation_equals_one_block(monkeypatch):
    real, fake = _gaussian(2, 70), _gaussian(3, 50, shift=0.4)
    whole = prdc(real, fake, k=4)
    monkeypatch.setattr(prdc_module, "MAX_BLOCK", 7)
    assert prdc(real, fake, k=4) == whole


def test_identical_sets_score_one():
    real = _gaussian(4, 40)
    out = prdc(real, real.copy(), k=3)
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0


def test_far_away_fake_set_scores_zero():
    out = prdc(_gaussian(5, 40), _gaussian(6, 40, shift=1000.0), k=3)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_hand_computed_line():
    # Real points 0, 1, 2, 3 on a line have k=1 radius 1; fake 0.5 lies in the balls of 0 and 1, fake 10 in none.
    # The fake radius is 9.5 (the distance 0.5 -> 10), so every real point lies in the ball around 0.5.
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0]])
    assert prdc(real, fake, k=1) == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.5}


def test_kth_neighbour_excludes_the_point_itself():
    np.testing.assert_allclose(kth_neighbour_distances(np.array([[0.0], [1.0], [3.0]]), 2), [3.0, 2.0, 3.0])


def test_k_must_be_below_both_set_sizes():
    with pytest.raises(ValueError, match="k=5 needs more than k samples"):
        prdc(_gaussian(0, 5), _gaussian(1, 20), k=5)
    with pytest.raises(ValueError, match="lower k"):
        prdc(_gaussian(0, 20), _gaussian(1, 3), k=3)


def test_feature_shapes_must_match():
    with pytest.raises(ValueError, match="same D"):
        prdc(_gaussian(0, 20, d=4), _gaussian(1, 20, d=5), k=3)
