"""What the parts of bench/gpu_check.py share: the SD-architecture pipeline built from configs, the prompts, the
timer with peak GPU memory, and the table's rows."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from promptopt.generators.bundled_text import MAX_TOKENS
from promptopt.generators.training.data import TrainExample
from promptopt.scorers.assets import minilm_dir

PROMPTS = ("Generate a polyp of type paris ip.", "Generate an image containing biopsy forceps.")
GUIDANCE = 7.5
Row = dict[str, Any]


def build_pipeline(configs: Path, folder: Path) -> None:
    """SD's modules from `configs` with seeded random weights, saved as a diffusers folder (float16 weights on
    disk, so every dtype starts from the same numbers)."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    def config(name: str) -> dict[str, Any]:
        return json.loads((configs / f"{name}.json").read_text())

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), model_max_length=MAX_TOKENS)
    torch.manual_seed(0)
    text = CLIPTextConfig(
        **config("text_encoder"),
        vocab_size=tokenizer.vocab_size,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel.from_config(config("unet")),
        vae=AutoencoderKL.from_config(config("vae")),
        text_encoder=CLIPTextModel(text),
        tokenizer=tokenizer,
        scheduler=PNDMScheduler.from_config(config("scheduler")),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16).save_pretrained(folder, safe_serialization=True)


class Peak:
    """Seconds and peak GPU memory (GiB; None on the CPU) of a block."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def __enter__(self) -> Peak:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start
        self.gib = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None


def row(
    check: str, variant: str, value: float, unit: str, ok: bool = True, gib: float | None = None, note: str = ""
) -> Row:
    return {"check": check, "variant": variant, "value": value, "unit": unit, "peak_gib": gib, "ok": ok, "note": note}


def finite(images: list[Image.Image]) -> bool:
    """Rendered images are never all one colour (what NaN latents decode to)."""
    return all(np.asarray(image).std() > 0 for image in images)


def free(device: str) -> None:

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def training_images(folder: Path, n: int, size: int) -> list[TrainExample]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    examples = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        examples.append(TrainExample(path, (PROMPTS[i % 2],)))
    return examples
