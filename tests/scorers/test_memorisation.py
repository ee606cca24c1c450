import numpy as np
import pytest
from scipy.spatial.distance import cdist

import promptopt.scorers.prdc as prdc_module
from promptopt.scorers.memorisation import near_copies, nearest_reference, reference_neighbour_distances


def _reference() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(200, 16))


def test_nearest_reference_equals_brute_force(monkeypatch):
    reference, fake = _reference(), np.random.default_rng(1).normal(size=(30, 16))
    monkeypatch.setattr(prdc_module, "MAX_BLOCK", 100)
    distances, indices = nearest_reference(fake, reference)
    full = cdist(fake, reference)
    np.testing.assert_array_equal(indices, full.argmin(axis=1))
    np.testing.assert_allclose(distances, full.min(axis=1), rtol=1e-12)


def test_reference_neighbour_distances_leave_the_point_out():
    full = cdist(_reference(), _reference())
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(reference_neighbour_distances(_reference()), full.min(axis=1), rtol=1e-12)


def test_exact_copy_is_flagged_and_a_new_sample_is_not():
    reference = _reference()
    new = np.random.default_rng(2).normal(size=(1, 16))
    fake = np.vstack([new, reference[7], reference[3] + 1e-6])
    out = near_copies(fake, reference)
    np.testing.assert_array_equal(out.indices, [1, 2])
    np.testing.assert_array_equal(out.reference_indices, [7, 3])
    assert out.distances[0] == 0.0 and out.distances[1] == pytest.approx(4e-6)
    assert out.threshold == pytest.approx(np.percentile(reference_neighbour_distances(reference), 1.0))
    assert nearest_reference(new, reference)[0][0] > out.threshold


def test_bad_percentile_and_reference():
    with pytest.raises(ValueError, match="percentile"):
        near_copies(_reference()[:3], _reference(), percentile=101)
    with pytest.raises(ValueError, match="at least 2 reference rows"):
        near_copies(_reference()[:3], _reference()[:1])
