"""A LiT-style text–image aligner fitted offline, and the alignment scorer built on it.

No CLIP weights exist offline, so alignment is learnt from a dataset's prompt–image pairs: both encoders stay
frozen (InceptionV3 pool features for images, all-MiniLM-L6-v2 sentence embeddings for prompts) and only two
linear projections into a shared space, plus a temperature, are trained with a symmetric InfoNCE loss.

Each image has several prompts and many prompts are shared by many images ("Generate an image with no
polyps."), so the loss is **multi-positive** over all pairs rather than one sampled prompt per image: in each
mini-batch of images, the image→text side is a softmax over *every distinct training prompt* with the target
spread evenly over the image's own prompts, and the text→image side is, for each prompt that some image of the
batch has, a softmax over the batch's images with the target spread evenly over the images that have it. A
shared prompt is never pushed away from an image it belongs to.

Retrieval on held-out images ranks *distinct* prompt strings (the held-out images' prompts, deduplicated): an
image→text hit at k is any of the image's own prompts among the top k; a text→image hit at k is any image that
has the prompt among the top k. Chance is the exact hit probability of a uniformly random ranking
(1 - C(N - m, k) / C(N, k) for m right answers among N candidates), averaged like the recall; `prior` is the
image→text recall of ranking prompts by how many training images have them, which looks at no pixel. Generic
prompts ("with no instruments") belong to most images, so the prior already reaches high image→text recall;
the ranking AUROCs (per image, its own prompts against the other candidates; per prompt, its images against
the other images; averaged, chance 0.5) and text→image recall are the numbers that show what the aligner sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from promptopt.core.errors import InputError
from promptopt.scorers.fitting import auroc, data_hash, load_model, one_thread, save_model, standardisation

FeatureFn = Callable[[Sequence[Image.Image]], np.ndarray]
KIND = "aligner"
TEXT_ENCODER = "all-MiniLM-L6-v2"
MAX_LOGIT_SCALE = math.log(100.0)


@dataclass(frozen=True)
class AlignerFitConfig:
    """How the aligner is trained: the shared space's `dim`, AdamW settings, the initial temperature (learnt,
    clamped at 1/100 as in CLIP) and the seed of the initialisation and the shuffles."""

    dim: int = 128
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 256
    temperature: float = 0.07
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise InputError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.01 <= self.temperature <= 1.0:
            raise InputError(f"temperature must be between 0.01 and 1, got {self.temperature}")


@dataclass
class Aligner:
    """Projections of image features and text embeddings into one space, L2-normalised."""

    backbone: str
    text_encoder: str
    mean: np.ndarray
    std: np.ndarray
    params: dict[str, Any]  # torch tensors: wi, bi (image), wt, bt (text), logit_scale
    meta: dict[str, Any] = field(default_factory=dict)

    def embed_images(self, features: np.ndarray) -> np.ndarray:
        import torch

        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"expected (n, {self.mean.shape[0]}) {self.backbone} features, got shape {features.shape}: "
                "use the backbone the aligner was fitted on"
            )
        x = torch.from_numpy(((features - self.mean) / self.std).astype(np.float32))
        with torch.inference_mode():
            return _image_side(self.params, x).double().numpy()

    def embed_texts(self, embeddings: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return _text_side(self.params, torch.from_numpy(np.asarray(embeddings, dtype=np.float32))).double().numpy()

    def save(self, path: Path) -> None:
        import torch

        tensors = {"mean": torch.from_numpy(self.mean), "std": torch.from_numpy(self.std), **self.params}
        meta = {**self.meta, "kind": KIND, "backbone": self.backbone, "text_encoder": self.text_encoder}
        save_model(path, tensors, meta)


def load_aligner(path: Path) -> Aligner:
    tensors, meta = load_model(path, KIND)
    mean, std = tensors.pop("mean").numpy(), tensors.pop("std").numpy()
    return Aligner(meta["backbone"], meta["text_encoder"], mean, std, tensors, meta)


def _image_side(params: dict[str, Any], x: Any) -> Any:
    import torch.nn.functional as F

    return F.normalize(x @ params["wi"].T + params["bi"], dim=1)


def _text_side(params: dict[str, Any], t: Any) -> Any:
    import torch.nn.functional as F

    return F.normalize(t @ params["wt"].T + params["bt"], dim=1)


def fit_aligner(
    image_features: np.ndarray,
    text_embeddings: np.ndarray,
    positives: np.ndarray,
    *,
    backbone: str,
    text_encoder: str = TEXT_ENCODER,
    config: AlignerFitConfig = AlignerFitConfig(),
) -> Aligner:
    """Fit on (n, d) image features, (m, e) embeddings of the m distinct prompts, and the (n, m) boolean
    matrix `positives` (image i has prompt j)."""
    import torch

    n, m = len(image_features), len(text_embeddings)
    if positives.shape != (n, m):
        raise ValueError(f"positives must be ({n}, {m}) for {n} images and {m} prompts, got {positives.shape}")
    if not positives.any(axis=1).all():
        raise ValueError("every image needs at least one prompt")
    mean, std = standardisation(image_features)
    x = torch.from_numpy(((image_features - mean) / std).astype(np.float32))
    t = torch.from_numpy(np.asarray(text_embeddings, dtype=np.float32))
    p = torch.from_numpy(np.asarray(positives, dtype=np.float32))
    params = _init(x.shape[1], t.shape[1], config)
    with one_thread():
        _train(params, x, t, p, config)
    meta = {
        "config": asdict(config),
        "n_train_images": n,
        "n_train_prompts": m,
        "temperature": float(1.0 / params["logit_scale"].exp()),
        "data_hash": data_hash(image_features, text_embeddings, positives),
    }
    return Aligner(backbone, text_encoder, mean, std, {k: v.detach() for k, v in params.items()}, meta)


def _init(image_dim: int, text_dim: int, config: AlignerFitConfig) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(config.seed)
    return {
        "wi": torch.randn(config.dim, image_dim, generator=gen) / image_dim**0.5,
        "bi": torch.zeros(config.dim),
        "wt": torch.randn(config.dim, text_dim, generator=gen) / text_dim**0.5,
        "bt": torch.zeros(config.dim),
        "logit_scale": torch.tensor(math.log(1.0 / config.temperature)),
    }


def _soft_cross_entropy(logits: Any, targets: Any) -> Any:
    """Cross-entropy against a target distribution spread evenly over each row's positives."""
    weights = targets / targets.sum(dim=1, keepdim=True)
    return -(weights * logits.log_softmax(dim=1)).sum(dim=1).mean()


def _train(params: dict[str, Any], x: Any, t: Any, p: Any, config: AlignerFitConfig) -> None:
    import torch

    for tensor in params.values():
        tensor.requires_grad_(True)
    decayed = [params["wi"], params["wt"]]
    rest = [params["bi"], params["bt"], params["logit_scale"]]
    optimiser = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=config.lr
    )
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.epochs):
        for batch in torch.randperm(len(x), generator=gen).split(config.batch_size):
            logits = params["logit_scale"].exp() * _image_side(params, x[batch]) @ _text_side(params, t).T
            pos = p[batch]
            present = pos.sum(dim=0) > 0
            loss = 0.5 * (_soft_cross_entropy(logits, pos) + _soft_cross_entropy(logits.T[present], pos.T[present]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                params["logit_scale"].clamp_(0.0, MAX_LOGIT_SCALE)
    for tensor in params.values():
        tensor.requires_grad_(False)


# -- retrieval ------------------------------------------------------------------------------------------------


def chance_hit(n_candidates: int, n_right: int, k: int) -> float:
    """Probability that a uniformly random ranking of n_candidates puts one of n_right in its top k."""
    k = min(k, n_candidates)
    return 1.0 - math.comb(n_candidates - n_right, k) / math.comb(n_candidates, k)


def hits_at_k(similarity: np.ndarray, positives: np.ndarray, k: int) -> np.ndarray:
    """For each row, whether any of its k highest-scoring columns is a positive (stable order on ties)."""
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(positives, top, axis=1).any(axis=1)


def ranking_auroc(similarity: np.ndarray, positives: np.ndarray) -> float | None:
    """Mean over rows of the AUROC that separates a row's positives from its other candidates (chance 0.5): per
    image, its own prompts against the rest; per prompt (transposed), its images against the rest. Rows whose
    candidates are all positive are left out (None when every row is)."""
    values = [auroc(row, pos) for row, pos in zip(similarity, positives) if 0 < pos.sum() < len(pos)]
    return float(np.mean(values)) if values else None


def retrieval(
    similarity: np.ndarray, positives: np.ndarray, *, ks: Sequence[int] = (1, 5), text_prior: np.ndarray | None = None
) -> dict[str, Any]:
    """Recall@k both ways with chance, and the image→text ranking AUROC (with the prior ranking's recall and
    AUROC when `text_prior`, a score per candidate prompt, is given).

    `similarity` and `positives` are (n_images, n_texts) over the candidate set: distinct prompts, each the
    prompt of at least one image; every image has at least one positive.
    """
    positives = np.asarray(positives, dtype=bool)
    n, m = positives.shape
    if not positives.any(axis=1).all() or not positives.any(axis=0).all():
        raise ValueError("every candidate image and prompt needs at least one positive")
    out: dict[str, Any] = {"n_images": n, "n_texts": m}
    per_image, per_text = positives.sum(axis=1), positives.sum(axis=0)
    out["image_to_text_auroc"] = ranking_auroc(similarity, positives)
    out["text_to_image_auroc"] = ranking_auroc(similarity.T, positives.T)
    if text_prior is not None:
        prior = np.broadcast_to(np.asarray(text_prior, dtype=np.float64), (n, m))
        out["image_to_text_auroc_prior"] = ranking_auroc(prior, positives)
    for k in ks:
        out[f"image_to_text_r{k}"] = float(hits_at_k(similarity, positives, k).mean())
        out[f"image_to_text_r{k}_chance"] = float(np.mean([chance_hit(m, int(r), k) for r in per_image]))
        if text_prior is not None:
            out[f"image_to_text_r{k}_prior"] = float(hits_at_k(prior, positives, k).mean())
        out[f"text_to_image_r{k}"] = float(hits_at_k(similarity.T, positives.T, k).mean())
        out[f"text_to_image_r{k}_chance"] = float(np.mean([chance_hit(n, int(r), k) for r in per_text]))
    return out


class AlignerScorer:
    """Mean cosine similarity of each (image, its prompt) pair in the aligner's shared space (higher is better)."""

    name = "aligner"
    metrics = {"aligner_score": True}

    def __init__(self, aligner: Aligner, features: FeatureFn, text_model: Any):
        feature_name = getattr(features, "name", None)
        if feature_name is not None and feature_name != aligner.backbone:
            raise ValueError(f"features come from {feature_name!r} but the aligner was fitted on {aligner.backbone!r}")
        self.aligner = aligner
        self.features = features
        self.text_model = text_model
        self._texts: dict[str, np.ndarray] = {}

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts: give one prompt per image")
        missing = sorted(set(prompts) - self._texts.keys())
        if missing:
            embedded = encode_texts(self.text_model, missing)
            self._texts.update(zip(missing, self.aligner.embed_texts(embedded)))
        image_side = self.aligner.embed_images(self.features(images))
        text_side = np.stack([self._texts[p] for p in prompts])
        return {"aligner_score": float(np.mean(np.sum(image_side * text_side, axis=1)))}


def encode_texts(text_model: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit-length sentence embeddings (the aligner's frozen text encoder)."""
    return text_model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
