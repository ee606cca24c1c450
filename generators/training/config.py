"""Fine-tuning and from-scratch training configuration: frozen dataclasses, validated on construction.

A TOML file maps onto `TrainConfig` one to one: top-level keys, then the sections `[lora]`, `[dreambooth]`,
`[validation]` and, for training from random init instead of a base model, `[model]` (with `[model.vae]`
and `[model.scheduler]`). The TOML and CLI glue lives in `promptopt`; this module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("full", "lora", "dreambooth-lora", "vae")
VAE_LOSSES = ("l1", "mse")
MIXED_PRECISION = ("no", "fp16", "bf16")
SAVE_PRECISIONS = ("fp32", "fp16")
# diffusers.optimization.SchedulerType values, but piecewise_constant (it needs step rules); a test checks them.
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup")
PREDICTION_TYPES = ("epsilon", "v_prediction")
CAPTIONS = ("random", "first", "combine")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")
TEXT_ENCODERS = ("minilm", "tiny-clip")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def _at_least(name: str, value: float, low: float) -> None:
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


@dataclass(frozen=True)
class LoraTrainConfig:
    """LoRA adapters (peft) on the UNet attention projections, optionally on the text encoder too."""

    rank: int = 4
    alpha: float = 4.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    train_text_encoder: bool = False
    text_encoder_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "out_proj")

    def __post_init__(self) -> None:
        _at_least("lora.rank", self.rank, 1)
        if self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"lora.alpha must be > 0 and lora.dropout in [0, 1), got {self.alpha} and {self.dropout}")
        if not self.target_modules:
            raise ValueError("lora.target_modules is empty: name the UNet modules to adapt, e.g. to_q, to_v")


@dataclass(frozen=True)
class DreamBoothConfig:
    """DreamBooth: every training image is captioned `instance_prompt` with its category's rare token.

    With prior preservation, `num_class_images` images per category are rendered by the base model from
    `class_prompt` (fixed seeds 0..n-1) and trained on beside the instances, weighted by `prior_loss_weight`.
    """

    token: str = "sks"
    tokens: dict[str, str] = field(default_factory=dict)
    instance_prompt: str = "an endoscopic image of {token} {category}"
    class_prompt: str = "an endoscopic image of {category}"
    prior_preservation: bool = True
    num_class_images: int = 50
    prior_loss_weight: float = 1.0
    class_guidance_scale: float = 7.5
    class_inference_steps: int = 30

    def __post_init__(self) -> None:
        if "{token}" not in self.instance_prompt:
            raise ValueError("dreambooth.instance_prompt must contain {token} (and may contain {category})")
        _at_least("dreambooth.num_class_images", self.num_class_images, 1)
        _at_least("dreambooth.class_inference_steps", self.class_inference_steps, 1)
        if self.prior_loss_weight < 0:
            raise ValueError(f"dreambooth.prior_loss_weight must be >= 0, got {self.prior_loss_weight}")

    def instance_for(self, category: str) -> str:
        token = self.tokens.get(category, self.token)
        return self.instance_prompt.format(token=token, category=category).strip()

    def class_for(self, category: str) -> str:
        return self.class_prompt.format(category=category).strip()


@dataclass(frozen=True)
class VaeInitConfig:
    """The frozen VAE of a model trained from random init: a pretrained folder, or random from this config.

    `scaling_factor` 0 means: estimate it as 1 / std of the training images' latents (random VAEs only).
    """

    pretrained: str = ""
    block_out_channels: tuple[int, ...] = (32, 64)
    layers_per_block: int = 1
    latent_channels: int = 4
    scaling_factor: float = 0.0


@dataclass(frozen=True)
class SchedulerInitConfig:
    """The DDPM noise schedule of a model trained from random init (its pipeline samples with DDIM)."""

    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    prediction_type: str = "epsilon"
    timestep_spacing: str = "trailing"
    rescale_betas_zero_snr: bool = False

    def __post_init__(self) -> None:
        _choice("model.scheduler.beta_schedule", self.beta_schedule, BETA_SCHEDULES)
        _choice("model.scheduler.prediction_type", self.prediction_type, PREDICTION_TYPES)
        _choice("model.scheduler.timestep_spacing", self.timestep_spacing, TIMESTEP_SPACINGS)
        _at_least("model.scheduler.num_train_timesteps", self.num_train_timesteps, 2)


@dataclass(frozen=True)
class ModelInitConfig:
    """A latent diffusion model built from config with random weights (the UNet), around a frozen text encoder.

    `text_encoder`: `minilm` (the bundled all-MiniLM-L6-v2 BertModel and tokenizer), `tiny-clip` (a small random
    CLIPTextModel with the MiniLM tokenizer), or a local transformers folder (or pipeline folder with
    text_encoder/ and tokenizer/). `cross_attention[i]` says whether UNet level i has cross-attention blocks
    (empty: every level but the first). The UNet's sample size follows from the resolution and the VAE.
    """

    text_encoder: str = "minilm"
    block_out_channels: tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 1
    attention_head_dim: int = 8
    cross_attention: tuple[bool, ...] = ()
    norm_num_groups: int = 32
    vae: VaeInitConfig = field(default_factory=VaeInitConfig)
    scheduler: SchedulerInitConfig = field(default_factory=SchedulerInitConfig)

    def __post_init__(self) -> None:
        if not self.text_encoder:
            raise ValueError(f"model.text_encoder is empty: give {' or '.join(TEXT_ENCODERS)} or a folder")
        for name, channels in (("model", self.block_out_channels), ("model.vae", self.vae.block_out_channels)):
            if not channels or any(c % self.norm_num_groups for c in channels):
                raise ValueError(
                    f"{name}.block_out_channels must be non-empty multiples of norm_num_groups "
                    f"({self.norm_num_groups}), got {list(channels)}"
                )
        if self.cross_attention and len(self.cross_attention) != len(self.block_out_channels):
            raise ValueError("model.cross_attention needs one true/false per entry of model.block_out_channels")
        _at_least("model.layers_per_block", self.layers_per_block, 1)
        _at_least("model.vae.latent_channels", self.vae.latent_channels, 1)

    @property
    def attention_levels(self) -> tuple[bool, ...]:
        return self.cross_attention or (False, *(True,) * (len(self.block_out_channels) - 1))


@dataclass(frozen=True)
class ValidationConfig:
    """Every `steps` optimizer steps (0: never) render each prompt with each seed and score the images.
    (Method `vae` needs no prompts: it reconstructs a few fixed training images instead.)"""

    steps: int = 0
    prompts: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1)
    guidance_scale: float = 5.0
    inference_steps: int = 20

    def __post_init__(self) -> None:
        _at_least("validation.steps", self.steps, 0)
        _at_least("validation.inference_steps", self.inference_steps, 1)


@dataclass(frozen=True)
class TrainConfig:
    """One training run: `full` fine-tune, `lora` or `dreambooth-lora` of `base`, or `full` from random init
    (`model` set, `base` empty). Steps count optimizer updates; each sees `train_batch_size` ×
    `gradient_accumulation_steps` images. `snr_gamma` unset: plain MSE; `prediction_type` empty: the model's.
    `vae`: train only the AutoencoderKL of `[model.vae]` (from random init, or further from `pretrained`) on
    the images: L1 (`vae_loss = "mse"`: MSE) reconstruction of a posterior sample + `vae_kl_weight` × KL.
    `caption`: random | first | combine (1 to `caption_max_prompts` of an image's prompts joined);
    `caption_dropout`: probability of training on "" (needed for classifier-free guidance from random init).
    `save_precision`: fp32, or fp16 to halve the saved pipeline's weight files (training stays in fp32).
    `cpu_threads`: torch intra-op threads while training on the CPU (0: torch's default). On a machine shared
    with other busy processes one thread can be 5-20x faster for small models (threads wait on each other).
    """

    method: str = "lora"
    base: str = ""
    model: ModelInitConfig | None = None
    resolution: int = 512
    random_flip: bool = False
    caption: str = "random"
    caption_max_prompts: int = 3
    caption_dropout: float = 0.0
    train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_train_steps: int = 1000
    learning_rate: float = 1e-4
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    mixed_precision: str = "no"
    save_precision: str = "fp32"
    snr_gamma: float | None = None
    noise_offset: float = 0.0
    prediction_type: str = ""
    ema: bool = False
    ema_decay: float = 0.9999
    checkpointing_steps: int = 500
    checkpoints_total_limit: int = 0
    seed: int = 0
    device: str = "auto"
    cpu_threads: int = 0
    vae_loss: str = "l1"
    vae_kl_weight: float = 1e-6
    lora: LoraTrainConfig = field(default_factory=LoraTrainConfig)
    dreambooth: DreamBoothConfig = field(default_factory=DreamBoothConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        if not self.base and self.model is None:
            raise ValueError("no model: give base (a model to fine-tune, --base) or a [model] section (--init)")
        if self.base and self.model is not None:
            raise ValueError("give either base (a model to fine-tune) or a [model] section (random init), not both")
        if self.model is not None and self.method not in ("full", "vae"):
            raise ValueError(f"training from random init trains every weight: use method full, not {self.method}")
        if self.method == "vae" and self.model is None:
            raise ValueError("method vae trains the AutoencoderKL of a [model.vae] section: give --init, not base")
        _choice("vae_loss", self.vae_loss, VAE_LOSSES)
        if self.vae_kl_weight < 0:
            raise ValueError(f"vae_kl_weight must be >= 0, got {self.vae_kl_weight}")
        v = self.validation
        if v.steps and self.method != "vae" and (not v.prompts or not v.seeds):
            raise ValueError("validation.steps is set but validation.prompts or seeds is empty: give both")
        if self.resolution < 8 or self.resolution % 8:
            raise ValueError(f"resolution must be a positive multiple of 8, got {self.resolution}")
        _choice("caption", self.caption, CAPTIONS)
        _at_least("caption_max_prompts", self.caption_max_prompts, 1)
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")
        _choice("lr_scheduler", self.lr_scheduler, LR_SCHEDULERS)
        _choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _choice("save_precision", self.save_precision, SAVE_PRECISIONS)
        if self.prediction_type:
            _choice("prediction_type", self.prediction_type, PREDICTION_TYPES)
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} or cuda:N, got {self.device!r}")
        if self.mixed_precision == "fp16" and self.device in ("cpu", "mps"):
            raise ValueError("fp16 mixed precision needs a CUDA device; use bf16 or no")
        for name in ("train_batch_size", "gradient_accumulation_steps", "max_train_steps"):
            _at_least(name, getattr(self, name), 1)
        for name in (
            "lr_warmup_steps",
            "checkpointing_steps",
            "checkpoints_total_limit",
            "noise_offset",
            "seed",
            "cpu_threads",
        ):
            _at_least(name, getattr(self, name), 0)
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError("learning_rate and max_grad_norm must be > 0")
        if self.snr_gamma is not None and self.snr_gamma <= 0:
            raise ValueError(f"snr_gamma must be > 0 (leave it out for plain MSE), got {self.snr_gamma}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    @property
    def trains_lora(self) -> bool:
        return self.method in ("lora", "dreambooth-lora")
