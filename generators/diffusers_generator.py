"""Render with any diffusers text-to-image model: SD 1.x/2.x, SDXL or SD3, from a folder, a single file, a hub id
or tiny-random; with a chosen scheduler, memory options, LoRA adapters, and out-of-memory batch halving."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from promptopt.generators.base import GeneratorConfig
from promptopt.generators.errors import GeneratorInputError
from promptopt.generators.loading import (
    ModelNotFoundError,
    load_pipeline,
    model_identity,
    pipeline_folder,
    resolve_device_dtype,
    resolve_model,
)
from promptopt.generators.lora_adapters import load_loras
from promptopt.generators.schedulers import apply_scheduler

__all__ = ["DiffusersGenerator", "ModelNotFoundError", "load_generator", "pipeline_folder", "resolve_device_dtype"]


class DiffusersGenerator:
    """A loaded diffusers text-to-image pipeline with per-image seeds.

    `batch_size` is how many images go through the pipeline at once; a batch that runs out of GPU memory is
    retried at half the size (down to 1), and the smaller size is kept for the batches after it.
    """

    def __init__(
        self, pipe: Any, *, device: str, batch_size: int, height: int, width: int, identity: dict[str, Any]
    ) -> None:
        self.pipe = pipe
        self.device = device
        self.batch_size = batch_size
        self.height = height
        self.width = width
        self.identity = identity

    def render(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        negative_prompt: str | None = None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]:
        """One image per (prompt, seed); the starting noise comes from a CPU torch.Generator per image."""
        import torch

        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds; pass one seed per prompt")
        images: list[Image.Image] = []
        start = 0
        while start < len(prompts):
            size = min(self.batch_size, len(prompts) - start)
            try:
                images += self._batch(
                    prompts[start : start + size], seeds[start : start + size], negative_prompt, guidance_scale, steps
                )
                start += size
                continue
            except torch.cuda.OutOfMemoryError as err:
                if size == 1:
                    raise torch.cuda.OutOfMemoryError(
                        f"out of memory rendering a single {self.width}x{self.height} image on {self.device}: "
                        "lower the resolution, set attention_slicing and vae_tiling, or use a smaller dtype or model"
                    ) from err
            # outside the except block, so the failed batch's tensors are no longer referenced by a traceback
            self.batch_size = size // 2
            warnings.warn(
                f"out of memory rendering {size} images at once on {self.device}; "
                f"retrying with batches of {self.batch_size}",
                RuntimeWarning,
                stacklevel=2,
            )
            self._free_memory()
        return images

    def _batch(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        negative_prompt: str | None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]:
        import torch

        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
        with torch.inference_mode():
            out = self.pipe(
                list(prompts),
                negative_prompt=[negative_prompt] * len(prompts) if negative_prompt else None,
                guidance_scale=guidance_scale,
                num_inference_steps=steps,
                height=self.height,
                width=self.width,
                generator=generators,
                output_type="pil",
            )
        return list(out.images)

    def _free_memory(self) -> None:
        import torch

        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()


def _denoiser(pipe: Any) -> Any:
    """The network run at every step: the UNet (SD, SDXL) or the transformer (SD3)."""
    return pipe.unet if getattr(pipe, "unet", None) is not None else pipe.transformer


def _apply_memory_options(pipe: Any, cfg: GeneratorConfig) -> None:
    if cfg.attention_slicing:
        pipe.enable_attention_slicing()
    if cfg.vae_tiling:
        pipe.vae.enable_tiling()
    if cfg.compile:
        _denoiser(pipe).compile()  # after LoRA fusing, so the compiled graph holds the final weights


def load_generator(cfg: GeneratorConfig, *, cache_dir: Path) -> DiffusersGenerator:
    """Load the pipeline `cfg.model` names, on the configured device and dtype, with its scheduler and adapters."""
    import torch

    device, dtype = resolve_device_dtype(cfg.device, cfg.dtype)
    if cfg.compile and not device.startswith("cuda"):
        raise GeneratorInputError(
            f"generator.compile needs a CUDA device and this run uses {device}: torch.compile pays for its "
            "compile time only on a GPU; drop --compile (compile = false)"
        )
    source = resolve_model(cfg, cache_dir)
    pipe = load_pipeline(source, cfg, getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    apply_scheduler(pipe, cfg.scheduler, cfg.model)
    adapters = load_loras(pipe, cfg.loras, cfg.adapter_names, fuse=cfg.fuse_lora, base=cfg.model)
    _apply_memory_options(pipe, cfg)
    identity = {
        "model": cfg.model,
        "model_hash": model_identity(source),
        "pipeline": type(pipe).__name__,
        "scheduler": cfg.scheduler,
        "scheduler_class": type(pipe.scheduler).__name__,
        "loras": adapters,
        "fused": cfg.fuse_lora,
        "device": device,
        "dtype": dtype,
    }
    return DiffusersGenerator(
        pipe, device=device, batch_size=cfg.batch_size, height=cfg.height, width=cfg.width, identity=identity
    )
