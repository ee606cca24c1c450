"""DreamBooth: instance captions from the category's rare token, and prior-preservation class images.

Class images are rendered by the base model (before any adapter is added) from the category's class prompt
with fixed seeds 0..n-1, into `out/class_images/<category>/`, and reused when that folder already holds
n images. Each category's folder is written beside its place and renamed into it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from promptopt.core.atomic import staged_dir
from promptopt.generators.training.config import DreamBoothConfig
from promptopt.generators.training.data import TrainExample
from promptopt.generators.training.models import Models, render

CLASS_IMAGES = "class_images"


def instance_examples(cfg: DreamBoothConfig, examples: Sequence[TrainExample]) -> list[TrainExample]:
    """Each image captioned with its category's instance prompt only."""
    unlabelled = [e.image.name for e in examples if not e.category]
    if unlabelled:
        raise ValueError(
            f"dreambooth-lora needs a category per training image; {len(unlabelled)} have none "
            f"(first: {unlabelled[0]}): train on images of the categories you want tokens for"
        )
    return [TrainExample(e.image, (cfg.instance_for(e.category),), e.category) for e in examples]


def class_examples(
    cfg: DreamBoothConfig,
    categories: Sequence[str],
    out: Path,
    models: Models,
    *,
    resolution: int,
    autocast: Callable[[], AbstractContextManager],
) -> list[TrainExample]:
    """`num_class_images` class images per category (rendered once, then reused), as training examples."""
    found: list[TrainExample] = []
    for category in sorted(set(categories)):
        folder = out / CLASS_IMAGES / category
        existing = sorted(folder.glob("*.png")) if folder.is_dir() else []
        if len(existing) < cfg.num_class_images:
            _render_class_images(cfg, category, folder, models, resolution=resolution, autocast=autocast)
            existing = sorted(folder.glob("*.png"))
        prompt = cfg.class_for(category)
        found += [TrainExample(path, (prompt,), category) for path in existing[: cfg.num_class_images]]
    return found


def _render_class_images(
    cfg: DreamBoothConfig,
    category: str,
    folder: Path,
    models: Models,
    *,
    resolution: int,
    autocast: Callable[[], AbstractContextManager],
) -> None:
    n = cfg.num_class_images
    images = render(
        models.pipeline(),
        [cfg.class_for(category)] * n,
        list(range(n)),
        guidance_scale=cfg.class_guidance_scale,
        steps=cfg.class_inference_steps,
        resolution=resolution,
        autocast=autocast,
    )
    with staged_dir(folder) as staging:
        for seed, image in enumerate(images):
            image.save(staging / f"{seed:05d}.png")
