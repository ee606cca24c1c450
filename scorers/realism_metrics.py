"""Pure set-level realism metrics on feature arrays: Fréchet distance and kernel inception distance (KID).

Both follow torchmetrics' definitions (`FrechetInceptionDistance`, `KernelInceptionDistance`) and are tested
against them. Inputs are float64 arrays of shape (N, D).
"""

from __future__ import annotations

import numpy as np


def mean_cov(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (N - 1 in the denominator) of (N, D) features."""
    if len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {len(features)}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖mu1 − mu2‖² + tr(S1) + tr(S2) − 2 tr((S1 S2)^½), the trace term from the eigenvalues of S1 S2."""
    diff = float(np.sum((mu1 - mu2) ** 2))
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2)
    trace_sqrt = float(np.sqrt(eigenvalues.astype(np.complex128)).real.sum())
    return diff + float(np.trace(sigma1) + np.trace(sigma2)) - 2.0 * trace_sqrt


def frechet_distance_features(a: np.ndarray, b: np.ndarray) -> float:
    """`frechet_distance` of the Gaussians fitted to feature sets a (m, D) and b (n, D), without D×D eigenproblems
    when a set has fewer rows than D.

    With X, Y the centred sets, S_a = XᵀX/(m−1) and S_b = YᵀY/(n−1), the non-zero eigenvalues of S_a S_b are those
    of the small symmetric PSD matrix (Y Xᵀ)(X Yᵀ)/((m−1)(n−1)) (eig(AB) = eig(BA) away from 0), so
    tr((S_a S_b)^½) costs O(mnD) instead of the O(D³) general eigenproblem. With both sets larger than D
    it falls back to `frechet_distance`.
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least 2 feature vectors on each side, got {len(a)} and {len(b)}")
    if min(len(a), len(b)) >= a.shape[1]:
        return frechet_distance(*mean_cov(a), *mean_cov(b))
    x, y = a - a.mean(axis=0), b - b.mean(axis=0)
    if len(y) > len(x):
        x, y = y, x
    cross = y @ x.T
    eigenvalues = np.linalg.eigvalsh(cross @ cross.T / ((len(x) - 1) * (len(y) - 1)))
    trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    traces = float((x * x).sum() / (len(x) - 1) + (y * y).sum() / (len(y) - 1))
    diff = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2))
    return diff + traces - 2.0 * trace_sqrt


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """(x·y / D + coef) ** degree, the KID kernel."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> float:
    """Unbiased squared MMD between samples x (m, D) and y (n, D) under the polynomial kernel."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {m} and {n}")
    k_xx = polynomial_kernel(x, x, degree, coef)
    k_yy = polynomial_kernel(y, y, degree, coef)
    k_xy = polynomial_kernel(x, y, degree, coef)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID mean and standard deviation over random subsets (without replacement within a subset).

    Each side's subset size is `min(subset_size, len(side))`; when both sides fit in one subset the estimate is
    exact and computed once (standard deviation 0).
    """
    m, n = min(subset_size, len(real)), min(subset_size, len(fake))
    if m == len(real) and n == len(fake):
        return mmd2_unbiased(real, fake), 0.0
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            mmd2_unbiased(real[rng.choice(len(real), m, replace=False)], fake[rng.choice(len(fake), n, replace=False)])
            for _ in range(subsets)
        ]
    )
    return float(values.mean()), float(values.std())


def kid_summary(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """KID with its subset standard deviation and standard error, on one subset size for both sides.

    The subset size is s = min(subset_size, len(real), len(fake)), the same on both sides (as torchmetrics
    requires). When s covers both sets the unbiased MMD² is computed once on everything: kid_std = kid_se = 0.
    Otherwise kid is the mean of `subsets` unbiased MMD² values on subsets drawn without replacement,
    kid_std their standard deviation (ddof 0, as torchmetrics) and kid_se = kid_std / sqrt(subsets), the
    Monte-Carlo standard error of that mean around the MMD² of the full sets (it leaves out the sampling error
    of the sets themselves).
    """
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    size = min(subset_size, len(real), len(fake))
    exact = size == len(real) == len(fake)
    kid_mean, kid_std = kid(real, fake, subsets=subsets, subset_size=size, seed=seed)
    return {
        "kid": kid_mean,
        "kid_std": kid_std,
        "kid_se": 0.0 if exact else kid_std / float(np.sqrt(subsets)),
        "subset_size": float(size),
        "n_real": float(len(real)),
        "n_fake": float(len(fake)),
    }
