"""bench/gpu_check.py's rendering checks: speed against diffusers, equivalence across dtypes, the out-of-memory
fallback."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpu_check_common import GUIDANCE, PROMPTS, Peak, Row, finite, free, row
from PIL import Image

from promptopt.core.paths import cache_dir
from promptopt.generators.base import GeneratorConfig
from promptopt.generators.diffusers_generator import load_generator
from promptopt.generators.training.loss import denoising_loss


# --- 1. render ------------------------------------------------------------------------------------------
def check_render(folder: Path, run: dict, device: str, dtypes: list[str]) -> tuple[list[Row], dict[str, list]]:
    from diffusers import StableDiffusionPipeline

    size, steps, batch = run["resolution"], run["steps"], run["batch"]
    prompts = [PROMPTS[i % 2] for i in range(2 * batch)]
    seeds = list(range(len(prompts)))
    rows, images = [], {}

    def timed(render: Render) -> tuple[float, float | None, list]:
        render(prompts[:batch], seeds[:batch])  # warm-up: kernels, allocator, compile
        with Peak(device) as peak:
            out = [
                im for i in range(0, len(prompts), batch) for im in render(prompts[i : i + batch], seeds[i : i + batch])
            ]
        return len(out) / peak.seconds, peak.gib, out

    for dtype in dtypes:
        compiled = device.startswith("cuda") and dtype == "bfloat16"  # once: compiling costs a minute or more
        variants = [("promptopt", False)] + ([("promptopt + compile", True)] if compiled else [])
        for name, compile_ in variants:
            config = GeneratorConfig(
                model=str(folder),
                device=device,
                dtype=dtype,
                batch_size=batch,
                height=size,
                width=size,
                compile=compile_,
            )
            rate, gib, out = timed(promptopt_render(config, steps))
            rows.append(row("render", f"{name} {dtype}", rate, "images/s", finite(out), gib))
            images.setdefault(dtype, out)
            free(device)
        pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device)
        pipe.set_progress_bar_config(disable=True)
        for name in ("diffusers", "diffusers + channels-last"):
            if name.endswith("channels-last"):
                pipe.unet.to(memory_format=torch.channels_last)
            rate, gib, out = timed(bare_render(pipe, size, steps))
            rows.append(row("render", f"{name} {dtype}", rate, "images/s", finite(out), gib))
        del pipe
        free(device)
    for dtype in dtypes:  # promptopt / diffusers, the ratio bench/render_throughput.py targets at >= 0.95
        ours, theirs = (
            next(r["value"] for r in rows if r["variant"] == f"{n} {dtype}") for n in ("promptopt", "diffusers")
        )
        rows.append(row("render", f"ratio promptopt/diffusers {dtype}", ours / theirs, "x"))
    return rows, images


Render = Callable[[list[str], list[int]], list[Image.Image]]


def promptopt_render(config: GeneratorConfig, steps: int) -> Render:
    gen = load_generator(config, cache_dir=cache_dir())
    return lambda prompts, seeds: gen.render(prompts, seeds, guidance_scale=GUIDANCE, steps=steps)


def bare_render(pipe: Any, size: int, steps: int) -> Render:
    def render(prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        with torch.inference_mode():
            return pipe(
                prompts,
                guidance_scale=GUIDANCE,
                num_inference_steps=steps,
                height=size,
                width=size,
                generator=generators,
                output_type="pil",
            ).images

    return render


# --- 3. equivalence -------------------------------------------------------------------------------------
def check_equivalence(folder: Path, examples: list, images: dict[str, list], device: str) -> list[Row]:
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    reference = np.stack([np.asarray(im, dtype=np.float64) for im in images["float32"]])
    rows = []
    for dtype, out in images.items():
        if dtype != "float32":
            mad = float(np.abs(np.stack([np.asarray(im, dtype=np.float64) for im in out]) - reference).mean())
            rows.append(
                row("equivalence", f"images {dtype} vs float32", mad, "mean |Δ| of 0-255", bool(np.isfinite(mad)))
            )
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.float32).to(device)
    scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    with torch.no_grad():
        pixels = torch.stack([torch.from_numpy(np.array(Image.open(e.image).convert("RGB"))) for e in examples[:2]])
        pixels = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)
        latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
        embeds = pipe.encode_prompt([e.prompts[0] for e in examples[:2]], device, 1, False)[0]
        losses = {}
        for dtype in images:
            amp = getattr(torch, dtype)
            autocast = (
                (lambda amp=amp: torch.autocast(torch.device(device).type, dtype=amp))
                if dtype != "float32"
                else nullcontext
            )
            generator = torch.Generator("cpu").manual_seed(0)
            losses[dtype] = float(
                denoising_loss(
                    pipe.unet,
                    scheduler,
                    latents,
                    embeds,
                    generator,
                    noise_offset=0.0,
                    snr_gamma=None,
                    prior_loss_weight=None,
                    autocast=autocast,
                )
            )
    for dtype, loss in losses.items():
        rows.append(
            row(
                "equivalence",
                f"loss of one batch, {dtype}",
                loss,
                "MSE",
                bool(np.isfinite(loss)),
                note=f"{abs(loss - losses['float32']) / losses['float32']:.2e} relative to float32",
            )
        )
    del pipe
    free(device)
    return rows


# --- 4. out-of-memory fallback --------------------------------------------------------------------------
class _InjectedLimit:
    """The pipeline, raising CUDA's out-of-memory error on batches above `limit` (for the CPU run)."""

    def __init__(self, pipe: Any, limit: int) -> None:
        self.pipe, self.limit = pipe, limit

    def __call__(self, prompts: list[str], **kwargs: Any) -> Any:
        if len(prompts) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"injected: {len(prompts)} images > {self.limit}")
        return self.pipe(prompts, **kwargs)


def check_oom(folder: Path, run: dict, device: str, dtype: str) -> list[Row]:
    size, steps, batch = run["resolution"], run["steps"], run["batch"]
    gen = load_generator(
        GeneratorConfig(model=str(folder), device=device, dtype=dtype, batch_size=batch, height=size, width=size),
        cache_dir=cache_dir(),
    )
    prompts, seeds = [PROMPTS[0]] * batch, list(range(batch))
    cuda = device.startswith("cuda")
    if cuda:
        with Peak(device) as one:
            gen.render(prompts[:1], seeds[:1], guidance_scale=GUIDANCE, steps=1)
        with Peak(device) as full:
            gen.render(prompts, seeds, guidance_scale=GUIDANCE, steps=1)
        free(device)
        cap = one.gib + 0.6 * (full.gib - one.gib)
        torch.cuda.set_per_process_memory_fraction(cap * 2**30 / torch.cuda.get_device_properties(device).total_memory)
        how = f"memory capped at {cap:.1f} GiB (one image {one.gib:.1f}, {batch} images {full.gib:.1f})"
    else:
        gen.pipe = _InjectedLimit(gen.pipe, batch // 2)
        how = f"out-of-memory error injected above {batch // 2} images"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            images = gen.render(prompts, seeds, guidance_scale=GUIDANCE, steps=steps)
    finally:
        if cuda:
            torch.cuda.set_per_process_memory_fraction(1.0)
    said = [str(w.message) for w in caught if "out of memory" in str(w.message)]
    ok = bool(said) and len(images) == batch and gen.batch_size < batch and finite(images)
    del gen
    free(device)
    return [
        row(
            "out of memory",
            f"batch {batch} {dtype}",
            gen_batch(said, batch),
            "final batch size",
            ok,
            note=f"{how}; warned: {said[0] if said else 'nothing'}",
        )
    ]


def gen_batch(said: list[str], batch: int) -> int:
    """The batch size the last warning retried with."""
    return int(said[-1].rsplit(" ", 1)[-1]) if said else batch
