"""Tiny models built from configs (as diffusers' own tests do): SD, SDXL and SD3 pipeline folders, LoRA adapters
trained nowhere but initialised at random with peft, single-file checkpoints in the original (LDM) layout, a
tiny-random generator, and tiny open_clip models."""

import dataclasses
import os
import re
from pathlib import Path

import pytest
import torch

from promptopt.generators.tiny import MAX_TOKENS, tiny_pipeline_dir
from promptopt.scorers.assets import minilm_dir


@pytest.fixture(scope="session")
def tiny_sd_dir() -> Path:
    """The tiny-random SD folder in the test cache (shared with the promptopt tests)."""
    return tiny_pipeline_dir(Path(os.environ["PROMPTOPT_CACHE"]))


@pytest.fixture(scope="session")
def make_tiny_generator(tiny_sd_dir):
    """make_tiny_generator(batch_size=2) -> the tiny-random DiffusersGenerator at 32x32 on the CPU."""
    from promptopt.generators.base import GeneratorConfig
    from promptopt.generators.diffusers_generator import load_generator

    def _make(batch_size: int = 2):
        cfg = GeneratorConfig(model="tiny-random", height=32, width=32, device="cpu", batch_size=batch_size)
        return load_generator(cfg, cache_dir=Path(os.environ["PROMPTOPT_CACHE"]))

    return _make


@pytest.fixture(scope="session")
def make_tiny_clip(tmp_path_factory):
    """make_tiny_clip(seed=0, preprocess=None) -> ClipModel "tiny-clip-<seed>": a randomly initialised open_clip
    model from a config (32x32 images), its preprocess config updated with `preprocess`."""
    from promptopt.scorers.clip import load_clip
    from promptopt.scorers.tiny_clip import write_tiny_clip

    def _make(seed: int = 0, preprocess: dict | None = None):
        folder = write_tiny_clip(tmp_path_factory.mktemp(f"tiny-clip-{seed}"), seed, preprocess)
        clip = load_clip(str(folder))
        return dataclasses.replace(clip, name=f"tiny-clip-{seed}")

    return _make


@pytest.fixture(scope="session")
def tiny_clip(make_tiny_clip):
    return make_tiny_clip()


def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir(), model_max_length=MAX_TOKENS)


def _clip_config(tokenizer):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        projection_dim=32,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory) -> Path:
    """A tiny SDXL pipeline folder: a text_time UNet and two CLIP text encoders (one with projection)."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = _tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 1),
            projection_class_embeddings_input_dim=80,  # 6 * 8 time ids + 32 pooled text embedding
            cross_attention_dim=64,
            norm_num_groups=1,
        )
        vae = AutoencoderKL(
            block_out_channels=(32, 64),
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            sample_size=64,
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
        )
        pipe = StableDiffusionXLPipeline(
            vae=vae,
            unet=unet,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            text_encoder=CLIPTextModel(_clip_config(tokenizer)),
            text_encoder_2=CLIPTextModelWithProjection(_clip_config(tokenizer)),
            scheduler=EulerDiscreteScheduler(
                beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
            ),
        )
    folder = tmp_path_factory.mktemp("tiny-sdxl")
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_sd3_dir(tmp_path_factory) -> Path:
    """A tiny SD3 pipeline folder: an MMDiT transformer, two CLIP encoders and a T5 encoder, flow matching."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextModelWithProjection, T5Config, T5EncoderModel

    tokenizer = _tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformer = SD3Transformer2DModel(
            sample_size=32,
            patch_size=1,
            in_channels=4,
            out_channels=4,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=4,
            caption_projection_dim=32,
            joint_attention_dim=32,
            pooled_projection_dim=64,
        )
        vae = AutoencoderKL(
            sample_size=32,
            in_channels=3,
            out_channels=3,
            block_out_channels=(4,),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=1,
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
        )
        t5 = T5EncoderModel(
            T5Config(
                vocab_size=tokenizer.vocab_size,
                d_model=32,
                d_kv=8,
                d_ff=37,
                num_layers=1,
                num_heads=4,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
        pipe = StableDiffusion3Pipeline(
            transformer=transformer,
            vae=vae,
            scheduler=FlowMatchEulerDiscreteScheduler(),
            text_encoder=CLIPTextModelWithProjection(_clip_config(tokenizer)),
            text_encoder_2=CLIPTextModelWithProjection(_clip_config(tokenizer)),
            text_encoder_3=t5,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            tokenizer_3=tokenizer,
        )
    folder = tmp_path_factory.mktemp("tiny-sd3")
    pipe.save_pretrained(folder)
    return folder


LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@pytest.fixture(scope="session")
def make_lora(tiny_sd_dir):
    """make_lora(folder, seed=0, **unet_changes) -> the saved adapter file. A random (init_lora_weights=False)
    rank-4 LoRA on the tiny UNet's attention, saved as diffusers' save_lora_weights writes it; unet_changes
    build it on a UNet of another shape instead."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig, get_peft_model_state_dict

    def _make(folder: Path, seed: int = 0, **unet_changes) -> Path:
        config = dict(UNet2DConditionModel.load_config(tiny_sd_dir / "unet"), **unet_changes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            unet = UNet2DConditionModel.from_config(config)
            unet.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS, init_lora_weights=False))
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
        StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers)
        return folder / "pytorch_lora_weights.safetensors"

    return _make


# ---- diffusers -> original (LDM) single-file layout, the inverse of diffusers' from_single_file conversion ----

_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
           ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]  # fmt: skip
_UNET_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
             "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}  # fmt: skip
_VAE_ATTENTION = [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]


def _resnet(rest: str) -> str:
    return next((old + rest[len(new) :] for new, old in _RESNET if rest.startswith(new + ".")), rest)


def _unet_key(key: str, state: dict, per_block: int) -> str:
    top = next((t for t in _UNET_TOP if key.startswith(t + ".")), None)
    if top is not None:
        return _UNET_TOP[top] + key[len(top) :]
    parts = key.split(".")
    if parts[0] == "mid_block":
        kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        return f"middle_block.{2 * j if kind == 'resnets' else 1}." + (_resnet(rest) if kind == "resnets" else rest)
    i, kind = int(parts[1]), parts[2]
    if kind == "downsamplers":
        return f"input_blocks.{per_block * (i + 1)}.0.op." + ".".join(parts[5:])
    if kind == "upsamplers":
        has_attention = any(k.startswith(f"up_blocks.{i}.attentions.") for k in state)
        return f"output_blocks.{per_block * i + per_block - 1}.{2 if has_attention else 1}." + ".".join(parts[4:])
    j, rest = int(parts[3]), ".".join(parts[4:])
    inner = f"{0 if kind == 'resnets' else 1}." + (_resnet(rest) if kind == "resnets" else rest)
    if parts[0] == "down_blocks":
        return f"input_blocks.{per_block * i + j + 1}.{inner}"
    return f"output_blocks.{per_block * i + j}.{inner}"


def _vae_key(key: str, n_blocks: int) -> str:
    new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    if m := re.match(
        r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.*)", new
    ):
        coder, way, i, kind, j, rest = m.groups()
        i = int(i) if way == "down" else n_blocks - 1 - int(i)
        return f"{coder}.{way}.{i}." + (f"block.{j}.{rest}" if kind == "resnets" else f"{way}sample.{rest}")
    if m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", new):
        return f"{m.group(1)}.mid.block_{int(m.group(2)) + 1}.{m.group(3)}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", new):
        rest = next(
            (old + m.group(2)[len(n) :] for n, old in _VAE_ATTENTION if m.group(2).startswith(n + ".")), m.group(2)
        )
        return f"{m.group(1)}.mid.attn_1.{rest}"
    return new


@pytest.fixture(scope="session")
def make_single_file():
    """make_single_file(pipeline_folder, path) writes an SD 1.x pipeline as one LDM-layout checkpoint, like those
    people share (model.diffusion_model.*, first_stage_model.*, cond_stage_model.*): a .safetensors file, or a
    .ckpt (torch.save of {"state_dict": ...})."""
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    def _make(folder: Path, path: Path) -> Path:
        pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
        unet, vae = pipe.unet.state_dict(), pipe.vae.state_dict()
        per_block = pipe.unet.config.layers_per_block + 1
        state = {f"model.diffusion_model.{_unet_key(k, unet, per_block)}": v for k, v in unet.items()}
        for key, value in vae.items():
            ldm = _vae_key(key, len(pipe.vae.config.down_block_types))
            state[f"first_stage_model.{ldm}"] = (
                value[:, :, None, None] if ".attn_1." in ldm and value.ndim == 2 else value
            )
        state.update(
            {f"cond_stage_model.transformer.text_model.{k}": v for k, v in pipe.text_encoder.state_dict().items()}
        )
        state = {k: v.contiguous() for k, v in state.items()}
        if path.suffix == ".ckpt":
            torch.save({"state_dict": state}, path)
        else:
            save_file(state, path)
        return path

    return _make
