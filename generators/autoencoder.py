"""A generator's autoencoder round trip: images → VAE encode (posterior mean) → decode → images.

What a latent diffusion model draws always passes through its VAE decoder, so a judge that will see generated
images is trained on images that went through the same autoencoder (`promptopt fit judge --autoencoder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from promptopt.generators.errors import ModelNotFoundError
from promptopt.generators.loading import ModelSource, model_identity, pipeline_folder


class Autoencoder:
    """The `vae/` of a diffusers pipeline folder (or of a model name `pipeline_folder` resolves)."""

    def __init__(self, model: str, cache_dir: Path, device: str = "cpu"):
        from diffusers import AutoencoderKL

        folder = pipeline_folder(model, cache_dir)
        if not (folder / "vae" / "config.json").is_file():
            raise ModelNotFoundError(f"model {model} has no vae/ folder: name a latent diffusion pipeline folder")
        self.model = model
        self.identity = model_identity(ModelSource(folder))
        self.device = device
        self.vae = AutoencoderKL.from_pretrained(folder / "vae").to(device).float().eval()

    def round_trip(self, pixels: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """uint8 NHWC pixels through encode (posterior mean) and decode, back to uint8 NHWC of the same size."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(pixels), batch_size):
                x = torch.from_numpy(pixels[i : i + batch_size]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
                latents = self.vae.encode(x.to(self.device)).latent_dist.mean
                decoded = self.vae.decode(latents).sample.clamp(-1.0, 1.0)
                out.append(_to_uint8(decoded))
        return np.concatenate(out) if out else pixels.copy()


def _to_uint8(x: Any) -> np.ndarray:
    """float NCHW on [-1, 1] → uint8 NHWC."""
    import torch

    return ((x + 1.0) * 127.5).round().clamp(0, 255).to("cpu", dtype=torch.uint8).permute(0, 2, 3, 1).numpy()
