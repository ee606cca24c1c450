"""Set-level evaluation of a folder of generated images against a folder of reference images.

`evaluate(cfg)` loads what the metrics need (`load_models`), reads the reference features from the cache
(keyed by the reference set's content and the backbone, so a second evaluation against the same reference only
computes the generated side), makes one pass over the generated images, and returns one `MetricRow` per
number with its sample sizes, its backbone and whether it is reliable at these sample sizes (and why not):
`scorers.set_metrics`, which also holds the reliability thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.core.progress import Progress
from promptopt.evaluate.generated import ImagePrompts, generated_files, image_prompts
from promptopt.scorers.set_metrics import (
    MetricRow,
    diversity_row,
    fid_row,
    is_row,
    kid_row,
    memorisation_row,
    prdc_rows,
)

METRICS = ("fid", "kid", "prdc", "is", "clip", "diversity", "memorisation", "consistency")
BACKBONE_METRICS = ("fid", "kid", "prdc", "diversity", "memorisation")
CHUNK = 64


@dataclass(frozen=True)
class EvaluateConfig:
    """What to evaluate and with which models; paths are checked when the evaluation starts."""

    generated: Path
    reference: Path
    reference_identity: str | None = None  # a set made by a recipe (GI-sim): see scorers.features_cache
    metrics: tuple[str, ...] = METRICS
    backbone: str = "inception"
    clip: str | None = None
    judge: str | None = None
    is_network: Path | None = None
    seed: int = 0
    device: str = "cpu"
    skip_bad: bool = False
    prompts_required: bool = False  # consistency was asked for by name: images without prompts are an error

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise InputError(
                f"--metrics: unknown {', '.join(map(repr, unknown)) or 'empty list'}; choose from {','.join(METRICS)}"
            )
        if self.seed < 0:
            raise InputError(f"--seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class Evaluation:
    """What `promptopt evaluate` prints: the sets, the backbone (spec and name), whether the reference features
    came from the cache, and the rows in the order the metrics were asked for."""

    generated: str
    reference: str
    backbone_spec: str
    backbone: str | None
    n_generated: int
    n_reference: int | None
    reference_cached: bool | None
    seed: int
    rows: tuple[MetricRow, ...]

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["metrics"] = [{**asdict(row), "computed": row.value is not None} for row in self.rows]
        del record["rows"]
        return record


@dataclass(frozen=True)
class EvaluationModels:
    """The networks an evaluation uses; None where its metrics were not asked for or not given."""

    backbone: Any | None
    is_network: Any | None
    judge: Any | None
    clip: Any | None


# ---------------------------------------------------------------- inputs


def load_models(cfg: EvaluateConfig, *, with_clip: bool) -> EvaluationModels:
    """Load the backbone, IS network, classifier and CLIP model the requested metrics need."""
    from promptopt.scorers.backbones import load_backbone

    wanted = set(cfg.metrics)
    backbone = None
    if wanted & set(BACKBONE_METRICS):
        backbone = _loaded("--backbone", lambda: load_backbone(cfg.backbone, cfg.device))
    is_network = judge = None
    if "is" in wanted and cfg.is_network is not None:
        from promptopt.scorers.inception_score import LogitsNetwork

        is_network = _loaded("--is-network", lambda: LogitsNetwork(cfg.is_network, cfg.device))
    if wanted & {"is", "consistency"} and cfg.judge is not None:
        from promptopt.judge.scorer import open_judge

        judge = open_judge(cfg.judge, "--judge")
    clip = None
    if "clip" in wanted and cfg.clip is not None and with_clip:
        from promptopt.scorers.clip import load_clip

        clip = _loaded("--clip", lambda: load_clip(cfg.clip, device=cfg.device))
    return EvaluationModels(backbone, is_network, judge, clip)


def _loaded(option: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"{option}: {err}") from None


# ---------------------------------------------------------------- the pass over the generated images


@dataclass(frozen=True)
class GeneratedOutputs:
    """Per generated image: backbone features, IS class probabilities, judge probabilities, CLIP image embeddings
    (None where not needed)."""

    features: np.ndarray | None
    is_probs: np.ndarray | None
    attribute_probs: np.ndarray | None
    clip_embeds: np.ndarray | None


def generated_pass(files: Sequence[Path], models: EvaluationModels, progress: Progress | None) -> GeneratedOutputs:
    """Everything the metrics need from the generated images, in one pass of CHUNK images at a time."""
    from promptopt.core.images import load_images

    parts: dict[str, list[np.ndarray]] = {"features": [], "is": [], "attributes": [], "clip": []}
    for start in range(0, len(files), CHUNK):
        images = load_images(files[start : start + CHUNK])
        features = models.backbone(images) if models.backbone is not None else None
        if features is not None:
            parts["features"].append(features)
        if models.is_network is not None:
            parts["is"].append(models.is_network(images))
        if models.judge is not None:
            parts["attributes"].append(models.judge.predict(images))
        if models.clip is not None:
            from promptopt.scorers.clip import encode_images

            parts["clip"].append(encode_images(models.clip, images))
        if progress is not None:
            progress("generated", min(start + CHUNK, len(files)), len(files))

    def joined(key: str) -> np.ndarray | None:
        return np.concatenate(parts[key]) if parts[key] else None

    return GeneratedOutputs(joined("features"), joined("is"), joined("attributes"), joined("clip"))


class _Counted:
    """A feature function that reports how many images it has computed (a cache hit computes none)."""

    def __init__(self, features: Any, total: int, progress: Progress | None):
        self.features, self.total, self.progress = features, total, progress
        self.done = 0

    def __call__(self, images: Sequence[Any]) -> np.ndarray:
        out = self.features(images)
        self.done += len(images)
        if self.progress is not None:
            self.progress("reference", self.done, self.total)
        return out


def reference_side(
    folder: Path, identity: str | None, backbone: Any, progress: Progress | None
) -> tuple[np.ndarray, bool]:
    """Reference features from the cache (computed and cached on a miss), and whether they were cached."""
    from promptopt.core.images import image_files
    from promptopt.core.paths import cache_dir
    from promptopt.scorers.realism import reference_features

    total = len(image_files(folder))
    counted = _Counted(backbone, total, progress)
    feats = reference_features(folder, counted, backbone=backbone.name, cache_dir=cache_dir(), identity=identity)
    if progress is not None:
        progress("reference", total, total)
    return feats, counted.done == 0


# ---------------------------------------------------------------- metrics


def inception_score_rows(
    outputs: GeneratedOutputs, models: EvaluationModels, cfg: EvaluateConfig, n: int
) -> list[MetricRow]:
    from promptopt.scorers.inception_score import class_distribution

    rows = []
    if outputs.is_probs is not None:
        rows.append(is_row("is", outputs.is_probs, models.is_network.name, cfg.seed))
    if outputs.attribute_probs is not None:
        from promptopt.judge.schema import PRESENCE

        name = Path(str(cfg.judge)).name
        extra = (
            f"; classes: the judge's {len(PRESENCE)} presence probabilities normalised per image; "
            "not comparable with the ImageNet IS"
        )
        presence = outputs.attribute_probs[:, : len(PRESENCE)]
        rows.append(is_row("is_judge", class_distribution(presence), name, cfg.seed, extra))
    if not rows:
        rows.append(
            MetricRow(
                "is",
                None,
                None,
                n,
                None,
                None,
                None,
                "the bundled Inception network has no class logits: pass --is-network FILE (TorchScript, "
                "returns logits) for the standard IS or --judge FILE for the judge IS",
            )
        )
    return rows


def clip_row(
    outputs: GeneratedOutputs, models: EvaluationModels, cfg: EvaluateConfig, given: ImagePrompts, n: int
) -> MetricRow:
    if cfg.clip is None:
        return MetricRow("clip", None, None, n, None, None, None, "no CLIP model given: pass --clip MODEL")
    if given.texts is None:
        return MetricRow("clip", None, None, n, None, cfg.clip, None, f"CLIP score needs prompts: {given.reason}")
    prompts = given.texts
    if models.clip is None:
        return MetricRow("clip", None, None, n, None, cfg.clip, None, "the CLIP model was not loaded")
    from promptopt.scorers.clip import clip_score, encode_texts, token_count

    clip = models.clip
    distinct = sorted(set(prompts))
    text = dict(zip(distinct, encode_texts(clip, distinct)))
    scores = clip_score(outputs.clip_embeds, np.stack([text[p] for p in prompts]))
    cut = sum(token_count(clip.tokenizer, p) > clip.context_length for p in prompts)
    note = f"{cut} of {n} prompts cut to {clip.context_length} tokens" if cut else ""
    se = float(scores.std(ddof=1) / math.sqrt(n))
    return MetricRow("clip", float(scores.mean()), se, n, None, clip.name, True, note)


def consistency_dataset(cfg: EvaluateConfig, n: int) -> Any:
    """The generated folder's listing for consistency, read (and every prompt parsed) before any model runs, or
    the MetricRow saying why there is none; a missing listing or an unreadable prompt is an InputError now."""
    from promptopt import grammar
    from promptopt.datasets.layouts import load_dataset
    from promptopt.judge.consistency import clauses

    if cfg.judge is None:
        return MetricRow("consistency", None, None, n, None, None, None, "no judge given: pass --judge FILE")
    try:
        dataset = load_dataset(cfg.generated, skip_bad=cfg.skip_bad)
    except InputError as err:
        if cfg.prompts_required:
            raise InputError(f"consistency needs a prompt for each image: {err}") from None
        return MetricRow("consistency", None, None, n, None, Path(cfg.judge).name, None, f"no prompts: {err}")
    asked = [clauses(grammar.parse(prompt)) for item in dataset.items for prompt in item.prompts]  # all parsed
    if not any(asked):
        raise InputError(f"{cfg.generated}: no prompt asks for anything the judge can check")
    return dataset


def consistency_row(files: Sequence[Path], outputs: GeneratedOutputs, cfg: EvaluateConfig, dataset: Any) -> MetricRow:
    """Mean prompt–image consistency over every (image, prompt) pair the generated folder's listing holds
    (prompt-gt.csv or metadata.jsonl, read by `consistency_dataset`); its standard error is over images (each
    image's mean over its prompts)."""
    from promptopt import grammar
    from promptopt.judge.consistency import clause_probabilities, clauses, combine

    row_of = {path.resolve(): i for i, path in enumerate(files)}
    per_image, pairs, empty = [], 0, 0
    for item in dataset.items:
        if item.image.resolve() not in row_of:
            continue
        proba = outputs.attribute_probs[row_of[item.image.resolve()]][None, :]
        values = []
        for prompt in item.prompts:
            found = clauses(grammar.parse(prompt))
            if not found:
                empty += 1
                continue
            values.append(float(combine(clause_probabilities(proba, found))[0]))
        pairs += len(values)
        if values:
            per_image.append(float(np.mean(values)))
    if not per_image:
        raise InputError(f"{cfg.generated}: no prompt asks for anything the judge can check")
    note = f"{pairs} (image, prompt) pairs of {len(per_image)} images; clause probabilities averaged per pair"
    if empty or dataset.skipped:
        note += f"; left out: {empty} prompts asking nothing checkable, {len(dataset.skipped)} bad rows"
    se = float(np.std(per_image, ddof=1) / math.sqrt(len(per_image))) if len(per_image) > 1 else None
    return MetricRow(
        "consistency", float(np.mean(per_image)), se, len(per_image), None, Path(cfg.judge).name, True, note
    )


# ---------------------------------------------------------------- the evaluation


def evaluate(
    cfg: EvaluateConfig, *, models: EvaluationModels | None = None, progress: Progress | None = None
) -> Evaluation:
    """Evaluate cfg.generated against cfg.reference; `models` skips loading (benchmarks, tests)."""
    files = generated_files(cfg.generated)
    if not cfg.reference.is_dir():
        raise InputError(
            f"reference folder {cfg.reference} does not exist: pass a folder of real images with --reference"
        )
    prompts = image_prompts(cfg.generated, files)
    listing = consistency_dataset(cfg, len(files)) if "consistency" in cfg.metrics else None
    if models is None:
        models = load_models(cfg, with_clip=prompts.texts is not None)
    ref, cached = None, None
    if models.backbone is not None:
        ref, cached = reference_side(cfg.reference, cfg.reference_identity, models.backbone, progress)
    outputs = generated_pass(files, models, progress)
    n = len(files)
    name = models.backbone.name if models.backbone is not None else None
    rows: list[MetricRow] = []
    for metric in cfg.metrics:
        gen = outputs.features
        if metric == "fid":
            rows.append(fid_row(ref, gen, name))
        elif metric == "kid":
            rows.append(kid_row(ref, gen, name, cfg.seed))
        elif metric == "prdc":
            rows += prdc_rows(ref, gen, name)
        elif metric == "memorisation":
            rows.append(memorisation_row(ref, gen, name))
        elif metric == "diversity":
            rows.append(diversity_row(ref, gen, name, cfg.seed))
        elif metric == "is":
            rows += inception_score_rows(outputs, models, cfg, n)
        elif metric == "clip":
            rows.append(clip_row(outputs, models, cfg, prompts, n))
        elif metric == "consistency":
            rows.append(listing if isinstance(listing, MetricRow) else consistency_row(files, outputs, cfg, listing))
    return Evaluation(
        str(cfg.generated),
        str(cfg.reference),
        cfg.backbone,
        name,
        n,
        None if ref is None else len(ref),
        cached,
        cfg.seed,
        tuple(rows),
    )
