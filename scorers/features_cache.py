"""Features of a list of image files (a dataset's images), cached on disk by content hash and backbone.

Fitting a probe or an aligner re-reads the same dataset many times while its settings change; the image
features are the only slow part (InceptionV3 at 299×299 on a CPU costs tens to hundreds of milliseconds per
image), so they are computed once per (image bytes, backbone). The key hashes the files' bytes in list order,
not their names, so a copied or moved dataset hits the cache and a changed image misses it.
Features are returned as float32 whether they come from the cache or not, so results do not depend on it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from scorers.atomic_file import write_atomic
from scorers.images import load_images

FeatureFn = Callable[[Sequence[Image.Image]], np.ndarray]


def files_hash(paths: Sequence[Path]) -> str:
    """A hash of the files' bytes in order (each file's digest, so file boundaries count)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()[:24]


def cache_file(paths: Sequence[Path], backbone: str, cache_dir: Path) -> Path:
    return cache_dir / "features" / f"{backbone}-files-{files_hash(paths)}.npy"


def image_features(
    paths: Sequence[Path],
    features: FeatureFn,
    *,
    backbone: str,
    cache_dir: Path | None,
    chunk: int = 32,
    on_chunk: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(len(paths), d) float32 features of the images, row i for paths[i].

    `on_chunk(k)` is called after each chunk of k images is done (for a progress bar); a cache hit calls it
    once with len(paths).
    """
    if not paths:
        raise ValueError("no image paths given: pass at least one image file")
    target = cache_file(paths, backbone, cache_dir) if cache_dir is not None else None
    if target is not None and target.is_file():
        cached = np.load(target)
        if cached.shape[0] == len(paths):
            if on_chunk is not None:
                on_chunk(len(paths))
            return cached
    parts = []
    for start in range(0, len(paths), chunk):
        batch = paths[start : start + chunk]
        parts.append(np.asarray(features(load_images(batch)), dtype=np.float32))
        if on_chunk is not None:
            on_chunk(len(batch))
    feats = np.concatenate(parts)
    if target is not None:
        save_array(target, feats)
    return feats


def save_array(target: Path, array: np.ndarray) -> None:
    """`np.save` to `target`, atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_atomic(target, buffer.getvalue())
