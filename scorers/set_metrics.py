"""Set-level metrics as rows: one number each, with its standard error, sample sizes, the network behind it, and
whether it is reliable at these sample sizes (and why not). `promptopt evaluate` prints them; export reuses the
PRDC and memorisation summaries.

Reliability thresholds (the reasons are in the notes the rows carry):
- FID: n below the feature dimension leaves the covariance rank-deficient and FID biased upwards.
- KID: unbiased at any n, but subsets smaller than KID_RELIABLE_SUBSET give a noisy mean (read the ± se).
- PRDC: k-NN radii shrink as n grows; below PRDC_RELIABLE_N the manifolds are coarse.
- IS: split size changes the score; the standard protocol is 50,000 images in 10 splits.
- memorisation: the 1st percentile of fewer than MEMORISATION_RELIABLE_N reference distances is near the minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

KID_SUBSETS, KID_SUBSET_SIZE, KID_RELIABLE_SUBSET = 100, 1000, 100
PRDC_K, PRDC_RELIABLE_N = 5, 1000
IS_SPLITS, IS_MIN_SPLIT, IS_RELIABLE_SPLIT = 10, 100, 5000
MEMORISATION_PERCENTILE, MEMORISATION_RELIABLE_N = 1.0, 100
DIVERSITY_REFERENCE_ROWS = 1000


@dataclass(frozen=True)
class MetricRow:
    """One number: value (None when not computed, with the reason in `note`) and its standard error.

    `backbone` names the network behind the number: the feature backbone for FID/KID/PRDC/diversity/memorisation,
    the IS network or classifier file for IS, the CLIP model for CLIP score. `reliable` is None when not computed.
    """

    metric: str
    value: float | None
    se: float | None
    n_generated: int
    n_reference: int | None
    backbone: str | None
    reliable: bool | None
    note: str


def fid_row(ref: np.ndarray, gen: np.ndarray, backbone: str) -> MetricRow:
    from promptopt.scorers.realism_metrics import frechet_distance_features

    dim, n = ref.shape[1], min(len(ref), len(gen))
    reliable = n >= dim
    note = "" if reliable else f"n={n} < {dim} feature dimensions: biased upwards, compare only at equal n"
    value = frechet_distance_features(ref, gen)
    return MetricRow("fid", value, None, len(gen), len(ref), backbone, reliable, note)


def kid_row(ref: np.ndarray, gen: np.ndarray, backbone: str, seed: int) -> MetricRow:
    from promptopt.scorers.realism_metrics import kid_summary

    s = kid_summary(ref, gen, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=seed)
    size = int(s["subset_size"])
    exact = size == len(ref) == len(gen)
    notes = []
    if size < KID_SUBSET_SIZE:
        notes.append(f"subset size adapted to {size} (< {KID_SUBSET_SIZE})")
    notes.append(
        "one exact estimate on all samples, no subset standard error"
        if exact
        else f"mean of {KID_SUBSETS} subsets, se = std/sqrt({KID_SUBSETS})"
    )
    if size < KID_RELIABLE_SUBSET:
        notes.append(f"unbiased but noisy below subset size {KID_RELIABLE_SUBSET}")
    se = None if exact else s["kid_se"]
    return MetricRow("kid", s["kid"], se, len(gen), len(ref), backbone, size >= KID_RELIABLE_SUBSET, "; ".join(notes))


def prdc_rows(ref: np.ndarray, gen: np.ndarray, backbone: str) -> list[MetricRow]:
    summary = prdc_summary(ref, gen)
    if "not_computed" in summary:
        return [MetricRow("prdc", None, None, len(gen), len(ref), backbone, None, summary["not_computed"])]
    reliable = min(len(ref), len(gen)) >= PRDC_RELIABLE_N
    note = f"k={PRDC_K}: k-NN radii shrink as n grows, compare only at equal n and k"
    if not reliable:
        note += f"; coarse below n={PRDC_RELIABLE_N} (Naeem et al. 2020 use 10,000)"
    return [
        MetricRow(name, summary[name], None, len(gen), len(ref), backbone, reliable, note if i == 0 else "")
        for i, name in enumerate(("precision", "recall", "density", "coverage"))
    ]


def prdc_summary(ref: np.ndarray, gen: np.ndarray) -> dict[str, Any]:
    """Precision, recall, density and coverage at k=PRDC_K, or why they cannot be computed."""
    from promptopt.scorers.prdc import prdc

    if min(len(ref), len(gen)) <= PRDC_K:
        return {
            "k": PRDC_K,
            "not_computed": f"PRDC with k={PRDC_K} needs more than {PRDC_K} images on each side, "
            f"got {len(gen)} generated and {len(ref)} reference",
        }
    return {"k": PRDC_K, **prdc(ref, gen, k=PRDC_K)}


def memorisation_summary(ref: np.ndarray, gen: np.ndarray) -> dict[str, Any]:
    """Near copies of reference images among the generated ones (scorers.memorisation's rule)."""
    from promptopt.scorers.memorisation import near_copies

    found = near_copies(gen, ref, percentile=MEMORISATION_PERCENTILE)
    return {
        "near_copies": len(found.indices),
        "fraction": len(found.indices) / len(gen),
        "threshold": found.threshold,
        "percentile": MEMORISATION_PERCENTILE,
    }


def memorisation_row(ref: np.ndarray, gen: np.ndarray, backbone: str) -> MetricRow:
    s = memorisation_summary(ref, gen)
    reliable = len(ref) >= MEMORISATION_RELIABLE_N
    note = (
        f"{s['near_copies']} of {len(gen)} generated images as close to a reference image as the closest "
        f"{MEMORISATION_PERCENTILE:g} % of reference pairs (distance <= {s['threshold']:.4g})"
    )
    if not reliable:
        note += f"; threshold from fewer than {MEMORISATION_RELIABLE_N} reference images is near their minimum"
    return MetricRow("memorisation", s["fraction"], None, len(gen), len(ref), backbone, reliable, note)


def diversity_row(ref: np.ndarray | None, gen: np.ndarray, backbone: str, seed: int) -> MetricRow:
    from promptopt.scorers.diversity import mean_pairwise_distance

    note = "mean pairwise Euclidean distance of generated features"
    if ref is not None:
        rows = ref
        if len(ref) > DIVERSITY_REFERENCE_ROWS:
            rows = ref[np.random.default_rng(seed).choice(len(ref), DIVERSITY_REFERENCE_ROWS, replace=False)]
        note += f"; reference: {mean_pairwise_distance(rows):.4g} (on {len(rows)} images)"
    return MetricRow("diversity", mean_pairwise_distance(gen), None, len(gen), None, backbone, True, note)


def is_splits(n: int) -> int:
    """IS_SPLITS splits, fewer when n is small (at least IS_MIN_SPLIT images a split, at least 2 splits)."""
    return max(2, min(IS_SPLITS, n // IS_MIN_SPLIT))


def is_row(metric: str, probs: np.ndarray, source: str, seed: int, extra_note: str = "") -> MetricRow:
    """IS over `probs` shuffled with a seeded generator (torchmetrics shuffles with the global torch RNG)."""
    from promptopt.scorers.inception_score import inception_score, torch_chunks

    n = len(probs)
    if n < 4:
        return MetricRow(metric, None, None, n, None, source, None, f"IS needs at least 4 images (2 splits), got {n}")
    splits = is_splits(n)
    mean, std = inception_score(probs[np.random.default_rng(seed).permutation(n)], splits=splits)
    chunks = len(torch_chunks(n, splits))
    smallest = min(r.stop - r.start for r in torch_chunks(n, splits))
    reliable = smallest >= IS_RELIABLE_SPLIT
    note = f"{chunks} splits of {smallest}+ images, se = std/sqrt({chunks})"
    if not reliable:
        note += f"; biased low on splits under {IS_RELIABLE_SPLIT} (standard: 50,000 images, 10 splits)"
    note += extra_note
    se = std / math.sqrt(chunks) if not math.isnan(std) else None
    return MetricRow(metric, mean, se, n, None, source, reliable, note)
