"""Features of a list of image files, cached on disk by what the images are and the backbone.

Fitting a probe or an aligner re-reads the same dataset many times while its settings change, and every realism
score compares with the same reference set; the image features are the only slow part (InceptionV3 at 299×299 on a
CPU costs tens to hundreds of milliseconds per image), so they are computed once per (images, backbone).

The key is the set's identity: by default `promptopt.core.image_identity.images_hash` (decoded pixels in list order, not
file names or encoded bytes), so a copied, moved or re-encoded set hits the cache and a changed image misses it.
A set made by a deterministic recipe (a GI-sim reference set) may pass the recipe as its identity instead: its
pixels can differ in the last bit between CPUs (numpy's SIMD maths), while its features agree to float precision.
The GI-sim reference sets' features ship with promptopt (`scorers.assets`) under the same names.
Features are returned as float32 whether they come from the cache or not, so results do not depend on it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from promptopt.core.atomic import write_bytes
from promptopt.core.image_identity import images_hash
from promptopt.core.images import load_images
from promptopt.scorers.assets import shipped_features

FeatureFn = Callable[[Sequence[Image.Image]], np.ndarray]


def cache_name(backbone: str, identity: str) -> str:
    """The file name of the features of the image set `identity` under `backbone`."""
    return f"{backbone}-{identity}.npy"


def image_features(
    paths: Sequence[Path],
    features: FeatureFn,
    *,
    backbone: str,
    cache_dir: Path | None,
    identity: str | None = None,
    chunk: int = 32,
    on_chunk: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(len(paths), d) float32 features of the images, row i for paths[i].

    `identity` names the set (default: `images_hash(paths)`, computed only when there is a cache dir: shipped
    features are named by recipe identities). `on_chunk(k)` is called after each chunk of k images is done (for a
    progress bar); a cache hit calls it once with len(paths).
    """
    if not paths:
        raise ValueError("no image paths given: pass at least one image file")
    key = identity or (images_hash(paths) if cache_dir is not None else None)
    name = cache_name(backbone, key) if key is not None else None
    for stored in _stored(name, cache_dir):
        cached = np.load(stored)
        if cached.shape[0] == len(paths):
            if on_chunk is not None:
                on_chunk(len(paths))
            return cached.astype(np.float32, copy=False)
    parts = []
    for start in range(0, len(paths), chunk):
        batch = paths[start : start + chunk]
        parts.append(np.asarray(features(load_images(batch)), dtype=np.float32))
        if on_chunk is not None:
            on_chunk(len(batch))
    feats = np.concatenate(parts)
    if cache_dir is not None and name is not None:
        save_array(cache_dir / "features" / name, feats)
    return feats


def _stored(name: str | None, cache_dir: Path | None) -> list[Path]:
    """Where features of that name already are: the shipped copy, then the cache dir's."""
    if name is None:
        return []
    places = [shipped_features(name), cache_dir / "features" / name if cache_dir is not None else None]
    return [path for path in places if path is not None and path.is_file()]


def save_array(target: Path, array: np.ndarray) -> None:
    """`np.save` to `target`, atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_bytes(target, buffer.getvalue())
