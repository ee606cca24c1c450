"""Merge the folders of a sharded render (`promptopt render --shard i/n`) into one imagefolder
(`promptopt data merge`).

Every shard must hold the same render settings and model identity (`render_config.json`). The merged folder gets
each image once (hard-linked where the file system allows, else copied), `metadata.jsonl` in prompt-major order
(the order one unsharded run writes) and the shards' render config, so `promptopt render` can resume into it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.datasets.layouts import METADATA_FILE
from promptopt.render.imagefolder import CONFIG_FILE, IMAGES_DIR


def _config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"{folder} has no readable {CONFIG_FILE}: name folders written by promptopt render") from None


def _records(folder: Path) -> list[dict[str, Any]]:
    path = folder / METADATA_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        raise InputError(f"{path} cannot be read: render that shard again (it resumes)") from None


def _place(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def merge_renders(out: Path, shards: Sequence[Path]) -> int:
    """Merge `shards` into the new folder `out` (module docstring); the number of images it holds."""
    if len(shards) < 2:
        raise InputError("give at least two shard folders to merge")
    seen: dict[Path, Path] = {}
    for folder in shards:
        again = seen.setdefault(folder.resolve(), folder)
        if again is not folder:
            raise InputError(f"{folder} is given twice (as {again} and {folder}): name each shard folder once")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out} is not empty: merge into a new folder")
    configs = [_config(folder) for folder in shards]
    for folder, config in zip(shards[1:], configs[1:]):
        if (config["settings"], config["identity"]) != (configs[0]["settings"], configs[0]["identity"]):
            raise InputError(
                f"{folder} was rendered with other settings or another model than {shards[0]}: merge only the "
                "shards of one render"
            )
    by_name: dict[str, tuple[Path, dict[str, Any]]] = {}
    for folder in shards:
        for record in _records(folder):
            if (folder / record["file_name"]).is_file():
                by_name.setdefault(record["file_name"], (folder, record))
    ordered = sorted(by_name.values(), key=lambda item: (item[1]["prompt_index"], item[1]["image_index"]))
    with atomic.staged_dir(out) as staged:
        (staged / IMAGES_DIR).mkdir()
        for folder, record in ordered:
            _place(folder / record["file_name"], staged / record["file_name"])
        lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for _, record in ordered)
        (staged / METADATA_FILE).write_text(lines, encoding="utf-8")
        (staged / CONFIG_FILE).write_text(json.dumps(configs[0], indent=2, ensure_ascii=False) + "\n")
    return len(ordered)
