"""Atomic file and folder writes: a crash leaves either the old content or the new, never half of it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scorers.atomic_file import staging_dir
from scorers.atomic_file import write_atomic as write_bytes

__all__ = ["remove_stale_staging", "staged_dir", "write_bytes", "write_json", "write_text"]


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it replaces `target` as a whole.

    On any error (or interruption) the staging folder is removed and `target` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(target.parent, f".{target.name}.staging-")
    try:
        yield staging
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(folder: Path) -> None:
    """Remove staging and old folders a killed process left in `folder`."""
    if folder.is_dir():
        for path in folder.glob(".*.staging-*"):
            shutil.rmtree(path, ignore_errors=True)
        for path in folder.glob(".*.old-*"):
            shutil.rmtree(path, ignore_errors=True)
