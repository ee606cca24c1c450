"""Fitting the offline scorers on a dataset: its items, their image features (cached on disk by the images' decoded
pixels and the backbone), attribute targets and prompt pairs; a seeded held-out split by image; the attribute
classifier and the aligner fitted on the training part and measured on the held-out part.

`--data gi-sim` means a GI-sim dataset (a simulator, not medical data) generated once into the cache dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.core.progress import Progress
from promptopt.datasets.labels import ATTRIBUTES, targets
from promptopt.datasets.layouts import Dataset, Item, load_dataset

if TYPE_CHECKING:
    from promptopt.scorers.aligner import Aligner, AlignerFitConfig
    from promptopt.scorers.classifier import Classifier, ProbeConfig


@dataclass(frozen=True)
class FeatureSet:
    """A dataset's items with one feature row per item (row i for items[i])."""

    root: str
    items: tuple[Item, ...]
    features: np.ndarray
    backbone: str
    images_hash: str

    def targets(self, *, closed_world: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(y, known) over `labels.ATTRIBUTES` (`closed_world`: see `promptopt.datasets.labels`)."""
        return targets((item.labels for item in self.items), closed_world=closed_world)


def load_backbone(spec: str, device: str) -> Any:
    """The feature function a `--backbone` spec names (see `scorers.backbones`), as InputError when it cannot load."""
    from promptopt.scorers.backbones import load_backbone as load

    try:
        return load(spec, device=device)
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"--backbone: {err}") from None


def load_items(path: Path, *, min_items: int = 2) -> Dataset:
    """The dataset at `path`; InputError when it holds fewer than `min_items` images."""
    dataset = load_dataset(path)
    if len(dataset.items) < min_items:
        raise InputError(
            f"{path}: {len(dataset.items)} image(s); fitting needs at least {min_items}: use a larger dataset"
        )
    return dataset


def require_trainable(dataset: Dataset, what: str = "dataset", *, closed_world: bool = False) -> None:
    """Fail before any feature is computed when no attribute has known present and known absent images."""
    from promptopt.scorers.classifier import ProbeConfig, untrainable

    y, known = targets((item.labels for item in dataset.items), closed_world=closed_world)
    reasons = untrainable(y, known, ATTRIBUTES, ProbeConfig().min_per_class)
    if len(reasons) == len(ATTRIBUTES):
        raise InputError(
            f"{what} {dataset.root}: no labelled attribute has both classes (its prompts never say which images lack "
            "a polyp, an instrument, text, …): add prompts such as 'with no polyps' or images of other categories, "
            "or read a synthetic set closed-world (--closed-world)"
        )


def dataset_features(dataset: Dataset, backbone: Any, *, progress: Progress | None = None) -> FeatureSet:
    """The dataset's image features, computed once per (decoded pixels, backbone) and then read from the cache;
    `progress` hears of each chunk under the task `features (<backbone>)`."""
    from promptopt.core.image_identity import images_hash
    from promptopt.core.paths import cache_dir
    from promptopt.scorers.features_cache import image_features

    paths = [item.image for item in dataset.items]
    identity = images_hash(paths)
    task, done = f"features ({backbone.name})", [0]

    def on_chunk(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(task, done[0], len(paths))

    feats = image_features(
        paths, backbone, backbone=backbone.name, cache_dir=cache_dir(), identity=identity, on_chunk=on_chunk
    )
    return FeatureSet(str(dataset.root), dataset.items, feats, backbone.name, identity)


def split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held_out) indices of a seeded split by image; InputError when `holdout` cannot split `n` images."""
    from promptopt.scorers.fitting import holdout_split

    try:
        return holdout_split(n, holdout, seed)
    except ValueError as err:
        raise InputError(f"--holdout: {err}") from None


def fit_classifier_on(fs: FeatureSet, *, holdout: float, config: ProbeConfig) -> tuple[Classifier, dict[str, Any]]:
    """The attribute classifier fitted on the training part of `fs` and its held-out metrics (also in its meta)."""
    from promptopt.scorers.classifier import NoTrainableAttributeError, attribute_metrics, fit_classifier

    y, known = fs.targets()
    train, held_out = split(len(fs.items), holdout, config.seed)
    try:
        classifier = fit_classifier(
            fs.features[train], y[train], known[train], ATTRIBUTES, backbone=fs.backbone, config=config
        )
    except NoTrainableAttributeError as err:
        raise InputError(f"{fs.root}: {err}") from None
    metrics = attribute_metrics(classifier, fs.features[held_out], y[held_out], known[held_out], ATTRIBUTES)
    classifier.meta.update(_provenance(fs, holdout, len(held_out)), metrics=metrics)
    return classifier, metrics


def prompt_pairs(items: tuple[Item, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """The distinct prompts of `items` (sorted) and the (n_items, n_prompts) matrix: item i has prompt j."""
    texts = tuple(sorted({prompt for item in items for prompt in item.prompts}))
    column = {text: j for j, text in enumerate(texts)}
    positives = np.zeros((len(items), len(texts)), dtype=bool)
    for i, item in enumerate(items):
        positives[i, [column[p] for p in item.prompts]] = True
    return texts, positives


def fit_aligner_on(
    fs: FeatureSet, text_model: Any, *, holdout: float, config: AlignerFitConfig
) -> tuple[Aligner, dict[str, Any]]:
    """The aligner fitted on the training images' prompt pairs of `fs`, and its held-out retrieval metrics
    (candidates: the held-out images' distinct prompts; see `scorers.aligner`)."""
    from promptopt.scorers.aligner import encode_texts, fit_aligner, retrieval

    train, held_out = split(len(fs.items), holdout, config.seed)
    train_texts, train_pairs = prompt_pairs(tuple(fs.items[i] for i in train))
    test_texts, test_pairs = prompt_pairs(tuple(fs.items[i] for i in held_out))
    all_texts = sorted(set(train_texts) | set(test_texts))
    embedded = dict(zip(all_texts, encode_texts(text_model, all_texts)))
    aligner = fit_aligner(
        fs.features[train],
        np.stack([embedded[t] for t in train_texts]),
        train_pairs,
        backbone=fs.backbone,
        config=config,
    )
    similarity = (
        aligner.embed_images(fs.features[held_out]) @ aligner.embed_texts(np.stack([embedded[t] for t in test_texts])).T
    )
    train_count = dict(zip(train_texts, train_pairs.sum(axis=0).tolist()))
    metrics = retrieval(similarity, test_pairs, text_prior=np.array([train_count.get(t, 0) for t in test_texts]))
    metrics.update(
        pair_cosine=float(similarity[test_pairs].mean()),
        other_cosine=float(similarity[~test_pairs].mean()) if (~test_pairs).any() else None,
        unseen_prompts=sum(t not in train_count for t in test_texts),
    )
    aligner.meta.update(_provenance(fs, holdout, len(held_out)), metrics=metrics)
    return aligner, metrics


def _provenance(fs: FeatureSet, holdout: float, n_held_out: int) -> dict[str, Any]:
    return {
        "data": {"root": fs.root, "images": len(fs.items), "images_hash": fs.images_hash},
        "holdout": holdout,
        "n_held_out": n_held_out,
    }
