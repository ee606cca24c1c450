"""Training checkpoints: `out/checkpoints/checkpoint-<step>/`, written beside their place and renamed into it.

A checkpoint holds what an uninterrupted run would still have in memory: the trainable weights, optimizer,
LR scheduler, fp16 grad scaler, EMA, the torch RNG states (LoRA dropout draws from them), the step and the
log so far. `state.json` lists the files; a folder missing any of them is incomplete and refused.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.atomic import staged_dir
from promptopt.core.errors import InputError

CHECKPOINTS = "checkpoints"
STATE = "state.json"
WEIGHTS = "trainable.safetensors"
_NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    folder: Path
    step: int
    weights: dict[str, Any]
    objects: dict[str, Any]  # optimizer, lr_scheduler, and where used scaler, ema, rng
    log: list[dict[str, float]]


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / CHECKPOINTS / f"checkpoint-{step}"


def save_checkpoint(
    out: Path,
    step: int,
    weights: dict[str, Any],
    objects: dict[str, Any],
    log: list[dict[str, float]],
    *,
    total_limit: int,
) -> Path:
    """Write checkpoint-<step> atomically (replacing one of that step), then prune to `total_limit` (0: keep all)."""
    import torch
    from safetensors.torch import save_file

    target = checkpoint_dir(out, step)
    with staged_dir(target) as staging:
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(staging / WEIGHTS))
        files = [WEIGHTS]
        for name, obj in objects.items():
            torch.save(obj, staging / f"{name}.pt")
            files.append(f"{name}.pt")
        state = {"step": step, "files": files, "log": log}
        (staging / STATE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    if total_limit:
        for _, folder in list_checkpoints(out)[:-total_limit]:
            shutil.rmtree(folder, ignore_errors=True)
    return target


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint-<step> folder, oldest first."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return sorted(found)


def missing_files(folder: Path) -> list[str]:
    """The files a checkpoint folder lacks (state.json, or those it lists); empty when complete."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [STATE]
    return [name for name in state.get("files", [WEIGHTS]) if not (folder / name).is_file()]


def find_checkpoint(out: Path, resume: str | Path) -> Path:
    """`latest` → the newest checkpoint under out/checkpoints; otherwise the folder given. It must be complete."""
    if str(resume) == "latest":
        found = list_checkpoints(out)
        if not found:
            raise InputError(f"resume latest: {out / CHECKPOINTS} holds no checkpoint yet; train without resume first")
        folder = found[-1][1]
    else:
        folder = Path(resume).expanduser()
        if not folder.is_dir():
            raise InputError(
                f"resume: checkpoint folder {folder} does not exist; give a checkpoint-<step> folder or latest"
            )
    missing = missing_files(folder)
    if missing:
        raise InputError(
            f"checkpoint {folder} is incomplete (missing {', '.join(missing)}): remove it or resume from another"
        )
    return folder


def load_checkpoint(folder: Path) -> Checkpoint:
    """Everything on the CPU; the optimizer and EMA move their state to their parameters' device."""
    import torch
    from safetensors.torch import load_file

    state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    objects = {
        name.removesuffix(".pt"): torch.load(folder / name, map_location="cpu", weights_only=True)
        for name in state["files"]
        if name.endswith(".pt")
    }
    weights = load_file(str(folder / WEIGHTS))
    return Checkpoint(folder, int(state["step"]), weights, objects, list(state["log"]))
