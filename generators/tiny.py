"""A tiny randomly initialised Stable Diffusion pipeline: the offline stand-in until a trained model ships.

It is built from configs with a fixed seed (the same weights on every machine), saved once with
`save_pretrained` under the cache dir, and from then on loaded like any local pipeline folder.
Its tokenizer is the BERT word-piece tokenizer of the bundled all-MiniLM-L6-v2 package, because no CLIP
tokenizer files exist offline.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from promptopt.core.atomic import staging_dir
from promptopt.generators.bundled_text import MAX_TOKENS
from promptopt.scorers.assets import minilm_dir

TINY_NAME = "tiny-random"
TINY_VERSION = "v2"
TINY_SEED = 0


def build_tiny_pipeline(seed: int = TINY_SEED) -> Any:
    """Build the tiny pipeline in memory; the same seed gives the same weights."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), model_max_length=MAX_TOKENS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(32, 64),
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=32,
            sample_size=64,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=tokenizer.vocab_size,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=MAX_TOKENS,
                pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.cls_token_id,
                eos_token_id=tokenizer.sep_token_id,
            )
        )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def tiny_pipeline_dir(cache_dir: Path) -> Path:
    """The cached tiny pipeline folder, built and saved atomically on first use."""
    target = cache_dir / f"{TINY_NAME}-{TINY_VERSION}"
    if (target / "model_index.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(cache_dir, f".{TINY_NAME}-")
    try:
        build_tiny_pipeline().save_pretrained(staging, safe_serialization=True)
        try:
            os.replace(staging, target)
        except OSError:  # another process won the race; its folder is identical
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
