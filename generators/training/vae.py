"""Method `vae`: the loss, validation and output of training an AutoencoderKL on the dataset's images.

The Trainer (training.loop) drives it like any other method: the same data plan, optimizer, LR schedule, EMA,
checkpoints and log. A step's posterior sample draws its noise from the step's CPU generator, so a resumed
run equals an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from promptopt.generators.training.data import BatchPlan, CaptionDataset
from promptopt.generators.training.encode import Latents

VALIDATION_IMAGES = 4
SCALING_IMAGES = 64


def pixels(data: CaptionDataset, plan: BatchPlan, device: Any) -> Any:
    import torch

    return torch.stack([data.pixels(i, f) for i, f in zip(plan.indices, plan.flips)]).to(device)


def vae_loss(
    vae: Any,
    images: Any,
    generator: Any,
    *,
    loss: str,
    kl_weight: float,
    autocast: Callable[[], AbstractContextManager],
) -> Any:
    """Reconstruction (L1 or MSE, mean per pixel) of the decoded posterior sample + kl_weight × KL (summed over
    the latent, mean over the batch), in float32."""
    import torch
    import torch.nn.functional as F

    with autocast():
        dist = vae.encode(images).latent_dist
        eps = torch.randn(dist.mean.shape, generator=generator).to(dist.mean.device, dist.mean.dtype)
        decoded = vae.decode(dist.mean + dist.std * eps).sample
    decoded = decoded.float()
    reconstruction = F.l1_loss(decoded, images) if loss == "l1" else F.mse_loss(decoded, images)
    kl = dist.kl().float().mean()
    return reconstruction + kl_weight * kl


def reconstruct(vae: Any, images: Any, autocast: Callable[[], AbstractContextManager]) -> Any:
    """The decode of the posterior mean, clamped to [-1, 1] (no randomness: validation is deterministic)."""
    import torch

    with torch.no_grad(), autocast():
        return vae.decode(vae.encode(images).latent_dist.mean).sample.float().clamp(-1, 1)


def validation_images(data: CaptionDataset, device: Any) -> Any:
    """The first few training images, unflipped: fixed across steps and runs (not held out)."""
    import torch

    n = min(VALIDATION_IMAGES, len(data))
    return torch.stack([data.pixels(i, False) for i in range(n)]).to(device)


def validate_vae(vae: Any, images: Any, path: Path, autocast: Callable[[], AbstractContextManager]) -> dict[str, float]:
    """Save a grid (one row per image: original | reconstruction) to `path`; return the reconstruction MSE."""
    from promptopt.core.grids import save_grid

    recon = reconstruct(vae, images, autocast)
    mse = float(((recon - images.float()) ** 2).mean())
    pil = []
    for original, rebuilt in zip(images, recon):
        pil += [_to_pil(original), _to_pil(rebuilt)]
    save_grid(pil, len(images), path)
    return {"val_recon_mse": mse}


def _to_pil(pixels: Any) -> Any:
    from PIL import Image

    array = ((pixels.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array)


def save_vae(out: Path, vae: Any, data: CaptionDataset, device: Any, autocast: Any, scaling_factor: float) -> Path:
    """Set `scaling_factor` (given, or 1 / std of the latents of up to 64 training images) and save the
    AutoencoderKL into `out` (config.json written last), loadable with `AutoencoderKL.from_pretrained(out)`."""
    import shutil

    from promptopt.core.atomic import staging_dir
    from promptopt.generators.training.outputs import drop_source_paths, move_into

    if not scaling_factor:
        vae.register_to_config(scaling_factor=1.0)
        scaling_factor = Latents(vae, data, device, autocast=autocast).estimate_scaling_factor(SCALING_IMAGES)
    vae.register_to_config(scaling_factor=scaling_factor)
    staging = staging_dir(out, ".vae-staging-")
    try:
        vae.save_pretrained(staging, safe_serialization=True)
        drop_source_paths(staging)
        move_into(staging, out, "config.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
