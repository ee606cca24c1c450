"""Feature backbones for set-level metrics (FID, KID, PRDC, diversity, memorisation), chosen by a spec string.

- ``inception`` (default): 2048-d pool features of the bundled TF InceptionV3 FID network (`InceptionFeatures`).
- ``open_clip:SPEC``: image-tower embeddings of an open_clip model on disk; SPEC is anything
  `scorers.clip.load_clip` accepts (a folder, ``ARCH:FILE``, a cached ``ARCH/TAG``).
- ``dinov2:DIR``: the CLS token (after the final layer norm) of a transformers `Dinov2Model` saved in DIR.

Every backbone takes images through the one resize path (`promptopt.core.images.stack`, PIL bicubic, straight to the
network's square input size: no resize-then-crop) and normalises with the network's own statistics: open_clip's
mean/std from the model's preprocess config, ImageNet mean/std for DINOv2. Each loaded backbone has a `name`
that goes into the reference-feature cache key; for open_clip and DINOv2 it ends in a hash of the weights,
so a changed model never reads another model's cached features.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from promptopt.core.images import stack

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SPEC_HELP = "use 'inception', 'open_clip:SPEC' (a CLIP folder, ARCH:FILE or cached ARCH/TAG) or 'dinov2:DIR'"


class Backbone(Protocol):
    """Images → float64 (N, D) features; `name` identifies the network and its weights."""

    name: str

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray: ...


def load_backbone(spec: str, device: str = "cpu") -> Backbone:
    """The backbone a spec names. Missing weights raise FileNotFoundError, a bad spec ValueError (one line each)."""
    kind, sep, arg = spec.partition(":")
    if spec == "inception":
        from promptopt.scorers.inception import InceptionFeatures

        return InceptionFeatures(device=device)
    if sep and kind == "open_clip" and arg:
        from promptopt.scorers.clip import load_clip

        return OpenClipFeatures(load_clip(arg, device=device))
    if sep and kind == "dinov2" and arg:
        return Dinov2Features(Path(arg), device=device)
    raise ValueError(f"unknown feature backbone {spec!r}: {SPEC_HELP}")


def weights_hash(module: Any) -> str:
    """A short content hash of a torch module's state dict (names, dtypes, shapes and bytes)."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-40:] or "model"


def _normalised(pixels: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Any:
    """uint8 NHWC → float32 NCHW tensor, scaled to [0, 1] and normalised per channel."""
    import torch

    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


class OpenClipFeatures:
    """Image-tower embeddings (not normalised) of an open_clip model."""

    def __init__(self, clip: Any, batch_size: int = 32):
        import open_clip

        cfg = open_clip.get_model_preprocess_cfg(clip.model)
        size = cfg["size"]
        self.size = int(size if isinstance(size, int) else size[0])
        if not isinstance(size, int) and size[0] != size[1]:
            raise ValueError(f"open_clip model {clip.name!r} has a non-square input {tuple(size)}; use a square one")
        self.mean, self.std = tuple(cfg["mean"]), tuple(cfg["std"])
        self.clip = clip
        self.batch_size = batch_size
        self.name = f"open_clip-{_slug(clip.name)}-{weights_hash(clip.model)}"

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        pixels = stack(images, self.size)
        dtype = next(self.clip.model.parameters()).dtype
        out = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                x = _normalised(pixels[start : start + self.batch_size], self.mean, self.std)
                out.append(self.clip.model.encode_image(x.to(self.clip.device, dtype)).double().cpu().numpy())
        return np.concatenate(out)


def dinov2_input_size(folder: Path, config: Any) -> int:
    """The crop size of the folder's preprocessor_config.json when there is one, else config.image_size."""
    processor = folder / "preprocessor_config.json"
    if processor.is_file():
        crop = json.loads(processor.read_text()).get("crop_size")
        if isinstance(crop, dict) and "height" in crop:
            return int(crop["height"])
        if isinstance(crop, int):
            return crop
    return int(config.image_size)


class Dinov2Features:
    """CLS-token embeddings of a transformers Dinov2Model loaded from a local folder (never downloaded)."""

    def __init__(self, folder: Path, device: str = "cpu", batch_size: int = 32):
        from transformers import Dinov2Model

        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"DINOv2 folder {folder} has no config.json: save the model there with save_pretrained "
                "(where there is internet: hf download facebook/dinov2-base --local-dir DIR)"
            )
        try:
            self.model: Any = Dinov2Model.from_pretrained(folder, local_files_only=True).eval().to(device)
        except OSError as err:
            first = str(err).strip().splitlines()[0]
            raise FileNotFoundError(f"DINOv2 weights in {folder} cannot be loaded: {first}") from None
        self.size = dinov2_input_size(folder, self.model.config)
        self.device = device
        self.batch_size = batch_size
        self.name = f"dinov2-{_slug(folder.resolve().name)}-{weights_hash(self.model)}"

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        pixels = stack(images, self.size)
        dtype = next(self.model.parameters()).dtype
        out = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                x = _normalised(pixels[start : start + self.batch_size], IMAGENET_MEAN, IMAGENET_STD)
                hidden = self.model(pixel_values=x.to(self.device, dtype)).last_hidden_state
                out.append(hidden[:, 0].double().cpu().numpy())
        return np.concatenate(out)
