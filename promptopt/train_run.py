"""Run `promptopt train`: the rich progress bar, Ctrl-C handling and the validation scorers.

Validation scores come from a list of scorers merged into one dict, so a classifier can join KID later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptopt.interrupt import StopFlag

console = Console(stderr=True)
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
        from scorers.realism_metrics import kid_summary

        if self._reference is None:
            from PIL import Image

            from generators.train_data import load_pixels
            from scorers.inception import InceptionFeatures

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


LOG_EVERY = 50  # steps between plain progress lines when stderr is not a terminal (a background run)


def run_training(
    cfg: Any,
    examples: list[Any],
    out: Path,
    *,
    base_folder: Path | None,
    resume: str | None,
    validate: Any,
    quiet: bool,
) -> Any:
    """Train with a progress bar; the first Ctrl-C saves a checkpoint after the current step and stops."""
    from generators.train import StepReport, train

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]} steps/s"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    with progress, StopFlag(message="saving a checkpoint after the current step, then stopping").installed() as stop:
        task = progress.add_task("preparing", total=cfg.max_train_steps, loss="-", lr="-", rate="-")

        def on_step(report: StepReport) -> None:
            progress.update(
                task, description="train", completed=report.step, loss=f"{report.loss:.4f}",
                lr=f"{report.lr:.2e}", rate=f"{report.steps_per_s:.2f}",
            )  # fmt: skip
            if not quiet and not console.is_terminal and report.step % LOG_EVERY == 0:  # a background run's log
                console.print(
                    f"step {report.step}/{report.max_steps} loss {report.loss:.4f} lr {report.lr:.2e} "
                    f"{report.steps_per_s:.2f} steps/s", highlight=False,
                )  # fmt: skip

        return train(
            cfg, examples, out, base_folder=base_folder, resume=resume, validate=validate, on_step=on_step,
            on_status=lambda message: progress.update(task, description=message), should_stop=lambda: stop.requested,
        )  # fmt: skip
