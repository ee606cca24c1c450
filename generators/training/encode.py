"""Latents and text embeddings for training, cached in memory while their encoders are frozen.

The VAE never trains, so each image's posterior (mean, std) is encoded once and a latent is sampled from it
every step with the step's generator: the same distribution as encoding every step, at a fraction of the
cost. Text embeddings are cached per caption unless the text encoder trains (LoRA on it) or the captions are
joined anew each step (`cache=False`: each batch's captions are encoded in plan order, so a resumed run
computes the same embeddings). Prompts are
encoded exactly as `StableDiffusionPipeline.encode_prompt` does, so training and rendering agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from promptopt.generators.training.data import BatchPlan, CaptionDataset

ENCODE_BATCH = 16


def tokenize(tokenizer: Any, prompts: Sequence[str]) -> Any:
    """Token ids and attention mask padded to the tokenizer's max length, as the pipeline pads them."""
    return tokenizer(
        list(prompts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )


def encode_tokens(text_encoder: Any, tokens: Any, device: Any) -> Any:
    """Last hidden states; the attention mask is passed only where the pipeline passes it."""
    use_mask = bool(getattr(text_encoder.config, "use_attention_mask", False))
    mask = tokens.attention_mask.to(device) if use_mask else None
    return text_encoder(tokens.input_ids.to(device), attention_mask=mask)[0]


class TextEmbeddings:
    """Caption → (L, D) embedding; cached when the text encoder is frozen, encoded with grad when it trains."""

    def __init__(
        self,
        tokenizer: Any,
        text_encoder: Any,
        device: Any,
        *,
        trainable: bool,
        autocast: Callable[[], AbstractContextManager],
        cache: bool = True,
    ):
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.device = device
        self.trainable = trainable
        self.cache = cache
        self.autocast = autocast
        self._cache: dict[str, Any] = {}

    def __call__(self, captions: Sequence[str]) -> Any:
        import torch

        if self.trainable:
            with self.autocast():
                return encode_tokens(self.text_encoder, tokenize(self.tokenizer, captions), self.device).float()
        if not self.cache:
            with torch.no_grad(), self.autocast():
                return encode_tokens(self.text_encoder, tokenize(self.tokenizer, captions), self.device).float()
        self.prepare(captions)
        return torch.stack([self._cache[c] for c in captions])

    def prepare(self, captions: Sequence[str]) -> None:
        """Encode the captions not cached yet, in sorted order and fixed chunks (the trainer passes all of
        them up front, so a resumed run computes bit-identical embeddings)."""
        import torch

        if self.trainable or not self.cache:
            return
        missing = sorted({c for c in captions if c not in self._cache})
        for start in range(0, len(missing), ENCODE_BATCH):
            chunk = missing[start : start + ENCODE_BATCH]
            with torch.no_grad(), self.autocast():
                embeds = encode_tokens(self.text_encoder, tokenize(self.tokenizer, chunk), self.device).float()
            self._cache.update(zip(chunk, embeds))


class Latents:
    """Per (image, flip): the frozen VAE's posterior mean and std, scaled latents sampled on request."""

    def __init__(
        self, vae: Any, dataset: CaptionDataset, device: Any, *, autocast: Callable[[], AbstractContextManager]
    ):
        self.vae = vae
        self.dataset = dataset
        self.device = device
        self.autocast = autocast
        self._cache: dict[tuple[int, bool], tuple[Any, Any]] = {}

    def prepare(self, keys: Sequence[tuple[int, bool]]) -> None:
        """Encode the (image, flip) pairs not cached yet, in sorted order and fixed chunks (see TextEmbeddings)."""
        import torch

        missing = sorted({k for k in keys if k not in self._cache})
        for start in range(0, len(missing), ENCODE_BATCH):
            chunk = missing[start : start + ENCODE_BATCH]
            pixels = torch.stack([self.dataset.pixels(i, f) for i, f in chunk]).to(self.device)
            with torch.no_grad(), self.autocast():
                dist = self.vae.encode(pixels.to(self.vae.dtype)).latent_dist
            self._cache.update(zip(chunk, zip(dist.mean.float(), dist.std.float())))

    def sample(self, plan: BatchPlan, generator: Any) -> Any:
        """Scaled latents for the plan's images, drawn with `generator` (CPU) so every device draws the same."""
        import torch

        keys = list(zip(plan.indices, plan.flips))
        self.prepare(keys)
        mean = torch.stack([self._cache[k][0] for k in keys])
        std = torch.stack([self._cache[k][1] for k in keys])
        eps = torch.randn(mean.shape, generator=generator).to(mean.device)
        return self.scale(mean + std * eps)

    def scale(self, raw: Any) -> Any:
        config = self.vae.config
        shift = getattr(config, "shift_factor", None) or 0.0
        return (raw - shift) * config.scaling_factor

    def estimate_scaling_factor(self, max_images: int = 64) -> float:
        """1 / std of the posterior means of up to `max_images` training images (as SD chose 0.18215)."""
        import torch

        keys = [(i, False) for i in range(min(max_images, len(self.dataset)))]
        self.prepare(keys)
        means = torch.stack([self._cache[k][0] for k in keys])
        return float(1.0 / means.std().clamp_min(1e-6))
