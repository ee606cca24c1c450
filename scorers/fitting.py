"""What the fitted scorers (the judge, the attribute classifier and the aligner) share: a seeded held-out split by
image, feature standardisation, AUROC, their files (safetensors tensors + a JSON sidecar of metadata), and loading
one named by a spec (`load_fitted`: `gi-sim`, the one shipped with promptopt, or a .safetensors path).

A model is saved as `NAME.safetensors` (every tensor, standardisation included, so nothing numeric is lost to
JSON) and `NAME.json` (what it is: kind, attributes or encoders, backbone, metrics, data hash, settings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core.atomic import write_bytes
from promptopt.core.errors import InputError
from promptopt.scorers.assets import GI_SIM, shipped_model

WEIGHTS_SUFFIX = ".safetensors"
STD_FLOOR = 1e-6  # some Inception pool features are near-constant on a small set


def holdout_split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, held_out) indices of a seeded random split; held_out has round(n * holdout) >= 1 items."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1 (exclusive), got {holdout}")
    n_out = round(n * holdout)
    if n_out < 1 or n - n_out < 1:
        raise ValueError(f"{n} items cannot be split with holdout {holdout}: use more items or another holdout")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_out:]), np.sort(order[:n_out])


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the thread count.

    The probes' matrices are small (thousands of rows, a few thousand columns), so a training step is a
    handful of tiny matmuls; with two or more threads on a shared, loaded CPU each op waits for a descheduled
    worker (measured here: 40 ms per 256×64 matmul with 2 threads, 0.3 ms with 1).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (floored) of training features, float32."""
    mean = features.mean(axis=0, dtype=np.float64)
    std = np.maximum(features.std(axis=0, dtype=np.float64), STD_FLOOR)
    return mean.astype(np.float32), std.astype(np.float32)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties half).
    ValueError when `labels` hold one class only."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUROC needs both classes, got {n_pos} positives and {n_neg} negatives")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def data_hash(*arrays: np.ndarray) -> str:
    """A hash of the data a model was fitted on (the arrays' dtype, shape and bytes)."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:20]


def model_paths(path: Path) -> tuple[Path, Path]:
    """(weights, metadata) for a path ending in .safetensors or .json."""
    path = Path(path)
    if path.suffix not in (WEIGHTS_SUFFIX, ".json"):
        raise ValueError(f"model path {path} must end in {WEIGHTS_SUFFIX} (its metadata goes beside it as .json)")
    return path.with_suffix(WEIGHTS_SUFFIX), path.with_suffix(".json")


def save_model(path: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the weights, then the metadata, each atomically (a reader never sees half a file)."""
    from safetensors.torch import save

    weights, sidecar = model_paths(path)
    write_bytes(weights, save({k: v.contiguous() for k, v in tensors.items()}))
    write_bytes(sidecar, (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode())


def load_model(path: Path, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tensors and metadata of a saved model of `kind`; FileNotFoundError / ValueError say what is wrong."""
    from safetensors.torch import load

    weights, sidecar = model_paths(path)
    for file in (weights, sidecar):
        if not file.is_file():
            raise FileNotFoundError(f"{file} does not exist: fit a {kind} first (promptopt fit {kind})")
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    if meta.get("kind") != kind:
        raise ValueError(f"{sidecar} holds a {meta.get('kind')!r}, not a {kind!r}")
    return load(weights.read_bytes()), meta


def load_fitted(load: Callable[[Path], Any], model: str, kind: str, what: str) -> Any:
    """`load` applied to the model file `model` names; InputError (naming `what`, the flag or key) when it is
    missing or cannot be loaded."""
    if model == GI_SIM:
        model = str(shipped_model(kind))
    path = Path(model).expanduser()
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist: fit one with `promptopt fit {kind} --data DIR --out {path}`")
    from safetensors import SafetensorError

    try:
        return load(path)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as err:  # the last: a truncated file
        raise InputError(f"{what} {path} cannot be loaded ({err}): refit it") from None
