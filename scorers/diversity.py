"""Diversity of generated images (feature spread) and of prompt sets (embedding spread).

Pure functions on float64 feature arrays of shape (N, D); `DiversityScorer` only holds the feature network.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
from PIL import Image

from promptopt.scorers.prdc import distance_blocks
from promptopt.scorers.realism import FeatureFn

Metric = Literal["euclidean", "cosine"]


def mean_pairwise_distance(features: np.ndarray, *, metric: Metric = "euclidean") -> float:
    """Mean distance over the N(N − 1)/2 distinct pairs of rows of `features` (N, D).

    euclidean: ‖f_i − f_j‖; cosine: 1 − f_i·f_j / (‖f_i‖ ‖f_j‖).
    """
    n = len(features)
    if features.ndim != 2 or n < 2:
        raise ValueError(f"pairwise distance needs a 2-D array with at least 2 rows, got shape {features.shape}")
    if metric == "cosine":
        norms = np.linalg.norm(features, axis=1)
        if (norms == 0).any():
            raise ValueError("cosine distance is undefined for an all-zero feature vector; drop it or use euclidean")
        # Σ_{i≠j} u_i·u_j = ‖Σ_i u_i‖² − N for unit vectors u_i.
        total = (features / norms[:, None]).sum(axis=0)
        return 1.0 - float((total @ total - n) / (n * (n - 1)))
    if metric != "euclidean":
        raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")
    total = 0.0
    for rows, block in distance_blocks(features, features):
        block[np.arange(block.shape[0]), np.arange(rows.start, rows.stop)] = 0.0
        total += float(block.sum())
    return total / (n * (n - 1))


def within_and_across(
    features: np.ndarray, groups: Sequence[Hashable], *, metric: Metric = "euclidean"
) -> dict[str, float]:
    """Diversity within each prompt's batch and across the whole set.

    within: the mean pairwise distance inside each group (rows sharing a label in `groups`, e.g. the prompt),
    averaged over groups with equal weight; across: the mean pairwise distance over all rows regardless of group.
    Every group needs at least 2 rows.
    """
    if len(groups) != len(features):
        raise ValueError(f"groups has {len(groups)} labels for {len(features)} feature rows; give one per row")
    members: dict[Hashable, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    small = [g for g, idx in members.items() if len(idx) < 2]
    if small:
        raise ValueError(f"within-group diversity needs at least 2 rows per group; groups with fewer: {small[:5]}")
    within = [mean_pairwise_distance(features[idx], metric=metric) for idx in members.values()]
    return {"within": float(np.mean(within)), "across": mean_pairwise_distance(features, metric=metric)}


def prompt_set_diversity(embeddings: np.ndarray) -> float:
    """1 − mean cosine similarity over distinct pairs of prompt embeddings (N, D)."""
    return mean_pairwise_distance(embeddings, metric="cosine")


class DiversityScorer:
    """Mean pairwise distance of a batch's image features (higher is more diverse)."""

    name = "diversity"
    metrics = {"diversity": True}

    def __init__(self, features: FeatureFn, *, metric: Metric = "euclidean"):
        self.features = features
        self.metric = metric

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        return {"diversity": mean_pairwise_distance(self.features(images), metric=self.metric)}
