"""Render with any diffusers `StableDiffusionPipeline`-compatible model: a local folder, a hub id, or tiny-random."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from generators.base import GeneratorConfig
from generators.tiny import TINY_NAME, tiny_pipeline_dir

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt")


class ModelNotFoundError(FileNotFoundError):
    """The named model is neither a local pipeline folder nor reachable on the hub."""


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """`auto` means CUDA with bf16 (fp16 where bf16 is unsupported) when available, else CPU float32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    return device, dtype


def _looks_like_path(model: str) -> bool:
    """Hub ids are `org/name`; anything else that is not on disk was meant as a path."""
    return model.startswith((".", "/", "~")) or model.count("/") != 1 or os.sep in model.replace("/", "")


def _folder_identity(folder: Path) -> str:
    """A content fingerprint of a pipeline folder: its configs and weight files (name, size, head and tail)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        digest.update(rel.encode())
        if path.suffix in WEIGHT_SUFFIXES:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(1 << 20)
                fh.seek(max(size - (1 << 20), 0))
                tail = fh.read()
            digest.update(str(size).encode() + head + tail)
        elif path.suffix in (".json", ".txt", ".model"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _pipeline_folder(model: str, cache_dir: Path) -> Path:
    """The local folder that holds `model`, or a clear error saying how to get it."""
    if model == TINY_NAME:
        return tiny_pipeline_dir(cache_dir)
    local = Path(model).expanduser()
    if local.exists():
        if not (local / "model_index.json").is_file():
            raise ModelNotFoundError(
                f"model folder {local} has no model_index.json: point --model at a diffusers pipeline folder "
                "(one saved with save_pretrained)"
            )
        return local
    if _looks_like_path(model):
        raise ModelNotFoundError(f"model folder {model} does not exist: check the path given to --model")
    return _hub_snapshot(model)


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    hint = (
        f"download it where there is internet (`hf download {repo_id} --local-dir DIR`) "
        "and pass that folder with --model DIR"
    )
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        if offline:
            raise ModelNotFoundError(
                f"model {repo_id!r} is not on this machine and HF_HUB_OFFLINE=1 forbids downloading it: {hint}"
            ) from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"]))
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise ModelNotFoundError(
            f"model {repo_id!r} could not be downloaded ({type(err).__name__}): {hint}"
        ) from None


class DiffusersGenerator:
    """A loaded diffusers text-to-image pipeline with per-image seeds."""

    def __init__(self, pipe: Any, *, device: str, batch_size: int, height: int, width: int, identity: dict[str, str]):
        self.pipe = pipe
        self.device = device
        self.batch_size = batch_size
        self.height = height
        self.width = width
        self.identity = identity

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
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
            generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds[start : start + self.batch_size]]
            with torch.inference_mode():
                out = self.pipe(
                    batch,
                    negative_prompt=[negative_prompt] * len(batch) if negative_prompt else None,
                    guidance_scale=guidance_scale,
                    num_inference_steps=steps,
                    height=self.height,
                    width=self.width,
                    generator=generators,
                    output_type="pil",
                )
            images.extend(out.images)
        return images


def load_generator(cfg: GeneratorConfig, *, cache_dir: Path) -> DiffusersGenerator:
    """Load the pipeline `cfg.model` names, on the configured device and dtype."""
    import torch
    from diffusers import DiffusionPipeline

    folder = _pipeline_folder(cfg.model, cache_dir)
    device, dtype = resolve_device(cfg.device, cfg.dtype)
    extra: dict[str, Any] = {} if cfg.safety_checker else {"safety_checker": None, "requires_safety_checker": False}
    index = json.loads((folder / "model_index.json").read_text())
    if "safety_checker" not in index:
        extra = {}
    pipe = DiffusionPipeline.from_pretrained(folder, dtype=getattr(torch, dtype), local_files_only=True, **extra)
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    identity = {"model": cfg.model, "model_hash": _folder_identity(folder), "device": device, "dtype": dtype}
    return DiffusersGenerator(
        pipe, device=device, batch_size=cfg.batch_size, height=cfg.height, width=cfg.width, identity=identity
    )
