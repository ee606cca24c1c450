import numpy as np
import pytest
import torch
from torchmetrics.image.fid import _compute_fid
from torchmetrics.image.kid import maximum_mean_discrepancy, poly_kernel

from promptopt.scorers.realism_metrics import frechet_distance, frechet_distance_features, kid, mean_cov, mmd2_unbiased


def _features(seed: int, n: int = 60, d: int = 16, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3 + shift


def test_frechet_distance_equals_torchmetrics():
    a, b = _features(0), _features(1, shift=0.5)
    mu1, s1 = mean_cov(a)
    mu2, s2 = mean_cov(b)
    ours = frechet_distance(mu1, s1, mu2, s2)
    theirs = float(_compute_fid(*(torch.from_numpy(x) for x in (mu1, s1, mu2, s2))))
    assert ours == pytest.approx(theirs, rel=1e-6)


def test_frechet_distance_matches_closed_form_for_gaussians():
    # For N(m1, a² I) and N(m2, b² I) in D dims: |m1 - m2|² + D (a - b)².
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = np.eye(d) * 4.0, np.eye(d) * 1.0
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(d * 0.25 + d * (2.0 - 1.0) ** 2)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    mu, s = mean_cov(_features(3))
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)


def test_mmd_equals_torchmetrics_for_equal_sizes():
    a, b = _features(0, n=30), _features(1, n=30, shift=0.2)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    theirs = maximum_mean_discrepancy(poly_kernel(ta, ta), poly_kernel(ta, tb), poly_kernel(tb, tb))
    assert mmd2_unbiased(a, b) == pytest.approx(float(theirs), rel=1e-9)


def test_kid_equals_torchmetrics_metric_when_one_subset_holds_everything():
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = _features(0, n=20), _features(5, n=20, shift=0.3)
    metric = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=3, subset_size=20, normalize=True)
    metric.update(torch.from_numpy(a).double(), real=True)
    metric.update(torch.from_numpy(b).double(), real=False)
    theirs_mean, _ = metric.compute()
    ours_mean, ours_std = kid(a, b, subset_size=20)
    assert ours_mean == pytest.approx(float(theirs_mean), rel=1e-6)
    assert ours_std == 0.0


def test_kid_separates_shifted_sets_and_is_seeded():
    ref = _features(0, n=200)
    near, far = _features(1, n=8), _features(2, n=8, shift=1.0)
    assert kid(ref, near, subset_size=50)[0] < kid(ref, far, subset_size=50)[0]
    assert kid(ref, near, subset_size=50, seed=7) == kid(ref, near, subset_size=50, seed=7)


def test_kid_needs_two_samples_per_side():
    with pytest.raises(ValueError, match="at least 2"):
        mmd2_unbiased(_features(0, n=1), _features(1, n=5))


@pytest.mark.parametrize(("m", "n"), [(50, 8), (9, 40), (12, 12), (80, 90)])
def test_frechet_distance_features_equals_torchmetrics_with_and_without_the_gram_shortcut(m, n):
    # d = 64: (50, 8), (9, 40), (12, 12) take the small-Gram path, (80, 90) the D×D path
    a, b = _features(0, n=m, d=64), _features(1, n=n, d=64, shift=0.3)
    theirs = float(_compute_fid(*(torch.from_numpy(x) for x in (*mean_cov(a), *mean_cov(b)))))
    assert frechet_distance_features(a, b) == pytest.approx(theirs, rel=1e-6)
