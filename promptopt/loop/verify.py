"""A tuned adapter checked before it is used: the base model and the tuned one audited on the same clauses and
seeds, then the three guards (`promptopt.loop.guards`). Writes `guards.json` beside the adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core import atomic
from promptopt.core.images import image_files, load_images
from promptopt.core.progress import Progress
from promptopt.generators.base import GeneratorConfig, LoraAdapter
from promptopt.judge.consistency import Clause
from promptopt.judge.targets import Target
from promptopt.loop.audit import AuditRow, audit, single_clause_prompts
from promptopt.loop.guards import Guard, copying, forgetting, realism
from promptopt.loop.tune import GUARDS_FILE

COPY_REFERENCE = 1000  # training images the near-copy threshold is measured on (a seeded sample)


def tuned_config(base: GeneratorConfig, adapter: Path) -> GeneratorConfig:
    """`base` with the adapter in `adapter` (its pytorch_lora_weights.safetensors) at weight 1."""
    from promptopt.generators.training.outputs import LORA_WEIGHTS

    return dataclasses.replace(base, loras=(LoraAdapter(path=str(adapter / LORA_WEIGHTS)),))


def target_clause(target: Target) -> Clause:
    """The clause a target is audited on: its one attribute value, or its category's "any of" output."""
    found = [c for c in target.clauses() if c.output != target.category]
    return found[0] if len(found) == 1 else Clause(target.category)


def verify(
    base: GeneratorConfig,
    adapter: Path,
    judge: Any,
    targets: Sequence[Target],
    tune_record: dict[str, Any],
    reference: Path,
    *,
    reference_identity: str | None = None,
    images: int,
    renders: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Audit the base and the tuned model on every single-clause prompt (the targets' among them) and apply the
    guards; `tune_record` is the tune's tune.json, `reference` the realism reference folder (its features from the
    feature cache, keyed by `reference_identity` for a set made by a recipe, else by its pixels). Returns (and writes
    to `adapter`/guards.json) both audits, the guards and whether all passed."""
    from promptopt.study.factory import generator_for

    prompts = {**single_clause_prompts(), **single_clause_prompts([target_clause(t).output for t in targets])}
    audits: dict[str, list[AuditRow]] = {}
    pictures: dict[str, dict[Clause, list[Any]]] = {}
    for name, cfg in (("base", base), ("tuned", tuned_config(base, adapter))):
        pictures[name] = {}
        audits[name] = audit(
            generator_for(cfg), judge, prompts, images=images, renders=renders, progress=progress,
            task=f"audit {name}", kept=pictures[name],
        )  # fmt: skip
    from promptopt.scorers.inception import InceptionFeatures

    inception = InceptionFeatures()
    guards = [forgetting(audits["base"], audits["tuned"])]
    guards += _copying(inception, {t.slug: pictures["tuned"][target_clause(t)] for t in targets}, tune_record)
    everything = {name: [image for images_ in shown.values() for image in images_] for name, shown in pictures.items()}
    guards.append(_realism(inception, everything["base"], everything["tuned"], reference, reference_identity))
    report = {
        "adapter": str(adapter),
        "images": images,
        "passed": all(g.passed for g in guards),
        "guards": [asdict(g) for g in guards],
        "audit": {name: [asdict(r) for r in rows] for name, rows in audits.items()},
    }
    atomic.write_json(adapter / GUARDS_FILE, report)
    return report


def _features(inception: Any, images: Sequence[Any], chunk: int = 64) -> np.ndarray:
    """Inception pool features of `images`, `chunk` at a time (memory stays bounded)."""
    parts = [inception(list(images[i : i + chunk])) for i in range(0, len(images), chunk)]
    return np.concatenate(parts).astype(np.float64)


def _copying(inception: Any, target_renders: dict[str, list[Any]], record: dict[str, Any]) -> list[Guard]:
    """The near-copy guard of each target: its renders against its own training images."""
    folder = Path(record["data"])
    files = image_files(folder)
    rng = np.random.default_rng(0)
    sample = [files[i] for i in sorted(rng.choice(len(files), size=min(COPY_REFERENCE, len(files)), replace=False))]
    training = _features(inception, load_images(sample))
    guards = []
    for slug, renders in target_renders.items():
        mine = _features(inception, load_images([Path(p) for p in record["target_images"][slug]]))
        guards.append(copying(_features(inception, renders), mine, training, slug))
    return guards


def _realism(inception: Any, base: Sequence[Any], tuned: Sequence[Any], reference: Path, identity: str | None) -> Guard:
    from promptopt.core.paths import cache_dir
    from promptopt.scorers.realism import reference_features
    from promptopt.scorers.realism_metrics import kid

    real = reference_features(reference, inception, backbone=inception.name, cache_dir=cache_dir(), identity=identity)
    return realism(kid(real, _features(inception, base))[0], kid(real, _features(inception, tuned))[0])
