"""Find a model on disk and load it as a diffusers text-to-image pipeline.

Three shapes of model: a pipeline folder (`model_index.json`; tiny-random and hub snapshots are folders too),
and a single-file checkpoint (`.safetensors`/`.ckpt`, loaded with `from_single_file`). Folders load through
`AutoPipelineForText2Image`, which picks StableDiffusion, StableDiffusionXL or StableDiffusion3 from the
folder's `model_index.json`; single files pick the class from the config folder or from the checkpoint's keys.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.device import resolve_device
from promptopt.generators.base import GeneratorConfig
from promptopt.generators.bundled_text import bundled_components
from promptopt.generators.errors import GeneratorInputError, ModelNotFoundError, loading_weights, read_model_index
from promptopt.generators.shipped import GI_SIM_TINY, gi_sim_tiny_dir
from promptopt.generators.tiny import TINY_NAME, tiny_pipeline_dir

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt")
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
# diffusers' name for a single file's architecture -> the text-to-image pipeline that loads it
SINGLE_FILE_PIPELINES = {
    "v1": "StableDiffusionPipeline",
    "v2": "StableDiffusionPipeline",
    "xl_base": "StableDiffusionXLPipeline",
    "playground-v2-5": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline",
    "sd35_medium": "StableDiffusion3Pipeline",
    "sd35_large": "StableDiffusion3Pipeline",
}


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are: a pipeline folder, or a single file plus an optional config folder."""

    path: Path
    single_file: bool = False
    config: Path | None = None


def resolve_device_dtype(device: str, dtype: str) -> tuple[str, str]:
    """`auto` means CUDA with bf16 (fp16 where bf16 is unsupported) when available, else CPU float32.

    float16 on the CPU is refused: most CPU kernels lack it, and where they exist they are slower than float32.
    """
    import torch

    device = resolve_device(device)
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    if device == "cpu" and dtype == "float16":
        raise GeneratorInputError(
            "dtype float16 needs a GPU and this run uses the CPU: use --dtype float32 (or bfloat16), "
            "or --device cuda on a machine with one"
        )
    return device, dtype


def _looks_like_path(model: str) -> bool:
    """Hub ids are `org/name`; anything else that is not on disk was meant as a path."""
    return model.startswith((".", "/", "~")) or model.count("/") != 1 or os.sep in model.replace("/", "")


def _file_fingerprint(path: Path, digest: Any) -> None:
    """Size, first and last MiB: enough to tell checkpoints apart without reading gigabytes."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
        fh.seek(max(size - (1 << 20), 0))
        tail = fh.read()
    digest.update(str(size).encode() + head + tail)


def _folder_identity(folder: Path) -> str:
    """A content fingerprint of a pipeline folder: its configs and weight files (name, size, head and tail)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        digest.update(rel.encode())
        if path.suffix in WEIGHT_SUFFIXES:
            _file_fingerprint(path, digest)
        elif path.suffix in (".json", ".txt", ".model"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_identity(source: ModelSource) -> str:
    """16 hex digits that change when the weights or configs change."""
    if not source.single_file:
        return _folder_identity(source.path)
    digest = hashlib.sha256()
    _file_fingerprint(source.path, digest)
    if source.config is not None:
        digest.update(_folder_identity(source.config).encode())
    return digest.hexdigest()[:16]


def pipeline_folder(model: str, cache_dir: Path) -> Path:
    """The local folder that holds `model`, or a clear error saying how to get it."""
    if model == TINY_NAME:
        return tiny_pipeline_dir(cache_dir)
    if model == GI_SIM_TINY:
        try:
            return gi_sim_tiny_dir()
        except FileNotFoundError as err:
            raise ModelNotFoundError(str(err)) from None
    local = Path(model).expanduser()
    if local.is_file():
        raise ModelNotFoundError(
            f"model {local} is a single-file checkpoint, not a pipeline folder: load it with `promptopt render "
            "--model FILE --model-config DIR` or save it as a folder (from_single_file, then save_pretrained)"
        )
    if local.exists():
        if not (local / "model_index.json").is_file():
            raise ModelNotFoundError(
                f"model folder {local} has no model_index.json: point --model at a diffusers pipeline folder "
                "(one saved with save_pretrained) or a .safetensors/.ckpt file"
            )
        return local
    if _looks_like_path(model):
        raise ModelNotFoundError(f"model folder {model} does not exist: check the path given to --model")
    return _hub_snapshot(model)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    hint = (
        f"download it where there is internet (`hf download {repo_id} --local-dir DIR`) "
        "and pass that folder with --model DIR"
    )
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        if _offline():
            raise ModelNotFoundError(
                f"model {repo_id!r} is not on this machine and HF_HUB_OFFLINE=1 forbids downloading it: {hint}"
            ) from None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.txt", "*.safetensors", "*.model"]))
    except (HfHubHTTPError, OSError, ValueError) as err:
        raise ModelNotFoundError(f"model {repo_id!r} could not be downloaded ({type(err).__name__}): {hint}") from None


def resolve_model(cfg: GeneratorConfig, cache_dir: Path) -> ModelSource:
    """Where `cfg.model` lives on disk: a pipeline folder, or a single file with its config folder."""
    local = Path(cfg.model).expanduser()
    if not local.is_file():
        if cfg.single_file_config:
            raise GeneratorInputError(
                f"single_file_config is set but model {cfg.model} is not a single .safetensors/.ckpt file: "
                "remove --model-config or point --model at the checkpoint file"
            )
        return ModelSource(pipeline_folder(cfg.model, cache_dir))
    if local.suffix not in SINGLE_FILE_SUFFIXES:
        raise ModelNotFoundError(
            f"model file {local} is not a .safetensors or .ckpt checkpoint: give a checkpoint file or a pipeline folder"
        )
    config = None
    if cfg.single_file_config:
        config = Path(cfg.single_file_config).expanduser()
        if not (config / "model_index.json").is_file():
            raise ModelNotFoundError(
                f"model config folder {config} has no model_index.json: pass a diffusers pipeline folder of the same "
                "architecture (its *.json and tokenizer files are enough) with --model-config"
            )
    return ModelSource(local, single_file=True, config=config)


def _text_to_image_class(class_name: str, model: str) -> Any:
    """The text-to-image pipeline class for a pipeline class name (img2img and inpaint variants map back),
    as AutoPipelineForText2Image picks it."""
    from diffusers.pipelines import auto_pipeline

    mappings = (
        auto_pipeline.AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
        auto_pipeline.AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
        auto_pipeline.AUTO_INPAINT_PIPELINES_MAPPING,
    )
    for mapping in mappings:
        for family, pipeline_class in mapping.items():
            if pipeline_class.__name__ == class_name and family in auto_pipeline.AUTO_TEXT2IMAGE_PIPELINES_MAPPING:
                return auto_pipeline.AUTO_TEXT2IMAGE_PIPELINES_MAPPING[family]
    raise GeneratorInputError(
        f"model {model} is a {class_name}, which has no text-to-image pipeline in diffusers: "
        "give a Stable Diffusion 1.x/2.x, SDXL or SD3 model"
    )


def _checkpoint_tensors(path: Path) -> dict[str, Any]:
    """The checkpoint's tensors; for .safetensors only their shapes (meta tensors), which tell the architecture."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(path, framework="pt") as fh:
            return {k: torch.empty(fh.get_slice(k).get_shape(), device="meta") for k in fh.keys()}
    from diffusers.loaders.single_file_utils import load_single_file_checkpoint

    return load_single_file_checkpoint(str(path), local_files_only=True)


def _single_file_class(source: ModelSource, model: str) -> Any:
    if source.config is not None:
        class_name = read_model_index(source.config)["_class_name"]
        return _text_to_image_class(class_name, model)
    import diffusers
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    kind = infer_diffusers_model_type(_checkpoint_tensors(source.path))
    if kind not in SINGLE_FILE_PIPELINES:
        raise GeneratorInputError(
            f"model file {model} holds a {kind!r} checkpoint, not a text-to-image Stable Diffusion one: "
            "give an SD 1.x/2.x, SDXL or SD3 checkpoint"
        )
    return getattr(diffusers, SINGLE_FILE_PIPELINES[kind])


def _safety_kwargs(pipeline_class: Any, keep: bool) -> dict[str, Any]:
    """Drop the SD 1.x/2.x safety checker unless asked for (it needs weights that are rarely on disk)."""
    if keep or "safety_checker" not in inspect.signature(pipeline_class.__init__).parameters:
        return {}
    return {"safety_checker": None, "requires_safety_checker": False}


def load_pipeline(source: ModelSource, cfg: GeneratorConfig, dtype: Any) -> Any:
    """The diffusers pipeline for `source`, on the CPU in `dtype`."""
    from huggingface_hub.utils import LocalEntryNotFoundError

    if not source.single_file:
        index = read_model_index(source.path)
        pipeline_class = _text_to_image_class(index["_class_name"], cfg.model)
        extra = {**_safety_kwargs(pipeline_class, cfg.safety_checker), **bundled_components(source.path, dtype)}
        with loading_weights(source.path):
            return pipeline_class.from_pretrained(source.path, dtype=dtype, local_files_only=True, **extra)
    pipeline_class = _single_file_class(source, cfg.model)
    extra = _safety_kwargs(pipeline_class, cfg.safety_checker)
    if source.config is not None:
        extra["config"] = str(source.config)
    try:
        return pipeline_class.from_single_file(
            str(source.path), dtype=dtype, local_files_only=_offline() or source.config is not None, **extra
        )
    except (LocalEntryNotFoundError, OSError) as err:
        if source.config is not None:
            raise
        raise ModelNotFoundError(
            f"single-file model {cfg.model} needs its pipeline configs, which are not on this machine "
            f"({type(err).__name__}): pass a diffusers pipeline folder of the same architecture with "
            "--model-config DIR ([generator] single_file_config = DIR)"
        ) from None
