"""CLIP-guided sampling for a Stable Diffusion pipeline (after diffusers' community `clip_guided_stable_diffusion`).

At every `guide_every`-th denoising step the sampler, with grad enabled on the latents x_t:

1. predicts the noise ε for the text condition only (one extra UNet pass),
2. forms the predicted clean latents x0 = (x_t − sqrt(1−ᾱ_t)·ε) / sqrt(ᾱ_t)
   (sigma schedulers keep x_t = x0 + σ_t·ε, so x0 = x_t − σ_t·ε),
3. decodes x0 with the VAE, maps the image to the CLIP input in torch (resize, crop, normalise with the CLIP
   model's own preprocess cfg) and embeds it,
4. takes the gradient g of −clip_guidance_scale · spherical_distance(image, text) w.r.t. x_t,
5. and shifts the classifier-free-guided noise prediction: ε ← ε − std_t · g, std_t = sqrt(1−ᾱ_t) or σ_t
   (classifier guidance: the score gains ∇ log p(text | x_t)).

Differences from the community pipeline, on purpose: the loss is summed over the batch, not averaged, so
image i depends only on (prompt i, seed i); x0 is decoded as is (the community pipeline blends it with x_t);
sigma schedulers shift ε like the others instead of moving the latents; no random cutouts (they would draw
from a global RNG). With clip_guidance_scale = 0 no gradient is taken and the images are the pipeline's own.
DPM-Solver and UniPC read ᾱ at the integer timestep, exact for their default (non-Karras) spacing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from promptopt.scorers.clip import ClipModel

# schedulers whose latents are x_t = sqrt(ᾱ)·x0 + sqrt(1−ᾱ)·ε, indexed by the integer timestep
ALPHA_SCHEDULERS = (
    "DDIMScheduler",
    "DDPMScheduler",
    "PNDMScheduler",
    "DPMSolverMultistepScheduler",
    "UniPCMultistepScheduler",
)
# schedulers whose latents are x_t = x0 + σ·ε, indexed by their step counter
SIGMA_SCHEDULERS = ("LMSDiscreteScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler")
RESIZE_MODES = ("shortest", "squash")


def scheduler_kind(scheduler: Any) -> str:
    """`alpha` or `sigma`: how the scheduler's latents relate to x0 and ε; ValueError for anything else."""
    name = type(scheduler).__name__
    prediction = getattr(scheduler.config, "prediction_type", "epsilon")
    if prediction != "epsilon":
        raise ValueError(
            f"CLIP guidance needs an epsilon-prediction model, the scheduler says prediction_type={prediction!r}; "
            "use an SD 1.x-style (epsilon) checkpoint or plain sampling"
        )
    if name in ALPHA_SCHEDULERS:
        return "alpha"
    if name in SIGMA_SCHEDULERS:
        return "sigma"
    raise ValueError(
        f"CLIP guidance does not support the scheduler {name}; use one of {ALPHA_SCHEDULERS + SIGMA_SCHEDULERS}"
    )


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Half the squared angle between the rows of a and b, 2·arcsin(‖â − b̂‖/2)² (the community pipeline's loss)."""
    import torch.nn.functional as F

    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return (a - b).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def _per_channel(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value) if isinstance(value, (list, tuple)) else (float(value),) * 3


class ClipInput:
    """The CLIP model's eval preprocessing as a differentiable map of (n, 3, H, W) images in [0, 1].

    Reads size, mean, std, interpolation and resize mode from `open_clip.get_model_preprocess_cfg`, and
    resizes with torchvision's tensor resize (antialiased) so sizes and crops match the PIL transform
    `scorers.clip.encode_images` uses.
    """

    def __init__(self, model: Any):
        import open_clip
        from open_clip.transform import PreprocessCfg

        cfg = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))  # the defaults scorers.clip uses too
        self.size = (cfg.size, cfg.size) if isinstance(cfg.size, int) else tuple(cfg.size)
        self.mode = cfg.resize_mode
        if self.mode not in RESIZE_MODES or (self.mode == "shortest" and self.size[0] != self.size[1]):
            raise ValueError(
                f"CLIP guidance supports resize_mode {RESIZE_MODES} with a square size for 'shortest', "
                f"the CLIP model has {self.mode!r} at {self.size}; use a CLIP model with such a preprocess cfg"
            )
        self.interpolation = "bilinear" if cfg.interpolation == "bilinear" else "bicubic"
        self.mean = _per_channel(cfg.mean)
        self.std = _per_channel(cfg.std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms.v2 import functional as TF

        interpolation = InterpolationMode(self.interpolation)
        if self.mode == "squash":
            x = TF.resize(images, list(self.size), interpolation=interpolation, antialias=True)
        else:
            x = TF.resize(images, [self.size[0]], interpolation=interpolation, antialias=True)
            x = TF.center_crop(x, list(self.size))
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std


class ClipGuidedGenerator:
    """Renders with a StableDiffusionPipeline, steering each denoising step towards higher CLIP similarity.

    One CPU torch.Generator per image, and a per-image loss, so image i depends only on (prompt i, seed i).
    """

    def __init__(
        self,
        pipe: Any,
        clip: ClipModel,
        *,
        clip_guidance_scale: float,
        height: int,
        width: int,
        batch_size: int = 1,
        guide_every: int = 1,
        identity: Mapping[str, str] | None = None,
    ):
        if not math.isfinite(clip_guidance_scale) or clip_guidance_scale < 0:
            raise ValueError(f"clip_guidance_scale must be a finite number >= 0, got {clip_guidance_scale}")
        if guide_every < 1:
            raise ValueError(f"guide_every must be at least 1 (guide every n-th step), got {guide_every}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        from diffusers import StableDiffusionPipeline

        if not isinstance(pipe, StableDiffusionPipeline):
            raise ValueError(
                f"CLIP guidance needs a StableDiffusionPipeline (SD 1.x/2.x), got {type(pipe).__name__}; "
                "use plain or rerank sampling with this model"
            )
        if pipe.unet.config.time_cond_proj_dim is not None:
            raise ValueError("CLIP guidance does not support guidance-embedded (LCM-style) UNets; use plain sampling")
        scheduler_kind(pipe.scheduler)
        self.pipe = pipe
        self.device = str(pipe.device)
        self.clip = clip
        self.clip_input = ClipInput(clip.model)
        self.clip_guidance_scale = float(clip_guidance_scale)
        self.guide_every = guide_every
        self.height = height
        self.width = width
        self.batch_size = batch_size
        self.identity = {
            **(identity or {}),
            "sampling": "clip-guided",
            "clip_model": clip.name,
            "clip_guidance_scale": repr(self.clip_guidance_scale),
            "clip_guide_every": str(guide_every),
        }

    @classmethod
    def from_generator(
        cls, base: Any, clip: ClipModel, *, clip_guidance_scale: float, guide_every: int = 1
    ) -> ClipGuidedGenerator:
        """Guide a loaded `DiffusersGenerator`: same pipeline, size, batch size and identity."""
        return cls(
            base.pipe,
            clip,
            clip_guidance_scale=clip_guidance_scale,
            height=base.height,
            width=base.width,
            batch_size=base.batch_size,
            guide_every=guide_every,
            identity=base.identity,
        )

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
        # guidance needs autograd, so leave any inference_mode the caller set; only the guidance step enables grad
        with torch.inference_mode(False), torch.no_grad():
            for start in range(0, len(prompts), self.batch_size):
                batch = list(prompts[start : start + self.batch_size])
                generators = [
                    torch.Generator("cpu").manual_seed(int(s)) for s in seeds[start : start + self.batch_size]
                ]
                images.extend(self._sample(batch, generators, negative_prompt, guidance_scale, steps))
        return images

    def _sample(
        self,
        prompts: list[str],
        generators: list[torch.Generator],
        negative_prompt: str | None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]:
        """StableDiffusionPipeline.__call__'s loop (defaults otherwise) with the CLIP step added."""
        import torch
        from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import retrieve_timesteps

        pipe = self.pipe
        kind = scheduler_kind(pipe.scheduler)  # the scheduler may have been swapped since __init__
        device = pipe._execution_device  # private, as diffusers' own pipelines use it (checked: diffusers 0.42.1)
        cfg = guidance_scale > 1
        text_embeds, uncond_embeds = pipe.encode_prompt(
            prompts, device, 1, cfg, [negative_prompt] * len(prompts) if negative_prompt else None
        )
        unet_embeds = torch.cat([uncond_embeds, text_embeds]) if cfg else text_embeds
        timesteps, _ = retrieve_timesteps(pipe.scheduler, steps, device)
        latents = pipe.prepare_latents(
            len(prompts),
            pipe.unet.config.in_channels,
            self.height,
            self.width,
            text_embeds.dtype,
            device,
            generators,
        )
        step_kwargs = pipe.prepare_extra_step_kwargs(generators, 0.0)
        clip_text = self._clip_text(prompts) if self.clip_guidance_scale > 0 else None
        for i, t in enumerate(timesteps):
            model_input = torch.cat([latents] * 2) if cfg else latents
            model_input = pipe.scheduler.scale_model_input(model_input, t)
            noise = pipe.unet(model_input, t, encoder_hidden_states=unet_embeds, return_dict=False)[0]
            if cfg:
                uncond, text = noise.chunk(2)
                noise = uncond + guidance_scale * (text - uncond)
            if clip_text is not None and i % self.guide_every == 0:
                grad, std = self._clip_gradient(latents, t, text_embeds, clip_text, kind)
                noise = noise - std * grad
            latents = pipe.scheduler.step(noise, t, latents, **step_kwargs, return_dict=False)[0]
        decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generators)[0]
        return pipe.image_processor.postprocess(decoded, output_type="pil", do_denormalize=[True] * len(prompts))

    def _clip_text(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.clip.tokenizer(prompts, context_length=self.clip.context_length)
        return self.clip.model.encode_text(tokens.to(self.clip.device)).float()

    def _clip_gradient(
        self, latents: torch.Tensor, t: torch.Tensor, text_embeds: torch.Tensor, clip_text: torch.Tensor, kind: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """g = −∇_{x_t} scale·Σ_i spherical_distance(CLIP(decode(x0_i)), CLIP(prompt_i)), and std_t."""
        import torch

        pipe = self.pipe
        with torch.enable_grad():
            x = latents.detach().requires_grad_()
            model_input = pipe.scheduler.scale_model_input(x, t)
            eps = pipe.unet(model_input, t, encoder_hidden_states=text_embeds, return_dict=False)[0]
            if kind == "alpha":
                alpha_bar = pipe.scheduler.alphas_cumprod[int(t)].to(x.device, x.dtype)
                std = (1 - alpha_bar).sqrt()
                x0 = (x - std * eps) / alpha_bar.sqrt()
            else:
                std = pipe.scheduler.sigmas[pipe.scheduler.step_index].to(x.device, x.dtype)
                x0 = x - std * eps
            image = pipe.vae.decode((x0 / pipe.vae.config.scaling_factor).to(pipe.vae.dtype), return_dict=False)[0]
            image = (image / 2 + 0.5).clamp(0, 1)
            pixels = self.clip_input(image.float()).to(self.clip.device, next(self.clip.model.parameters()).dtype)
            image_embeds = self.clip.model.encode_image(pixels).float()
            loss = spherical_distance(image_embeds, clip_text).sum() * self.clip_guidance_scale
            grad = -torch.autograd.grad(loss, x)[0]
        return grad.to(latents.dtype), std
