"""Precision, recall, density and coverage of a generated feature set against a real one.

Precision and recall follow Kynkäänniemi et al. 2019 (k-NN manifolds); density and coverage follow Naeem et al.
2020, "Reliable Fidelity and Diversity Metrics for Generative Models", and are tested against that paper's `prdc`
package. Distances are exact (brute force, no approximate search) Euclidean distances, computed in row blocks
so that no distance block larger than `MAX_BLOCK` entries is held at once. Inputs are float64 arrays of shape (N, D).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

MAX_BLOCK = 2**24


def euclidean_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖x_i − y_j‖ for every row pair, an (N, M) array.

    Computed as sqrt(max(‖x_i‖² + ‖y_j‖² − 2 x_i·y_j, 0)) in float64, the Gram expansion that scikit-learn uses;
    absolute error on d² is about 1e-16 (‖x_i‖² + ‖y_j‖²).
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be 2-D arrays (N, D) with the same D, got shapes {x.shape} and {y.shape}")
    squared = (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :] - 2.0 * (x @ y.T)
    return np.sqrt(np.maximum(squared, 0.0))


def distance_blocks(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """`euclidean_distances(x, y)` in consecutive blocks of rows of x: (rows of x, block of distances)."""
    step = max(1, MAX_BLOCK // max(1, len(y)))
    for start in range(0, len(x), step):
        rows = slice(start, min(start + step, len(x)))
        yield rows, euclidean_distances(x[rows], y)


def kth_neighbour_distances(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row of x (the row itself excluded)."""
    if not 1 <= k < len(x):
        raise ValueError(f"the k-th nearest neighbour needs 1 <= k < number of samples, got k={k} for {len(x)}")
    out = np.empty(len(x))
    for rows, block in distance_blocks(x, x):
        block[np.arange(block.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
        out[rows] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return out


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` (M, D) against `real` (N, D).

    With B(x, r) the open ball of radius r around x and NND_k(x) the distance from x to its k-th nearest
    neighbour within its own set:
    - precision = (1/M) Σ_j 1[∃ i: fake_j ∈ B(real_i, NND_k(real_i))]  (fidelity)
    - recall    = (1/N) Σ_i 1[∃ j: real_i ∈ B(fake_j, NND_k(fake_j))]  (diversity)
    - density   = (1/kM) Σ_j Σ_i 1[fake_j ∈ B(real_i, NND_k(real_i))]  (fidelity; 1 on average for matching sets)
    - coverage  = (1/N) Σ_i 1[∃ j: fake_j ∈ B(real_i, NND_k(real_i))]  (diversity)
    """
    if not (1 <= k < len(real) and k < len(fake)):
        raise ValueError(
            f"prdc with k={k} needs more than k samples in each set, got {len(real)} real and {len(fake)} fake; "
            "lower k or add samples"
        )
    real_radii = kth_neighbour_distances(real, k)
    fake_radii = kth_neighbour_distances(fake, k)
    balls_per_fake = np.zeros(len(fake))
    real_covered = np.empty(len(real), dtype=bool)
    real_recalled = np.empty(len(real), dtype=bool)
    for rows, block in distance_blocks(real, fake):
        inside_real_ball = block < real_radii[rows, None]
        balls_per_fake += inside_real_ball.sum(axis=0)
        real_covered[rows] = inside_real_ball.any(axis=1)
        real_recalled[rows] = (block < fake_radii[None, :]).any(axis=1)
    return {
        "precision": float((balls_per_fake > 0).mean()),
        "recall": float(real_recalled.mean()),
        "density": float(balls_per_fake.mean() / k),
        "coverage": float(real_covered.mean()),
    }
