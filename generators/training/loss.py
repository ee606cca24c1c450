"""The denoising loss of one micro-batch: noise (with offset), timesteps, target, Min-SNR-γ, DreamBooth prior.

Noise and timesteps are drawn on the CPU from the micro-step's generator and then moved, so every device
trains on the same draws.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


def snr_loss_weights(noise_scheduler: Any, timesteps: Any, gamma: float) -> Any:
    """Min-SNR-γ weights (Hang et al. 2023) per sample: min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR+1)
    for v-prediction, so that the weighted loss equals min(SNR, γ)·‖x̂0 − x0‖² in both."""
    import torch
    from diffusers.training_utils import compute_snr

    snr = compute_snr(noise_scheduler, timesteps)
    clipped = torch.minimum(snr, torch.full_like(snr, gamma))
    if noise_scheduler.config.prediction_type == "v_prediction":
        return clipped / (snr + 1)
    return clipped / snr.clamp_min(torch.finfo(snr.dtype).tiny)


def denoising_loss(
    unet: Any,
    scheduler: Any,
    latents: Any,
    embeds: Any,
    generator: Any,
    *,
    noise_offset: float,
    snr_gamma: float | None,
    prior_loss_weight: float | None,
    autocast: Callable[[], AbstractContextManager],
) -> Any:
    """Mean (weighted) MSE of the UNet's prediction. With `prior_loss_weight`, the second half of the batch
    holds class images: loss = instance mean + prior_loss_weight × class mean."""
    import torch
    import torch.nn.functional as F

    noise = torch.randn(latents.shape, generator=generator)
    if noise_offset:
        noise += noise_offset * torch.randn((*latents.shape[:2], 1, 1), generator=generator)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(latents),), generator=generator)
    noise, timesteps = noise.to(latents.device), timesteps.to(latents.device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    if scheduler.config.prediction_type == "epsilon":
        target = noise
    else:
        target = scheduler.get_velocity(latents, noise, timesteps)
    with autocast():
        pred = unet(noisy, timesteps, embeds).sample
    per_sample = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    if snr_gamma is not None:
        per_sample = per_sample * snr_loss_weights(scheduler, timesteps, snr_gamma)
    if prior_loss_weight is None:
        return per_sample.mean()
    instance, prior = per_sample.chunk(2)
    return instance.mean() + prior_loss_weight * prior.mean()
