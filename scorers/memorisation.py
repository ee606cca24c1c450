"""Memorisation: generated samples that are near copies of reference (training) samples, in feature space.

Rule: a generated sample is a near copy when the Euclidean distance to its nearest reference sample is at most
the `percentile`-th percentile (default the 1st) of the reference set's leave-one-out nearest-neighbour distances,
i.e. it sits closer to a training image than all but `percentile` % of training images sit to one another. An
exact copy (distance 0) is always flagged. Inputs are float64 arrays of shape (N, D).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptopt.scorers.prdc import distance_blocks


def nearest_reference(fake: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `fake`, the Euclidean distance to its nearest row of `reference` and that row's index.

    The search is brute force; the returned distance is recomputed directly as ‖fake_i − reference_j‖, so an
    exact copy reports 0.
    """
    if len(reference) < 1:
        raise ValueError("the reference set is empty; memorisation needs reference (training) features")
    indices = np.empty(len(fake), dtype=np.int64)
    for rows, block in distance_blocks(fake, reference):
        indices[rows] = block.argmin(axis=1)
    return np.linalg.norm(fake - reference[indices], axis=1), indices


def reference_neighbour_distances(reference: np.ndarray) -> np.ndarray:
    """Leave-one-out nearest-neighbour distance of each reference row: min over j ≠ i of ‖r_i − r_j‖."""
    if len(reference) < 2:
        raise ValueError(f"leave-one-out distances need at least 2 reference rows, got {len(reference)}")
    indices = np.empty(len(reference), dtype=np.int64)
    for rows, block in distance_blocks(reference, reference):
        block[np.arange(block.shape[0]), np.arange(rows.start, rows.stop)] = np.inf
        indices[rows] = block.argmin(axis=1)
    return np.linalg.norm(reference - reference[indices], axis=1)


@dataclass(frozen=True)
class NearCopies:
    """Flagged generated rows, their nearest-reference distances and indices, and the threshold used."""

    indices: np.ndarray
    distances: np.ndarray
    reference_indices: np.ndarray
    threshold: float


def near_copies(fake: np.ndarray, reference: np.ndarray, *, percentile: float = 1.0) -> NearCopies:
    """Generated rows whose nearest-reference distance is <= the `percentile`-th percentile (numpy's linear
    interpolation) of the reference's leave-one-out nearest-neighbour distances."""
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must lie in [0, 100], got {percentile}")
    threshold = float(np.percentile(reference_neighbour_distances(reference), percentile))
    distances, indices = nearest_reference(fake, reference)
    flagged = np.flatnonzero(distances <= threshold)
    return NearCopies(flagged, distances[flagged], indices[flagged], threshold)
