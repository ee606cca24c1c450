"""Build the generator and the scorers a study config names (one way to build each), and the target it aims at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.core.paths import cache_dir
from promptopt.generators.base import GeneratorConfig
from promptopt.grammar.opg_categories import CATEGORIES
from promptopt.judge.targets import Target
from promptopt.scorers.assets import GI_SIM
from promptopt.scorers.fitting import load_fitted
from promptopt.study.config import StudyConfig


@dataclass(frozen=True)
class RealismAssets:
    """Reference features and the feature function, shared by the per-trial scorer and the export."""

    reference: np.ndarray
    features: Any


def study_target(cfg: StudyConfig) -> Target:
    """The target the study's category and `[study] target` name."""
    return Target(cfg.study.category, dict(cfg.study.target))


def build_generator(cfg: StudyConfig) -> Any:
    return generator_for(cfg.generator)


def generator_for(cfg: GeneratorConfig) -> Any:
    """The generator a [generator] section names (`promptopt.generators.assembly.assemble_generator`), its
    pipelines cached under promptopt's cache dir."""
    from promptopt.generators.assembly import assemble_generator

    return assemble_generator(cfg, cache_dir=cache_dir())


def reference_folder(cfg: StudyConfig) -> Path:
    """The realism reference folder (made and cached first when it is GI-sim)."""
    assert cfg.scorers.realism is not None
    if cfg.scorers.realism.reference == GI_SIM:
        from promptopt.sim.reference import gi_sim_reference

        return gi_sim_reference(
            cfg.study.category, cfg.scorers.realism.gi_sim_images, cfg.generator.height, cache_dir()
        )
    folder = Path(cfg.scorers.realism.reference)
    if not folder.is_dir():
        raise InputError(
            f"realism reference folder {folder} does not exist: set [scorers.realism] reference to a folder of images"
        )
    return folder


def build_realism(cfg: StudyConfig, device: str = "cpu") -> RealismAssets | None:
    if cfg.scorers.realism is None:
        return None
    from promptopt.core.images import image_files
    from promptopt.scorers.inception import InceptionFeatures
    from promptopt.scorers.realism import reference_features

    folder = reference_folder(cfg)
    if len(image_files(folder)) < 2:
        raise InputError(
            f"realism reference folder {folder} holds fewer than 2 images: fill it with real (or GI-sim) images"
        )
    features = InceptionFeatures(device=device)
    gi_sim = cfg.scorers.realism.reference == GI_SIM  # named by its recipe: see gi_sim_reference
    reference = reference_features(
        folder, features, backbone=features.name, cache_dir=cache_dir(), identity=folder.name if gi_sim else None
    )
    return RealismAssets(reference=reference, features=features)


def build_scorers(cfg: StudyConfig, realism: RealismAssets | None, device: str = "cpu") -> list[Any]:
    """The scorers the study names; Inception features are shared between realism and diversity."""
    from promptopt.scorers.intent import IntentScorer, load_minilm
    from promptopt.scorers.realism import RealismScorer

    scorers: list[Any] = []
    if cfg.scorers.clip is not None:
        from promptopt.scorers.clip import ClipScorer, load_clip

        try:
            scorers.append(ClipScorer(load_clip(cfg.scorers.clip.model, device=device)))
        except (FileNotFoundError, ValueError) as err:
            raise InputError(f"[scorers.clip] model: {err}") from None
    inception = _shared_inception(realism, device)
    if cfg.scorers.diversity is not None:
        from promptopt.scorers.diversity import DiversityScorer

        scorers.append(DiversityScorer(inception(), metric=cfg.scorers.diversity.metric))
    if cfg.scorers.judge is not None:
        from promptopt.judge.scorer import JudgeScorer, open_judge

        scorers.append(JudgeScorer(open_judge(cfg.scorers.judge.model, "[scorers.judge] model"), study_target(cfg)))
    if cfg.scorers.aligner is not None:
        from promptopt.scorers.aligner import AlignerScorer, load_aligner

        aligner = load_fitted(load_aligner, cfg.scorers.aligner.model, "aligner", "[scorers.aligner] model")
        try:
            scorers.append(AlignerScorer(aligner, inception(), load_minilm(device)))
        except ValueError as err:
            raise InputError(f"[scorers.aligner] model: {err}") from None
    if cfg.scorers.intent is not None:
        intent = cfg.scorers.intent.intent or CATEGORIES[cfg.study.category].intent
        scorers.append(IntentScorer(load_minilm(device), intent))
    if realism is not None and cfg.scorers.realism is not None:
        scorers.append(
            RealismScorer(
                realism.reference, realism.features, subset_size=cfg.scorers.realism.subset_size, seed=cfg.study.seed
            )
        )
    return scorers


def _shared_inception(realism: RealismAssets | None, device: str) -> Callable[[], Any]:
    """A getter for one InceptionFeatures shared by every scorer that needs it (the realism one when present)."""
    from promptopt.scorers.inception import InceptionFeatures

    made: list[Any] = [realism.features] if realism is not None else []

    def get() -> Any:
        if not made:
            made.append(InceptionFeatures(device=device))
        return made[0]

    return get
