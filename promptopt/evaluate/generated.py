"""The generated side of a set-level evaluation: the folder's images, and one prompt per image from its
metadata.jsonl when it is an imagefolder (for the metrics that read prompts: CLIP score, consistency)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promptopt.core.errors import InputError
from promptopt.datasets.layouts import METADATA_FILE

PROMPT_KEYS = ("prompt", "caption", "text")


def generated_files(folder: Path) -> list[Path]:
    from promptopt.core.images import check_readable, image_files

    if not folder.is_dir():
        raise InputError(f"generated folder {folder} does not exist: pass a folder of generated images")
    files = image_files(folder)
    if len(files) < 2:
        raise InputError(f"generated folder {folder} holds {len(files)} images; set-level metrics need at least 2")
    check_readable(files)
    return files


@dataclass(frozen=True)
class ImagePrompts:
    """One prompt per generated image (`texts`), or None and the reason there is none."""

    texts: list[str] | None
    reason: str = ""


def image_prompts(folder: Path, files: Sequence[Path]) -> ImagePrompts:
    """One prompt per image from the folder's metadata.jsonl (an imagefolder), or the reason there is none."""
    meta = folder / METADATA_FILE
    if not meta.is_file():
        return ImagePrompts(None, f"{folder} has no metadata.jsonl with a prompt per image")
    by_path: dict[Path, str] = {}
    for number, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{meta}: line {number} is not valid JSON ({err.msg}); write one object a line") from None
        if not isinstance(record, dict):
            continue
        prompt = next((record[k] for k in PROMPT_KEYS if isinstance(record.get(k), str)), None)
        if isinstance(record.get("file_name"), str) and prompt:
            by_path[(folder / record["file_name"]).resolve()] = prompt
    prompts = [by_path.get(path.resolve()) for path in files]
    missing = sum(p is None for p in prompts)
    if missing:
        return ImagePrompts(None, f"{missing} of {len(files)} images have no prompt in {meta}")
    return ImagePrompts([p for p in prompts if p is not None])
