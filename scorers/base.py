"""The scorer interface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image


class Scorer(Protocol):
    """Scores one batch of images rendered from `prompts` (one prompt per image).

    `metrics` maps each metric that may serve as an objective to whether higher is better; `score` returns
    those and may add diagnostics beside them (e.g. `clip_truncated`), which are recorded but not optimised.
    """

    name: str
    metrics: dict[str, bool]

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]: ...
