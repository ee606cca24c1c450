"""Train on synthetic, test on real (TSTR), beside train on real, test on real (TRTR) as the ceiling.

The attribute classifier (`scorers.classifier`) is fitted twice on the same features and settings: once on the
whole synthetic set (labels from its prompts, e.g. an export's metadata.jsonl or `promptopt render` output) and
once on the training part of the real set; both are tested on the same held-out part of the real set. If the
synthetic images carry what their prompts say as well as real images do, TSTR comes close to TRTR.

Only attributes that both classifiers could be fitted on and whose real test labels hold both classes are
compared; the macro averages run over exactly those, so TSTR and TRTR are averaged over the same attributes.
Every other attribute is listed under `not_compared` with the reason. A synthetic set made for one category
only (all polyps, say) has no known negatives for it, so it cannot train that attribute: mix categories.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.core.progress import Progress
from promptopt.datasets.labels import ATTRIBUTES
from promptopt.evaluate.probes import FeatureSet, dataset_features, load_items, require_trainable, split

if TYPE_CHECKING:
    from promptopt.scorers.classifier import Classifier, ProbeConfig

SIDES = ("tstr", "trtr")


def tstr(
    synthetic: Path,
    real: Path,
    backbone: Any,
    *,
    holdout: float = 0.2,
    config: ProbeConfig | None = None,
    closed_world: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """TSTR and TRTR metrics per attribute (recall, precision, F1 at 0.5; AUROC) and their macro averages.

    `backbone` is a feature function with a `name` (`scorers.backbones.load_backbone`); the config's seed also
    draws the real split. `closed_world` labels the synthetic set closed-world (`promptopt.datasets.labels`: what its
    prompts do not make present is absent); the real set's labels stay what its prompts say.
    """
    from promptopt.scorers.classifier import ProbeConfig, attribute_metrics

    config = config or ProbeConfig()
    datasets = {"synthetic": load_items(synthetic), "real": load_items(real)}
    for what, dataset in datasets.items():
        require_trainable(dataset, f"{what} set", closed_world=closed_world and what == "synthetic")
    train, test = split(len(datasets["real"].items), holdout, config.seed)
    syn, real_fs = (dataset_features(d, backbone, progress=progress) for d in datasets.values())
    y_real, known_real = real_fs.targets()
    on_synthetic = _fit(syn, np.arange(len(syn.items)), config, "synthetic", closed_world=closed_world)
    on_real = _fit(real_fs, train, config, "real (training part)")
    args = (real_fs.features[test], y_real[test], known_real[test], ATTRIBUTES)
    metrics = {"tstr": attribute_metrics(on_synthetic, *args), "trtr": attribute_metrics(on_real, *args)}
    compared, not_compared = _compare(on_synthetic, on_real, metrics)
    return {
        "synthetic": {"root": syn.root, "images": len(syn.items)},
        "real": {"root": real_fs.root, "images": len(real_fs.items), "train": len(train), "test": len(test)},
        "backbone": syn.backbone,
        "holdout": holdout,
        "seed": config.seed,
        "closed_world": closed_world,
        "attributes": compared,
        "macro": {side: _macro(compared, side) for side in SIDES},
        "not_compared": not_compared,
    }


def _fit(fs: FeatureSet, rows: np.ndarray, config: ProbeConfig, what: str, *, closed_world: bool = False) -> Classifier:
    from promptopt.scorers.classifier import NoTrainableAttributeError, fit_classifier

    y, known = fs.targets(closed_world=closed_world)
    try:
        return fit_classifier(fs.features[rows], y[rows], known[rows], ATTRIBUTES, backbone=fs.backbone, config=config)
    except NoTrainableAttributeError as err:
        raise InputError(f"{what} set {fs.root}: {err}") from None


def _compare(
    on_synthetic: Classifier, on_real: Classifier, metrics: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    compared: dict[str, Any] = {}
    not_compared: dict[str, str] = {}
    for name in ATTRIBUTES:
        reasons = [
            f"not fitted on the {label} set ({model.meta['not_fitted'][name]})"
            for label, model in (("synthetic", on_synthetic), ("real training", on_real))
            if name in model.meta["not_fitted"]
        ]
        if not reasons and name in metrics["tstr"]["skipped"]:
            reasons.append(metrics["tstr"]["skipped"][name].replace("held-out labels", "real test labels"))
        if reasons:
            not_compared[name] = "; ".join(reasons)
            continue
        sides = (metrics["tstr"]["attributes"][name], metrics["trtr"]["attributes"][name])
        compared[name] = {
            "n_present": sides[0]["n_present"],
            "n_absent": sides[0]["n_absent"],
            **{side: {k: m[k] for k in ("recall", "precision", "f1", "auroc")} for side, m in zip(SIDES, sides)},
        }
    return compared, not_compared


def _macro(compared: dict[str, Any], side: str) -> dict[str, float | None]:
    return {
        key: float(np.mean([m[side][key] for m in compared.values()])) if compared else None
        for key in ("recall", "f1", "auroc")
    }
