"""Image grids: images pasted in rows, one column per seed, as PNG bytes or a file (validation grids of a
training run, a trial's grid in the run folder, the report's grids)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptopt.core.atomic import write_bytes


def grid_png(images: Sequence[Any], rows: int) -> bytes:
    """The PNG of a grid with `rows` rows (e.g. one per validation prompt), one column per seed."""
    from PIL import Image

    cols = len(images) // rows
    width, height = images[0].size
    grid = Image.new("RGB", (cols * width, rows * height))
    for i, image in enumerate(images):
        grid.paste(image, ((i % cols) * width, (i // cols) * height))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(images: Sequence[Any], rows: int, path: Path) -> Path:
    """`grid_png` written to `path`."""
    write_bytes(path, grid_png(images, rows))
    return path
