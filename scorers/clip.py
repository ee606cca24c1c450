"""CLIP score: text–image alignment with an open_clip model that is already on disk.

Model spec syntax for `load_clip` (nothing is downloaded while `HF_HUB_OFFLINE=1`):

- ``DIR`` or ``local-dir:DIR`` — a folder in the hf-hub layout of open_clip: ``open_clip_config.json``
  (with ``model_cfg`` and optionally ``preprocess_cfg``) and one weights file
  (``*.safetensors``, ``*.bin`` or ``*.pth``; open_clip prefers ``open_clip_model.safetensors``).
- ``ARCH:FILE`` — an open_clip architecture name (built in, e.g. ``ViT-B-32``, or registered with
  ``open_clip.add_model_config``) and a local weights file (``.safetensors``, ``.bin``, ``.pt``, ``.pth``),
  e.g. ``ViT-B-32:/models/clip/open_clip_model.safetensors``. Preprocessing is open_clip's default for
  that architecture (OpenAI mean/std, bicubic); use the folder form when the weights need another one.
- ``ARCH/TAG`` — an open_clip pretrained tag, e.g. ``ViT-B-32/laion2b_s34b_b79k``, and
  ``hf-hub:ORG/REPO`` — an open_clip repository on the Hugging Face hub. Both are read from the local
  cache; they download only when ``HF_HUB_OFFLINE`` is not set, otherwise a missing file raises
  FileNotFoundError at once.

Images go through the model's own preprocess transform (resize the shortest side, centre crop,
normalise with the model's mean/std), not through `promptopt.core.images`: CLIP defines its own input
pipeline and its scores are only meaningful with it. This is an intentional exception to the
"one resize path" rule, which is about comparing image sets with each other.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
DIR_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")  # the ones open_clip looks for in a folder
HUB_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
SPEC_HELP = "give a folder with open_clip_config.json + weights, 'ARCH:FILE', or a cached 'ARCH/TAG'"


class PromptTruncatedWarning(UserWarning):
    """A prompt is longer than the CLIP text encoder's context and was cut."""


@dataclass(frozen=True)
class ClipModel:
    """A frozen open_clip model with its own image transform and tokenizer."""

    model: Any
    preprocess: Callable[[Image.Image], Any]
    tokenizer: Any
    context_length: int
    name: str
    device: str = "cpu"


def wrap_open_clip(model: Any, tokenizer: Any, *, name: str, device: str = "cpu") -> ClipModel:
    """Freeze an open_clip model (eval, no grad) and pair it with the transform from its preprocess cfg."""
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    model = model.to(device).eval().requires_grad_(False)
    preprocess = image_transform_v2(PreprocessCfg(**open_clip.get_model_preprocess_cfg(model)), is_train=False)
    context_length = int(getattr(model, "context_length", None) or tokenizer.context_length)
    return ClipModel(model, preprocess, tokenizer, context_length, name, str(device))


# ---------------------------------------------------------------- loading


def hub_offline() -> bool:
    """Whether downloads are forbidden (HF_HUB_OFFLINE, read now and as huggingface_hub read it at import)."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    return env or bool(constants.HF_HUB_OFFLINE)


def load_clip(spec: str, *, device: str = "cpu", cache_dir: str | None = None) -> ClipModel:
    """Load a frozen CLIP model from `spec` (syntax in the module docstring).

    Raises FileNotFoundError (one line: what is missing and how to fix it) when the weights are not
    on disk, and ValueError for a spec that names no known architecture or tag.
    """
    if spec.startswith("hf-hub:"):
        return _load_folder(_hub_folder(spec[len("hf-hub:") :], spec, cache_dir), spec, device)
    if spec.startswith("local-dir:"):
        return _load_folder(Path(spec[len("local-dir:") :]), spec, device)
    arch, sep, file = spec.partition(":")
    if sep and arch and not any(c in arch for c in "/\\") and len(arch) > 1:
        return _load_arch_file(arch, Path(file), spec, device)
    path = Path(spec)
    if path.is_dir():
        return _load_folder(path, spec, device)
    if path.is_file():
        raise ValueError(f"CLIP model {spec!r} is a weights file without an architecture; write it as 'ARCH:{spec}'")
    arch, sep, tag = spec.partition("/")
    if sep and "/" not in tag and _known_arch(arch):
        return _load_tag(arch, tag, spec, device, cache_dir)
    raise FileNotFoundError(f"CLIP model {spec!r}: no such folder; {SPEC_HELP}")


def _known_arch(arch: str) -> bool:
    import open_clip

    return arch in open_clip.list_models()


def _load_folder(folder: Path, spec: str, device: str) -> ClipModel:
    import open_clip

    if not folder.is_dir():
        raise FileNotFoundError(f"CLIP model folder not found: {folder}; {SPEC_HELP}")
    if not (folder / "open_clip_config.json").is_file():
        raise FileNotFoundError(f"CLIP model folder {folder} has no open_clip_config.json; save it next to the weights")
    if not any(p.suffix in DIR_WEIGHT_SUFFIXES for p in folder.iterdir() if p.is_file()):
        raise FileNotFoundError(
            f"CLIP model folder {folder} has no weights file ({', '.join(DIR_WEIGHT_SUFFIXES)}); "
            "put open_clip_model.safetensors there"
        )
    local = f"local-dir:{folder}"
    model = open_clip.create_model(local, device=device, require_pretrained=True)
    return wrap_open_clip(model, _tokenizer(local, spec), name=spec, device=device)


def _load_arch_file(arch: str, file: Path, spec: str, device: str) -> ClipModel:
    import open_clip

    if not file.is_file():
        raise FileNotFoundError(f"CLIP weights file not found: {file} (from spec {spec!r})")
    if file.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"CLIP weights file {file} has suffix {file.suffix!r}; expected one of {WEIGHT_SUFFIXES}")
    if not _known_arch(arch):
        raise ValueError(
            f"CLIP architecture {arch!r} is unknown to open_clip; use a built-in name (open_clip.list_models()) "
            "or a folder with open_clip_config.json"
        )
    model = open_clip.create_model(arch, pretrained=str(file), device=device, require_pretrained=True)
    return wrap_open_clip(model, _tokenizer(arch, spec), name=spec, device=device)


def _load_tag(arch: str, tag: str, spec: str, device: str, cache_dir: str | None) -> ClipModel:
    import open_clip
    from open_clip.transform import merge_preprocess_dict

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) or "none"
        raise ValueError(f"CLIP tag {tag!r} is unknown for {arch}; known tags: {tags}")
    file = _cached_tag_file(cfg, cache_dir)
    if file is None:
        where = cfg.get("hf_hub") or cfg.get("url")
        if hub_offline():
            raise FileNotFoundError(
                f"CLIP weights for {spec!r} ({where}) are not in the local cache and HF_HUB_OFFLINE=1 forbids "
                f"downloading; fetch them where there is internet and pass the folder or 'ARCH:FILE' instead"
            )
        file = open_clip.download_pretrained(cfg, cache_dir=cache_dir)
    if cfg.get("quick_gelu", False) and not open_clip.get_model_config(arch).get("quick_gelu", False):
        warnings.warn(f"CLIP tag {spec!r} was trained with QuickGELU; use '{arch}-quickgelu/{tag}'", stacklevel=3)
    preprocess = {k: v for k, v in merge_preprocess_dict({}, cfg).items() if k != "size"}
    model = open_clip.create_model(
        arch, pretrained=str(file), device=device, require_pretrained=True, force_preprocess_cfg=preprocess
    )
    return wrap_open_clip(model, _tokenizer(arch, spec), name=spec, device=device)


def _cached_tag_file(cfg: dict, cache_dir: str | None) -> str | None:
    """The tag's weights file if it is already on disk (never touches the network)."""
    from huggingface_hub import hf_hub_download
    from open_clip.constants import HF_WEIGHTS_NAME

    # private: open_clip's list of the .safetensors names it prefers for a tag's file, so a cached tag is found
    # under the name open_clip itself would download; the one private open_clip name here (checked: 3.3.0)
    from open_clip.pretrained import _get_safe_alternatives

    if cfg.get("file"):
        return cfg["file"]
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        for name in (*_get_safe_alternatives(filename), filename):
            try:
                return hf_hub_download(repo, name, cache_dir=cache_dir, local_files_only=True)
            except FileNotFoundError:  # LocalEntryNotFoundError
                continue
        return None
    if cfg.get("url"):
        target = Path(cache_dir or os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        return str(target) if target.is_file() else None
    return None


def _hub_folder(repo: str, spec: str, cache_dir: str | None) -> Path:
    """The snapshot folder holding `repo`'s open_clip config and weights (downloads only when online)."""
    from huggingface_hub import hf_hub_download

    local_only = hub_offline()
    try:
        config = hf_hub_download(repo, "open_clip_config.json", cache_dir=cache_dir, local_files_only=local_only)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"CLIP model {spec!r} is not in the local hub cache and HF_HUB_OFFLINE=1 forbids downloading; "
            "fetch it where there is internet and pass the folder instead"
        ) from None
    for name in HUB_WEIGHT_FILES:
        try:
            hf_hub_download(repo, name, cache_dir=cache_dir, local_files_only=local_only)
            break
        except FileNotFoundError:
            continue
    return Path(config).parent


def _tokenizer(name: str, spec: str) -> Any:
    import open_clip

    try:
        return open_clip.get_tokenizer(name)
    except OSError as e:  # an HF tokenizer that is not on disk
        raise FileNotFoundError(
            f"CLIP tokenizer for {spec!r} is not on disk ({type(e).__name__}); {SPEC_HELP}"
        ) from None


# ---------------------------------------------------------------- scoring


def clip_score(image_embeds: np.ndarray, text_embeds: np.ndarray) -> np.ndarray:
    """CLIP score per (image, text) pair: 100 * max(cosine, 0).

    This is the per-sample formula of torchmetrics' CLIPScore (Hessel et al. 2021 with w = 100). Note that
    torchmetrics' batch call clamps the *mean* of the unclamped scores; here each pair is clamped.
    """
    a = np.asarray(image_embeds, dtype=np.float64)
    b = np.asarray(text_embeds, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"clip_score needs two (n, d) arrays of the same shape, got {a.shape} and {b.shape}")
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 100.0 * np.maximum(np.sum(a * b, axis=1), 0.0)


def token_count(tokenizer: Any, text: str) -> int:
    """Number of tokens `text` takes before truncation, start/end tokens included."""
    if hasattr(tokenizer, "sot_token_id"):  # open_clip SimpleTokenizer
        return len(tokenizer.encode(text)) + 2
    inner = getattr(tokenizer, "tokenizer", None)  # open_clip HFTokenizer / SigLipTokenizer
    if inner is not None:
        clean = getattr(tokenizer, "clean_fn", lambda s: s)
        extra = 1 if getattr(tokenizer, "tokenizer_mode", "") == "clips" else 0
        return len(inner(clean(text)).input_ids) + extra
    raise TypeError(f"cannot count tokens with a {type(tokenizer).__name__}")


def encode_images(clip: ClipModel, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
    """Image embeddings (n, d), float32, not normalised."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = torch.stack([clip.preprocess(im.convert("RGB")) for im in images[i : i + batch_size]])
            dtype = next(clip.model.parameters()).dtype
            out.append(clip.model.encode_image(x.to(clip.device, dtype)).float().cpu().numpy())
    return np.concatenate(out)


def encode_texts(clip: ClipModel, texts: Sequence[str]) -> np.ndarray:
    """Text embeddings (n, d), float32, not normalised; the tokenizer truncates to the context length."""
    import torch

    with torch.inference_mode():
        tokens = clip.tokenizer(list(texts), context_length=clip.context_length)
        return clip.model.encode_text(tokens.to(clip.device)).float().cpu().numpy()


class ClipScorer:
    """Mean CLIP score of the batch (higher is better), plus the fraction of prompts cut to fit the context.

    Prompts longer than the model's context length are truncated by the tokenizer; each distinct one
    warns once (PromptTruncatedWarning) and counts in `clip_truncated`.
    """

    name = "clip"
    metrics = {"clip_score": True}

    def __init__(self, model: ClipModel, batch_size: int = 32):
        self.model = model
        self.batch_size = batch_size
        self._texts: dict[str, tuple[np.ndarray, bool]] = {}  # prompt -> (embedding, truncated)

    def _encode_new(self, prompts: Sequence[str]) -> None:
        missing = sorted(set(prompts) - self._texts.keys())
        if not missing:
            return
        limit = self.model.context_length
        counts = [token_count(self.model.tokenizer, p) for p in missing]
        for p, n in zip(missing, counts):
            if n > limit:
                warnings.warn(
                    f"prompt has {n} tokens, more than the CLIP context length {limit}; "
                    f"scored on its first {limit} tokens: {p[:80]!r}",
                    PromptTruncatedWarning,
                    stacklevel=3,
                )
        truncated = [n > limit for n in counts]
        self._texts.update(zip(missing, zip(encode_texts(self.model, missing), truncated)))

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        if len(images) != len(prompts) or not images:
            raise ValueError(
                f"ClipScorer needs one prompt per image and at least one; "
                f"got {len(images)} images, {len(prompts)} prompts"
            )
        self._encode_new(prompts)
        image_embeds = encode_images(self.model, images, self.batch_size)
        text_embeds = np.stack([self._texts[p][0] for p in prompts])
        return {
            "clip_score": float(np.mean(clip_score(image_embeds, text_embeds))),
            "clip_truncated": float(np.mean([self._texts[p][1] for p in prompts])),
        }
