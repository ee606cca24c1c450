"""The validation scorers of `promptopt train`: KID against training images, merged with any others.

Validation scores come from a list of scorers merged into one dict, so a classifier can join KID later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

KID_REFERENCE_IMAGES = 100


class KidValidator:
    """KID (2048-d InceptionV3 pool features) of validation images against a fixed sample of training images,
    both at the training resolution through the training pixel path."""

    def __init__(
        self, images: Sequence[Path], *, resolution: int, seed: int, device: str, sample: int = KID_REFERENCE_IMAGES
    ):
        rng = np.random.default_rng(seed)
        picked = sorted(rng.choice(len(images), size=min(sample, len(images)), replace=False))
        self.images = [images[i] for i in picked]
        self.resolution = resolution
        self.device = device
        self._features: Any = None
        self._reference: np.ndarray | None = None

    def __call__(self, images: list[Any], prompts: list[str]) -> dict[str, float]:
        from promptopt.scorers.realism_metrics import kid_summary

        if self._reference is None:
            from PIL import Image

            from promptopt.generators.training.data import load_pixels
            from promptopt.scorers.inception import InceptionFeatures

            self._features = InceptionFeatures(device=self.device)
            real = [load_pixels(p, self.resolution) for p in self.images]
            pixels = [((x.permute(1, 2, 0).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8) for x in real]
            self._reference = self._features([Image.fromarray(p) for p in pixels])
        fake = self._features(images)
        return {"kid": kid_summary(self._reference, fake)["kid"]}


def merged(
    validators: Sequence[Callable[[list[Any], list[str]], dict[str, float]]],
) -> Callable[[list[Any], list[str]], dict[str, float]]:
    def validate(images: list[Any], prompts: list[str]) -> dict[str, float]:
        scores: dict[str, float] = {}
        for validator in validators:
            scores.update(validator(images, prompts))
        return scores

    return validate
