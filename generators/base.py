"""The generator interface and its configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class GeneratorConfig:
    """Which text-to-image model renders, and how.

    `model` is `tiny-random` (a small randomly initialised Stable Diffusion pipeline built from config,
    cached under the cache dir), a local `StableDiffusionPipeline`-compatible folder, or a Hugging Face hub id
    (only when online or already in the local hub cache).
    """

    model: str = "tiny-random"
    height: int = 64
    width: int = 64
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    safety_checker: bool = False

    def __post_init__(self) -> None:
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"generator.device must be one of {DEVICES} or cuda:N, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"generator.dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.height % 8 or self.width % 8 or self.height < 8 or self.width < 8:
            raise ValueError(
                f"generator height and width must be positive multiples of 8, got {self.height}x{self.width}"
            )
        if self.batch_size < 1:
            raise ValueError(f"generator.batch_size must be at least 1, got {self.batch_size}")


class Generator(Protocol):
    """Renders one image per (prompt, seed) pair; image i depends only on (prompts[i], seeds[i])."""

    identity: dict[str, str]

    def render(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        negative_prompt: str | None = None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]: ...
