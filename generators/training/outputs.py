"""What a training run leaves in its output folder.

- LoRA methods: `pytorch_lora_weights.safetensors` in diffusers' format (with the adapters' rank/alpha
  metadata), so plain diffusers loads it with `pipe.load_lora_weights(out)`.
- full / random init: the whole pipeline (`model_index.json` + component folders), loadable with
  `DiffusionPipeline.from_pretrained(out)`; around the bundled MiniLM text encoder without a copy of it
  (`generators.bundled_text`: pass `**bundled_components(out)`). `save_precision = "fp16"` halves the files.
- always: `training_log.csv` (step, loss, lr, validation scores) and `training_plot.png`.

Configs keep no `_name_or_path` (the base's local path). Everything is written beside its place and renamed
into it, so a crash never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptopt.core.atomic import staging_dir, write_bytes

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
LOG = "training_log.csv"
PLOT = "training_plot.png"
BASE_COLUMNS = ("step", "loss", "lr")


def move_into(staging: Path, out: Path, last: str) -> None:
    """Move every entry of `staging` into `out`, replacing what is there; `last` (the index file) goes last."""
    for entry in sorted(staging.iterdir(), key=lambda p: p.name == last):
        target = out / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)


def save_lora(out: Path, unet: Any, text_encoder: Any | None) -> Path:
    """Save the UNet (and text-encoder) adapters the way diffusers' LoRA training scripts do."""
    from diffusers import StableDiffusionPipeline

    # private: diffusers' LoRA training scripts call it to store each adapter's rank and alpha beside the weights,
    # so `load_lora_weights` rebuilds them; the one private diffusers import here (checked: diffusers 0.42.1)
    from diffusers.training_utils import _collate_lora_metadata
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    def layers(module: Any) -> dict[str, Any] | None:
        """diffusers' key format where it has one for every layer (attention projections); otherwise peft's for
        all (convolutions have none, and a mixed file loads only the peft half)."""
        if module is None:
            return None
        peft_format = get_peft_model_state_dict(module)
        converted = convert_state_dict_to_diffusers(peft_format)
        return peft_format if any(".lora_A." in key or ".lora_B." in key for key in converted) else converted

    staging = staging_dir(out, ".lora-staging-")
    try:
        StableDiffusionPipeline.save_lora_weights(
            staging,
            unet_lora_layers=layers(unet),
            text_encoder_lora_layers=layers(text_encoder),
            **_collate_lora_metadata({"unet": unet, "text_encoder": text_encoder}),
        )
        move_into(staging, out, LORA_WEIGHTS)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / LORA_WEIGHTS


def _to_half(folder: Path) -> None:
    """Rewrite every floating-point tensor of the folder's safetensors files as float16."""
    from safetensors.torch import load_file, save_file

    for path in folder.rglob("*.safetensors"):
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in load_file(path).items()}
        save_file(tensors, path, metadata={"format": "pt"})


def drop_source_paths(folder: Path) -> None:
    """Remove `_name_or_path` (where a component was loaded from: a local path of this machine) from every
    config.json of the folder, so a saved model names no path of the machine that trained it."""
    for path in folder.rglob("config.json"):
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.pop("_name_or_path", None) is not None:
            path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def save_pipeline(out: Path, pipe: Any, *, bundled_text_encoder: bool = False, precision: str = "fp32") -> Path:
    """`save_pretrained` into a staging folder, then move it in with model_index.json last.
    `bundled_text_encoder`: leave out text_encoder/ and tokenizer/ and write the MiniLM marker instead."""
    from promptopt.generators.bundled_text import write_marker

    staging = staging_dir(out, ".pipeline-staging-")
    try:
        pipe.save_pretrained(staging, safe_serialization=True)
        if bundled_text_encoder:
            for name in ("text_encoder", "tokenizer"):
                shutil.rmtree(staging / name)
            write_marker(staging)
        if precision == "fp16":
            _to_half(staging)
        drop_source_paths(staging)
        move_into(staging, out, "model_index.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def write_log(out: Path, rows: Sequence[dict[str, float]]) -> Path:
    """One row per optimizer step; validation columns (sorted) are empty on steps without validation."""
    extra = sorted({k for row in rows for k in row} - set(BASE_COLUMNS))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*BASE_COLUMNS, *extra], restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (int(v) if k == "step" else f"{v:.6g}") for k, v in row.items()})
    write_bytes(out / LOG, buffer.getvalue().encode("utf-8"))
    return out / LOG


def write_plot(out: Path, rows: Sequence[dict[str, float]]) -> Path:
    """Loss per step (and its trailing mean) above the validation scores, if any; drawn with the Agg canvas
    directly, so matplotlib's global backend is left alone."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    extra = sorted({k for row in rows for k in row} - set(BASE_COLUMNS))
    figure = Figure(figsize=(7, 6 if extra else 3.5), tight_layout=True)
    axes = figure.subplots(2 if extra else 1, 1, squeeze=False)[:, 0]
    steps = [row["step"] for row in rows]
    losses = [row["loss"] for row in rows]
    window = max(1, len(losses) // 20)
    ends = np.arange(1, len(losses) + 1)
    starts = np.maximum(ends - window, 0)
    cumulative = np.concatenate([[0.0], np.cumsum(losses)])
    axes[0].plot(steps, losses, alpha=0.35, label="loss")
    axes[0].plot(steps, (cumulative[ends] - cumulative[starts]) / (ends - starts), label=f"mean of {window} steps")
    axes[0].set(xlabel="step", ylabel="loss", title="training loss")
    axes[0].legend()
    for key in extra:
        points = [(row["step"], row[key]) for row in rows if key in row]
        axes[1].plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    if extra:
        axes[1].set(xlabel="step", title="validation")
        axes[1].legend()
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    write_bytes(out / PLOT, buffer.getvalue())
    return out / PLOT
