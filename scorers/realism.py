"""Realism of a batch against a reference image folder: KID on InceptionV3 pool features.

Per trial only KID is reported: it is unbiased for small batches, while FID on a handful of images is dominated
by its bias. FID and KID on whole exported sets come from `set_realism`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from scorers.features_cache import save_array
from scorers.images import image_files, load_images
from scorers.realism_metrics import frechet_distance_features, kid
from scorers.shipped import shipped_features

FeatureFn = Callable[[Sequence[Image.Image]], np.ndarray]


def folder_hash(files: Sequence[Path], root: Path) -> str:
    """A content hash of an image set: relative paths and bytes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def reference_features(
    folder: Path, features: FeatureFn, *, backbone: str, cache_dir: Path | None, chunk: int = 64
) -> np.ndarray:
    """Features of every image under `folder`, cached on disk by content hash of the set and backbone (or shipped
    with promptopt for the GI-sim reference sets: `scorers.shipped`)."""
    files = image_files(folder)
    if len(files) < 2:
        raise FileNotFoundError(
            f"reference folder {folder} holds {len(files)} images; realism needs at least 2 (more is better)"
        )
    name = f"{backbone}-{folder_hash(files, folder)}.npy"
    shipped = shipped_features(name)
    if shipped is not None:  # stored as float32: Inception's float64 features are float32 values, exactly
        return np.load(shipped).astype(np.float64)
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / "features" / name
        if cache_file.is_file():
            return np.load(cache_file)
    feats = np.concatenate([features(load_images(files[i : i + chunk])) for i in range(0, len(files), chunk)])
    if cache_file is not None:
        save_array(cache_file, feats)
    return feats


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
