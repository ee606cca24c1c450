"""The modules a training run works on: loaded from a base pipeline, or built from config with random weights.

Random-init models are built from `ModelInitConfig`, each component seeded from the run's seed inside
`torch.random.fork_rng`, so a resumed run rebuilds the same frozen VAE and text encoder and the caller's
global RNG is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.generators.bundled_text import MAX_TOKENS, MINILM, bundled_components, minilm_text_encoder
from promptopt.generators.errors import loading_weights, read_model_index
from promptopt.generators.training.config import ModelInitConfig, TrainConfig, VaeInitConfig
from promptopt.generators.training.data import derive_seed

SD_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


@dataclass
class Models:
    """UNet, VAE, text encoder and tokenizer; `noise_scheduler` (DDPM) trains, `scheduler` samples.
    A `vae` run holds the VAE only (the other modules are None). `bundled_text`: the text encoder is the
    bundled MiniLM, so the saved pipeline leaves it out (`generators.bundled_text`)."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    noise_scheduler: Any
    scheduler: Any
    random_vae: bool = False
    bundled_text: bool = False

    def pipeline(self) -> Any:
        """A StableDiffusionPipeline over these very modules (no copies): renders the current weights."""
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(
            vae=self.vae,
            text_encoder=self.text_encoder,
            tokenizer=self.tokenizer,
            unet=self.unet,
            scheduler=self.scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def trainables(self) -> dict[str, Any]:
        """Trainable parameters by name (`unet.…`, `text_encoder.…`, `vae.…`), in a fixed order."""
        found = {}
        for prefix, module in (("unet", self.unet), ("text_encoder", self.text_encoder), ("vae", self.vae)):
            if module is not None:
                found.update({f"{prefix}.{n}": p for n, p in module.named_parameters() if p.requires_grad})
        return found

    def train_mode(self, on: bool, *, text_encoder: bool, vae: bool = False) -> None:
        if self.unet is not None:
            self.unet.train(on)
        if self.text_encoder is not None:
            self.text_encoder.train(on and text_encoder)
        self.vae.train(on and vae)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU RNG for the block only; the caller's RNG state is restored afterwards."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def load_models(cfg: TrainConfig, base_folder: Path | None) -> Models:
    if cfg.method == "vae" and cfg.model is not None:
        spec = cfg.model.vae
        vae = _vae(spec, cfg.model.norm_num_groups, cfg.resolution, derive_seed(cfg.seed, 12))
        return Models(None, vae, None, None, None, None, random_vae=not spec.pretrained)
    models = _from_base(base_folder) if cfg.model is None else _random_models(cfg.model, cfg.resolution, cfg.seed)
    if cfg.prediction_type:
        for scheduler in (models.noise_scheduler, models.scheduler):
            scheduler.register_to_config(prediction_type=cfg.prediction_type)
    return models


def place(models: Models, device: Any, weight_dtype: Any) -> None:
    """Freeze every module and move it to the device; cast it when `weight_dtype` is not float32."""
    import torch

    for module in (models.unet, models.vae, models.text_encoder):
        if module is None:
            continue
        module.requires_grad_(False)
        module.to(device)
        if weight_dtype != torch.float32:
            module.to(dtype=weight_dtype)


def add_trainables(models: Models, cfg: TrainConfig) -> list[Any]:
    """LoRA adapters (kept in float32, so fp16 grad scaling never unscales fp16 gradients) on the frozen modules,
    or the whole UNet for full training; then gradient checkpointing. Returns the trainable parameters."""
    import torch
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig, inject_adapter_in_model

    lora = cfg.lora
    if cfg.method == "vae":
        models.vae.requires_grad_(True)
        if cfg.gradient_checkpointing:
            models.vae.enable_gradient_checkpointing()
        return list(models.trainables().values())
    if cfg.trains_lora:

        def adapter(targets: tuple[str, ...]) -> LoraConfig:
            return LoraConfig(
                r=lora.rank,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                init_lora_weights="gaussian",
                target_modules=list(targets),
            )

        models.unet.add_adapter(adapter(lora.target_modules))
        if lora.train_text_encoder:  # peft directly: transformers' add_adapter insists on a newer peft
            inject_adapter_in_model(adapter(lora.text_encoder_target_modules), models.text_encoder)
        cast_training_params([models.unet, models.text_encoder], dtype=torch.float32)
    else:
        models.unet.requires_grad_(True)
    if cfg.gradient_checkpointing:
        models.unet.enable_gradient_checkpointing()
        if cfg.trains_lora and lora.train_text_encoder:
            models.text_encoder.gradient_checkpointing_enable()
    return list(models.trainables().values())


def _from_base(folder: Path | None) -> Models:
    from diffusers import DDPMScheduler, DiffusionPipeline

    if folder is None:
        raise ValueError("no base model folder given: pass the folder of the pipeline to fine-tune")
    index = read_model_index(folder)
    missing = [name for name in SD_COMPONENTS if not (index.get(name) or [None])[0]]
    if missing or "text_encoder_2" in index:
        raise ValueError(
            f"base model {folder} is not a Stable Diffusion 1.x/2.x pipeline (it lacks "
            f"{', '.join(missing) or 'nothing'} or has a second text encoder): give a StableDiffusionPipeline folder"
        )
    extra = {"safety_checker": None, "requires_safety_checker": False} if "safety_checker" in index else {}
    bundled = bundled_components(folder)
    with loading_weights(folder):
        pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, **extra, **bundled)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    return Models(
        pipe.unet,
        pipe.vae,
        pipe.text_encoder,
        pipe.tokenizer,
        noise_scheduler,
        pipe.scheduler,
        bundled_text=bool(bundled),
    )


def _random_models(init: ModelInitConfig, resolution: int, seed: int) -> Models:
    from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel

    text_encoder, tokenizer = text_encoder_from_spec(init.text_encoder, derive_seed(seed, 11))
    vae = _vae(init.vae, init.norm_num_groups, resolution, derive_seed(seed, 12))
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    levels = init.attention_levels
    with seeded(derive_seed(seed, 13)):
        unet = UNet2DConditionModel(
            sample_size=resolution // factor,
            in_channels=vae.config.latent_channels,
            out_channels=vae.config.latent_channels,
            block_out_channels=init.block_out_channels,
            layers_per_block=init.layers_per_block,
            down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in levels),
            up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(levels)),
            cross_attention_dim=text_encoder.config.hidden_size,
            attention_head_dim=init.attention_head_dim,
            norm_num_groups=init.norm_num_groups,
        )
    s = init.scheduler
    noise_scheduler = DDPMScheduler(
        num_train_timesteps=s.num_train_timesteps,
        beta_start=s.beta_start,
        beta_end=s.beta_end,
        beta_schedule=s.beta_schedule,
        prediction_type=s.prediction_type,
        timestep_spacing=s.timestep_spacing,
        rescale_betas_zero_snr=s.rescale_betas_zero_snr,
        clip_sample=False,
    )
    scheduler = DDIMScheduler.from_config(noise_scheduler.config, set_alpha_to_one=False, steps_offset=1)
    return Models(
        unet,
        vae,
        text_encoder,
        tokenizer,
        noise_scheduler,
        scheduler,
        random_vae=not init.vae.pretrained,
        bundled_text=init.text_encoder == MINILM,
    )


def _vae(spec: VaeInitConfig, groups: int, resolution: int, seed: int) -> Any:
    from diffusers import AutoencoderKL

    if spec.pretrained:
        folder = Path(spec.pretrained).expanduser()
        sub = "vae" if (folder / "vae" / "config.json").is_file() else None
        if not (folder / (sub or "") / "config.json").is_file():
            raise ValueError(f"model.vae.pretrained {folder} holds no AutoencoderKL (config.json or vae/config.json)")
        vae = AutoencoderKL.from_pretrained(folder, subfolder=sub, local_files_only=True)
        if spec.scaling_factor:
            vae.register_to_config(scaling_factor=spec.scaling_factor)
        return vae
    n = len(spec.block_out_channels)
    with seeded(seed):
        return AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=spec.block_out_channels,
            down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n,
            latent_channels=spec.latent_channels,
            layers_per_block=spec.layers_per_block,
            norm_num_groups=groups,
            sample_size=resolution,
            scaling_factor=spec.scaling_factor or 1.0,
        )


def text_encoder_from_spec(spec: str, seed: int) -> tuple[Any, Any]:
    """`minilm`, `tiny-clip` or a folder → (text encoder, tokenizer); the encoder is frozen by the trainer."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextConfig, CLIPTextModel

    from promptopt.scorers.assets import minilm_dir

    if spec in ("minilm", "tiny-clip"):
        if spec == MINILM:
            return minilm_text_encoder()
        tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), model_max_length=MAX_TOKENS)
        config = CLIPTextConfig(
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
        with seeded(seed):
            return CLIPTextModel(config), tokenizer
    folder = Path(spec).expanduser()
    model_dir, tokenizer_dir = (
        (folder / "text_encoder", folder / "tokenizer") if (folder / "text_encoder").is_dir() else (folder, folder)
    )
    if not (model_dir / "config.json").is_file():
        raise ValueError(
            f"model.text_encoder {spec!r} is not minilm, tiny-clip or a transformers folder with config.json"
        )
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    model_cls = CLIPTextModel if config.model_type in ("clip", "clip_text_model") else AutoModel
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    if tokenizer.model_max_length > 512:  # tokenizers saved without a limit report a huge sentinel
        tokenizer.model_max_length = MAX_TOKENS
    return model_cls.from_pretrained(model_dir, local_files_only=True), tokenizer


def render(
    pipe: Any,
    prompts: Sequence[str],
    seeds: Sequence[int],
    *,
    guidance_scale: float,
    steps: int,
    resolution: int,
    autocast: Any,
    batch_size: int = 8,
) -> list[Any]:
    """PIL images, one CPU torch.Generator per (prompt, seed) so an image depends on nothing else."""
    import torch

    images: list[Any] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds[start : start + batch_size]]
        with torch.no_grad(), autocast():
            out = pipe(
                chunk,
                guidance_scale=guidance_scale,
                num_inference_steps=steps,
                height=resolution,
                width=resolution,
                generator=generators,
                output_type="pil",
            )
        images.extend(out.images)
    return images
