"""Realism of a batch against a reference image folder: KID on InceptionV3 pool features.

Per trial only KID is reported: it is unbiased for small batches, while FID on a handful of images is dominated
by its bias. FID and KID on whole exported sets come from `set_realism`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from promptopt.core.errors import InputError
from promptopt.core.images import image_files
from promptopt.scorers.features_cache import image_features
from promptopt.scorers.realism_metrics import frechet_distance_features, kid

FeatureFn = Callable[[Sequence[Image.Image]], np.ndarray]


def reference_features(
    folder: Path,
    features: FeatureFn,
    *,
    backbone: str,
    cache_dir: Path | None,
    identity: str | None = None,
    chunk: int = 64,
) -> np.ndarray:
    """Float64 features of every image under `folder`, from the one feature cache (`scorers.features_cache`:
    keyed by the set's pixels, or by `identity` for a set made by a recipe; shipped for the GI-sim reference
    sets). Inception's features are float32 values, so nothing is lost in the cache."""
    files = image_files(folder)
    if len(files) < 2:
        raise InputError(
            f"reference folder {folder} holds {len(files)} images; realism needs at least 2 (more is better)"
        )
    feats = image_features(files, features, backbone=backbone, cache_dir=cache_dir, identity=identity, chunk=chunk)
    return feats.astype(np.float64)


def set_realism(real: np.ndarray, fake: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """FID and KID (mean, std) of two feature sets, with their sizes."""
    kid_mean, kid_std = kid(real, fake, seed=seed)
    return {
        "fid": frechet_distance_features(real, fake),
        "kid": kid_mean,
        "kid_std": kid_std,
        "n_real": float(len(real)),
        "n_fake": float(len(fake)),
    }


class RealismScorer:
    """KID of each batch against fixed reference features (lower is better)."""

    name = "realism"
    metrics = {"kid": False}

    def __init__(self, reference: np.ndarray, features: FeatureFn, *, subset_size: int = 100, seed: int = 0):
        self.reference = reference
        self.features = features
        self.subset_size = subset_size
        self.seed = seed

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        fake = self.features(images)
        kid_mean, _ = kid(self.reference, fake, subset_size=self.subset_size, seed=self.seed)
        return {"kid": kid_mean}
