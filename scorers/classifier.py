"""A multi-label attribute probe on frozen image features: the downstream classifier of TSTR (`promptopt evaluate
tstr`, `promptopt fit classifier`). The search's judge is another model (`scorers.judge`).

The probe is logistic regression (`hidden=0`) or a one-hidden-layer MLP on standardised features (by default
the 2048-d InceptionV3 pool features), trained in torch with a masked binary cross-entropy: a label the data
leaves unknown (mask False) adds nothing to the loss and is left out of every metric. Training is AdamW
(decoupled weight decay on the weights, not the biases) over seeded mini-batches on one CPU thread, so a seed
gives the same weights.

Held-out metrics are per attribute: AUROC (rank-based, ties counted half), and recall, precision and F1 at
probability 0.5. An attribute whose held-out labels hold one class only
has no AUROC and is listed under `skipped` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.scorers.fitting import auroc, data_hash, load_model, one_thread, save_model, standardisation

KIND = "classifier"
THRESHOLD = 0.5


@dataclass(frozen=True)
class ProbeConfig:
    """How the probe is trained. `min_per_class`: an attribute is fitted only when the training labels hold at
    least this many known present and known absent images."""

    hidden: int = 0
    epochs: int = 100
    lr: float = 1e-2
    weight_decay: float = 0.1
    batch_size: int = 256
    seed: int = 0
    min_per_class: int = 3

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "min_per_class"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.hidden < 0:
            raise InputError(f"hidden must be 0 (logistic regression) or a layer width >= 1, got {self.hidden}")
        if self.lr <= 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise InputError(f"weight_decay must be >= 0, got {self.weight_decay}")


class NoTrainableAttributeError(InputError):
    """No attribute has enough known present and absent images to fit."""


@dataclass
class Classifier:
    """A fitted probe: `predict_proba(features) -> (n, len(attributes))` probabilities of presence."""

    attributes: tuple[str, ...]
    backbone: str
    mean: np.ndarray
    std: np.ndarray
    params: dict[str, Any]  # torch tensors: w0, b0 (and w1, b1 with a hidden layer)
    meta: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        import torch

        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"expected (n, {self.mean.shape[0]}) {self.backbone} features, got shape {features.shape}: "
                "use the backbone the classifier was fitted on"
            )
        x = torch.from_numpy(((features - self.mean) / self.std).astype(np.float32))
        with torch.inference_mode():
            return torch.sigmoid(_forward(self.params, x)).double().numpy()

    def save(self, path: Path) -> None:
        tensors = {"mean": _tensor(self.mean), "std": _tensor(self.std), **self.params}
        meta = {**self.meta, "kind": KIND, "attributes": list(self.attributes), "backbone": self.backbone}
        save_model(path, tensors, meta)


def _tensor(array: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def load_classifier(path: Path) -> Classifier:
    tensors, meta = load_model(path, KIND)
    mean, std = tensors.pop("mean").numpy(), tensors.pop("std").numpy()
    return Classifier(tuple(meta["attributes"]), meta["backbone"], mean, std, tensors, meta)


def _forward(params: dict[str, Any], x: Any) -> Any:
    out = x @ params["w0"].T + params["b0"]
    if "w1" in params:
        out = out.relu() @ params["w1"].T + params["b1"]
    return out


def untrainable(y: np.ndarray, known: np.ndarray, attributes: Sequence[str], min_per_class: int) -> dict[str, str]:
    """The attributes that cannot be fitted, each with why (too few known present or absent images)."""
    present = ((y > 0.5) & known).sum(axis=0)
    absent = ((y < 0.5) & known).sum(axis=0)
    return {
        name: f"{p} known present and {a} known absent images; fitting needs {min_per_class} of each"
        for name, p, a in zip(attributes, present, absent)
        if min(p, a) < min_per_class
    }


def fit_classifier(
    features: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    attributes: Sequence[str],
    *,
    backbone: str,
    config: ProbeConfig = ProbeConfig(),
) -> Classifier:
    """Fit the probe on (n, d) features and (n, len(attributes)) labels y with mask `known`.

    Attributes without `min_per_class` known present and absent images are left out (listed in
    `meta["not_fitted"]`); NoTrainableAttributeError when none is left.
    """
    import torch

    attributes = tuple(attributes)
    if not (len(features) == len(y) == len(known)) or y.shape != known.shape or y.shape[1] != len(attributes):
        raise ValueError(
            f"features {features.shape}, y {y.shape}, known {known.shape} and {len(attributes)} attributes disagree"
        )
    not_fitted = untrainable(y, known, attributes, config.min_per_class)
    keep = [i for i, name in enumerate(attributes) if name not in not_fitted]
    if not keep:
        raise NoTrainableAttributeError(
            "no attribute has both classes among the known labels ("
            + "; ".join(f"{k}: {v}" for k, v in not_fitted.items())
            + "): use a dataset whose prompts say which images show an attribute and which do not"
        )
    mean, std = standardisation(features)
    x = torch.from_numpy(((features - mean) / std).astype(np.float32))
    targets = torch.from_numpy(y[:, keep].astype(np.float32))
    mask = torch.from_numpy(known[:, keep].astype(np.float32))
    params = _init(x.shape[1], len(keep), config)
    with one_thread():
        _train(params, x, targets, mask, config)
    meta = {
        "config": asdict(config),
        "n_train": len(features),
        "feature_dim": int(x.shape[1]),
        "data_hash": data_hash(features, y, known),
        "not_fitted": not_fitted,
    }
    return Classifier(
        tuple(attributes[i] for i in keep), backbone, mean, std, {k: v.detach() for k, v in params.items()}, meta
    )


def _init(dim: int, n_out: int, config: ProbeConfig) -> dict[str, Any]:
    """Zero weights for logistic regression (convex, so no symmetry to break); seeded He init for the MLP."""
    import torch

    if config.hidden == 0:
        return {"w0": torch.zeros(n_out, dim), "b0": torch.zeros(n_out)}
    gen = torch.Generator().manual_seed(config.seed)
    return {
        "w0": torch.randn(config.hidden, dim, generator=gen) * (2.0 / dim) ** 0.5,
        "b0": torch.zeros(config.hidden),
        "w1": torch.randn(n_out, config.hidden, generator=gen) * (1.0 / config.hidden) ** 0.5,
        "b1": torch.zeros(n_out),
    }


def _train(params: dict[str, Any], x: Any, targets: Any, mask: Any, config: ProbeConfig) -> None:
    import torch
    import torch.nn.functional as F

    for tensor in params.values():
        tensor.requires_grad_(True)
    weights = [v for k, v in params.items() if k.startswith("w")]
    biases = [v for k, v in params.items() if k.startswith("b")]
    optimiser = torch.optim.AdamW(
        [{"params": weights, "weight_decay": config.weight_decay}, {"params": biases, "weight_decay": 0.0}],
        lr=config.lr,
    )
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        for batch in torch.randperm(len(x), generator=gen).split(config.batch_size):
            weight = mask[batch]
            loss = F.binary_cross_entropy_with_logits(
                _forward(params, x[batch]), targets[batch], weight=weight, reduction="sum"
            )
            optimiser.zero_grad()
            (loss / weight.sum().clamp(min=1.0)).backward()
            optimiser.step()
    for tensor in params.values():
        tensor.requires_grad_(False)


# -- metrics --------------------------------------------------------------------------------------------------


def binary_scores(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Recall, precision and F1 of boolean predictions (0.0 where undefined, as sklearn's zero_division=0)."""
    predicted, labels = np.asarray(predicted, bool), np.asarray(labels, bool)
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    return {
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }


def attribute_metrics(
    classifier: Classifier, features: np.ndarray, y: np.ndarray, known: np.ndarray, attributes: Sequence[str]
) -> dict[str, Any]:
    """Held-out metrics of the classifier's attributes on labels y / known given for `attributes`.

    Returns {"attributes": {name: {n_present, n_absent, auroc, recall, precision, f1}}, "skipped": {name: why},
    "macro_auroc", "macro_f1"} (macros over the attributes with both classes; None when there are none).
    """
    column = {name: i for i, name in enumerate(attributes)}
    proba = classifier.predict_proba(features)
    per: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for j, name in enumerate(classifier.attributes):
        if name not in column:
            skipped[name] = "no labels for it in this data"
            continue
        rows = known[:, column[name]]
        truth = y[rows, column[name]] > 0.5
        n_present, n_absent = int(truth.sum()), int((~truth).sum())
        if n_present == 0 or n_absent == 0:
            skipped[name] = f"held-out labels are one class ({n_present} present, {n_absent} absent known)"
            continue
        scores = proba[rows, j]
        per[name] = {
            "n_present": n_present,
            "n_absent": n_absent,
            "auroc": auroc(scores, truth),
            **binary_scores(scores >= THRESHOLD, truth),
        }
    return {
        "attributes": per,
        "skipped": skipped,
        "macro_auroc": float(np.mean([m["auroc"] for m in per.values()])) if per else None,
        "macro_f1": float(np.mean([m["f1"] for m in per.values()])) if per else None,
    }
