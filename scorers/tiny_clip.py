"""A tiny randomly initialised open_clip model saved as a local folder: the offline stand-in for CLIP weights.

No CLIP weights can be downloaded here, so tests and demos of the CLIP code paths (CLIPScore, rerank and
CLIP-guided sampling) build this model from a config with a fixed seed. It scores nothing meaningful.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "head_width": 16, "layers": 2},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
TINY_CLIP_PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "interpolation": "bicubic"}


def write_tiny_clip(folder: Path, seed: int = 0, preprocess: dict[str, Any] | None = None) -> Path:
    """Write the tiny model's config and safetensors weights to `folder` (open_clip's hf-hub layout), which
    `scorers.clip.load_clip(str(folder))` then loads; the same seed gives the same weights."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": TINY_CLIP_CFG, "preprocess_cfg": {**TINY_CLIP_PREPROCESS, **(preprocess or {})}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(f"local-dir:{folder}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return folder
