"""The generator interface and its configuration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from promptopt.generators.errors import GeneratorInputError
from promptopt.generators.schedulers import SCHEDULER_NAMES

if TYPE_CHECKING:
    from PIL import Image

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
SAMPLINGS = ("plain", "rerank", "clip-guided")
DEFAULT_MODEL = "gi-sim-tiny"  # the one place the default model is named (shipped: generators/gi-sim-tiny/)


@dataclass(frozen=True)
class LoraAdapter:
    """A LoRA adapter file (or a folder holding one, as `save_lora_weights` writes) and its blend weight.

    `name` is the adapter name inside the pipeline; empty means `lora<position>`.
    """

    path: str
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.path:
            raise GeneratorInputError("generator.loras: every adapter needs a path to its .safetensors file")
        if not math.isfinite(self.weight):
            raise GeneratorInputError(
                f"generator.loras: weight of {self.path} must be a finite number, got {self.weight}"
            )
        if self.name and not self.name.replace("_", "").replace("-", "").isalnum():
            raise GeneratorInputError(
                f"generator.loras: adapter name {self.name!r} must use letters, digits, '_' and '-' only"
            )


@dataclass(frozen=True)
class GeneratorConfig:
    """Which text-to-image model renders, and how.

    `model` is `tiny-random` (a small randomly initialised Stable Diffusion pipeline built from config,
    cached under the cache dir), a local diffusers pipeline folder (SD 1.x/2.x, SDXL, SD3), a single
    `.safetensors`/`.ckpt` checkpoint (offline it needs `single_file_config`: a diffusers pipeline folder of
    the same architecture holding at least its configs and tokenizers), or a Hugging Face hub id (only when
    online or already in the local hub cache).

    `scheduler` swaps the sampler (`default` keeps the model's); `attention_slicing` and `vae_tiling` trade
    speed for memory; `compile` runs the denoiser through torch.compile (CUDA only). `loras` are blended
    with their weights; `fuse_lora` merges them into the base weights once (faster sampling).

    `sampling` is the seed paper's CLIP-based approach: `rerank` renders `rerank_candidates` per (prompt, seed)
    and keeps the one `clip_model` aligns best with the prompt; `clip-guided` steers every `clip_guide_every`-th
    denoising step with the gradient of `clip_model`'s image-text similarity, scaled by `clip_guidance_scale`.
    `clip_model` is any spec `scorers.clip.load_clip` reads. Do not score a study with the same CLIP model.
    """

    model: str = DEFAULT_MODEL
    single_file_config: str = ""
    height: int = 64
    width: int = 64
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    safety_checker: bool = False
    scheduler: str = "default"
    attention_slicing: bool = False
    vae_tiling: bool = False
    compile: bool = False
    loras: tuple[LoraAdapter, ...] = ()
    fuse_lora: bool = False
    sampling: str = "plain"
    clip_model: str = ""
    rerank_candidates: int = 4
    clip_guidance_scale: float = 100.0
    clip_guide_every: int = 1

    def __post_init__(self) -> None:
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise GeneratorInputError(f"generator.device must be one of {DEVICES} or cuda:N, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise GeneratorInputError(f"generator.dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.device == "cpu" and self.dtype == "float16":
            raise GeneratorInputError(
                "generator.dtype float16 needs a GPU (device cuda or mps); on the CPU use float32 or bfloat16"
            )
        if self.height % 8 or self.width % 8 or self.height < 8 or self.width < 8:
            raise GeneratorInputError(
                f"generator height and width must be positive multiples of 8, got {self.height}x{self.width}"
            )
        if self.batch_size < 1:
            raise GeneratorInputError(f"generator.batch_size must be at least 1, got {self.batch_size}")
        if self.scheduler not in SCHEDULER_NAMES:
            raise GeneratorInputError(
                f"unknown generator.scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULER_NAMES)}"
            )
        if self.fuse_lora and not self.loras:
            raise GeneratorInputError("generator.fuse_lora needs at least one adapter in generator.loras")
        if self.sampling not in SAMPLINGS:
            raise GeneratorInputError(
                f"unknown generator.sampling {self.sampling!r}: choose one of {', '.join(SAMPLINGS)}"
            )
        if self.sampling != "plain" and not self.clip_model:
            raise GeneratorInputError(
                f"generator.sampling {self.sampling!r} needs generator.clip_model (a CLIP model spec)"
            )
        if self.rerank_candidates < 1 or self.clip_guide_every < 1:
            raise GeneratorInputError("generator.rerank_candidates and generator.clip_guide_every must be at least 1")
        if not math.isfinite(self.clip_guidance_scale) or self.clip_guidance_scale < 0:
            raise GeneratorInputError(f"generator.clip_guidance_scale must be >= 0, got {self.clip_guidance_scale}")
        names = self.adapter_names
        if len(set(names)) != len(names):
            raise GeneratorInputError(
                f"generator.loras: adapter names must be distinct, got {list(names)}; set distinct names"
            )

    @property
    def adapter_names(self) -> tuple[str, ...]:
        return tuple(lora.name or f"lora{i}" for i, lora in enumerate(self.loras))


class Generator(Protocol):
    """Renders one image per (prompt, seed) pair; image i depends only on (prompts[i], seeds[i]).

    `identity` is JSON-serialisable provenance (model hash, adapters, scheduler, device, dtype).
    """

    identity: dict[str, Any]
    device: str

    def render(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        negative_prompt: str | None = None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]: ...


def stable_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """The generator identity minus where it ran: a model, its adapters and scheduler, not the device."""
    return {k: v for k, v in identity.items() if k not in ("device", "dtype")}
