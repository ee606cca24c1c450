"""The offline scorers shipped for the GI-sim world (`scorers/gi-sim/`, see its README.md): a classifier and
an aligner fitted on GI-sim with `promptopt fit`, and Inception features of the GI-sim reference sets.

The feature files are named exactly as the on-disk feature caches name them (`scorers.features_cache.cache_name`:
backbone + the set's identity, here the GI-sim recipe that made it), so every machine that builds a GI-sim
reference set finds its features here, however its PNG encoder or its CPU's maths wrote the pixels.
"""

from __future__ import annotations

from pathlib import Path

GI_SIM = "gi-sim"
SHIPPED_DIR = Path(__file__).resolve().parent / GI_SIM
FITTED = {"classifier": "classifier.safetensors", "aligner": "aligner.safetensors"}


def shipped_model(kind: str) -> Path:
    """The shipped fitted `classifier` or `aligner`; FileNotFoundError with the fix when the install lacks it."""
    path = SHIPPED_DIR / FITTED[kind]
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped GI-sim {kind} {path} is missing: reinstall promptopt (pip install -e .) or fit one with "
            f"`promptopt fit {kind} --data gi-sim --out FILE`"
        )
    return path


def shipped_features(cache_name: str) -> Path | None:
    """The shipped copy of the feature cache file `cache_name` (e.g. `inception-...-gi-sim-polyp-200x64-<key>.npy`),
    if any."""
    path = SHIPPED_DIR / "features" / cache_name
    return path if path.is_file() else None
