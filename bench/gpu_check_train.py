"""bench/gpu_check.py's training checks: LoRA speed against diffusers' own step, and checkpoint resume."""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpu_check_common import Peak, Row, free, row
from PIL import Image

from promptopt.generators.training.config import LoraTrainConfig, TrainConfig
from promptopt.generators.training.train import train


def lora_config(folder: Path, run: dict, device: str, amp: str, steps: int, **extra: Any) -> TrainConfig:
    return TrainConfig(
        method="lora",
        base=str(folder),
        resolution=run["resolution"],
        train_batch_size=run["train_batch"],
        max_train_steps=steps,
        mixed_precision=amp,
        device=device,
        checkpointing_steps=0,
        seed=0,
        **extra,
    )


def promptopt_lora(
    folder: Path, examples: list, out: Path, run: dict, device: str, amp: str
) -> tuple[float, float | None, list]:
    stamps: list[float] = []
    cfg = lora_config(folder, run, device, amp, run["train_steps"])
    with Peak(device) as peak:
        result = train(
            cfg, examples, out, base_folder=folder, on_step=lambda report: stamps.append(time.perf_counter())
        )
    rate = (len(stamps) - 2) / (stamps[-1] - stamps[1])  # the first two steps warm up
    return rate, peak.gib, [r["loss"] for r in result.log]


def diffusers_lora(folder: Path, examples: list, run: dict, device: str, amp: str) -> tuple[float, float | None, list]:
    """The step of diffusers' examples/text_to_image/train_text_to_image_lora.py, with the same LoRA config."""
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig

    weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, torch.float32)
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=weight_dtype)
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False).to(device)
    lora = LoraTrainConfig()
    unet.add_adapter(
        LoraConfig(
            r=lora.rank, lora_alpha=lora.alpha, init_lora_weights="gaussian", target_modules=list(lora.target_modules)
        )
    )
    cast_training_params(unet, dtype=torch.float32)
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    noise_scheduler = DDPMScheduler.from_pretrained(folder, subfolder="scheduler")
    batch = run["train_batch"]
    pixels = torch.stack([torch.from_numpy(np.array(Image.open(e.image).convert("RGB"))) for e in examples])
    pixels = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device, weight_dtype)
    ids = tokenizer(
        [e.prompts[0] for e in examples],
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids.to(device)
    autocast = torch.autocast(torch.device(device).type, dtype=weight_dtype) if amp != "no" else nullcontext()
    losses, stamps = [], []
    unet.train()
    with Peak(device) as peak:
        for step in range(run["train_steps"]):
            rows = [(step * batch + k) % len(examples) for k in range(batch)]
            with torch.no_grad():
                latents = vae.encode(pixels[rows]).latent_dist.sample() * vae.config.scaling_factor
                embeds = text_encoder(ids[rows], return_dict=False)[0]
            noise = torch.randn_like(latents)
            t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,), device=device)
            with autocast:
                pred = unet(noise_scheduler.add_noise(latents, noise, t), t, embeds, return_dict=False)[0]
            loss = F.mse_loss(pred.float(), noise.float())
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            stamps.append(time.perf_counter())
    del pipe, unet, vae, text_encoder
    return (len(stamps) - 2) / (stamps[-1] - stamps[1]), peak.gib, losses


def check_training(folder: Path, examples: list, work: Path, run: dict, device: str, amps: list[str]) -> list[Row]:
    rows = []
    for amp in amps:
        rate, gib, losses = promptopt_lora(folder, examples, work / f"train-{amp}", run, device, amp)
        rows.append(row("train LoRA", f"promptopt {amp}", rate, "steps/s", bool(np.isfinite(losses).all()), gib))
        free(device)
        rate, gib, losses = diffusers_lora(folder, examples, run, device, amp)
        rows.append(
            row(
                "train LoRA",
                f"diffusers {amp}",
                rate,
                "steps/s",
                bool(np.isfinite(losses).all()),
                gib,
                "encodes images and captions every step",
            )
        )
        free(device)
    return rows


# --- 5. checkpoint resume -------------------------------------------------------------------------------
def check_resume(folder: Path, examples: list, work: Path, run: dict, device: str, amp: str) -> list[Row]:
    steps = run["resume_steps"]
    cfg = lora_config(folder, run, device, amp, steps, lora=LoraTrainConfig(dropout=0.1))
    whole = [[r["loss"] for r in train(cfg, examples, work / f"whole-{i}", base_folder=folder).log] for i in range(2)]
    done: list[int] = []
    half = dataclasses.replace(cfg, checkpointing_steps=steps // 2)
    train(
        half,
        examples,
        work / "resumed",
        base_folder=folder,
        on_step=lambda r: done.append(r.step),
        should_stop=lambda: done[-1] >= steps // 2,
    )
    resumed = [r["loss"] for r in train(half, examples, work / "resumed", base_folder=folder, resume="latest").log]
    floor = float(np.abs(np.subtract(*whole)).max())
    gap = float(np.abs(np.subtract(whole[0], resumed)).max())
    free(device)
    return [
        row(
            "resume",
            f"LoRA {amp}, dropout 0.1, stopped at {steps // 2}/{steps}",
            gap,
            "max |Δ loss|",
            gap <= floor,
            note=f"two uninterrupted runs differ by {floor:.2e}",
        )
    ]
