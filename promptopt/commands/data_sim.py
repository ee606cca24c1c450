"""`promptopt data sim` and `promptopt data sim-grid`: the GI-sim simulator (not medical data)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import typer

from promptopt.core.errors import InputError


def sim(
    out: Path = typer.Option(..., "--out", help="Folder to write (prompt-gt.csv, images/, labels.jsonl, README.md)."),
    n: int = typer.Option(2000, "--n", help="Number of images."),
    size: int = typer.Option(128, "--size", help="Image width and height in pixels."),
    seed: int = typer.Option(0, "--seed", min=0, help="Image i depends only on (seed, i)."),
    image_format: str = typer.Option("jpg", "--format", help="jpg or png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --out folder."),
) -> None:
    """Write a GI-sim dataset in the challenge layout.

    Procedural endoscopy caricatures, each with challenge prompts that are true of it."""
    from promptopt.sim.writer import write_dataset

    start = time.perf_counter()
    written = write_dataset(out, n, size, seed, image_format=image_format, overwrite=overwrite)
    seconds = max(time.perf_counter() - start, 1e-9)
    typer.echo(
        f"wrote {written.images} images and {written.prompts} prompts to {written.out} "
        f"in {seconds:.1f} s ({written.images / seconds:.0f} images/s)"
    )


def sim_grid(
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    size: int = typer.Option(128, "--size", help="Tile width and height in pixels."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the tiles."),
) -> None:
    """Write a labelled 4x4 grid of GI-sim images.

    One tile per main attribute."""
    from promptopt.core.atomic import write_bytes
    from promptopt.sim.grid import sim_grid as make_grid
    from promptopt.sim.writer import check_args

    check_args(1, size, seed, "png")
    if out.suffix.lower() != ".png":
        raise InputError(f"--out {out} must end in .png")
    buffer = io.BytesIO()
    make_grid(size, seed).save(buffer, format="PNG")
    try:
        write_bytes(out, buffer.getvalue())
    except OSError as err:
        raise InputError(f"cannot write --out {out} ({err.strerror}): choose another path") from None
    typer.echo(f"wrote {out}")
