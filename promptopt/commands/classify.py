"""`promptopt classify`: the judge's probability of every attribute, per image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from promptopt.core.errors import InputError

BATCH = 256


def image_paths(inputs: list[Path]) -> list[Path]:
    """The image files named, and those in the folders named (sorted); InputError when there are none."""
    from promptopt.core.images import IMAGE_SUFFIXES, image_files

    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found += image_files(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            raise InputError(f"{path} is neither an image file nor a folder: name images or folders of images")
    if not found:
        raise InputError(f"no image files in {', '.join(map(str, inputs))}: name a folder that holds images")
    return found


def classify(
    images: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively)."),
    judge: str = typer.Option("gi-sim", "--judge", help="gi-sim (shipped) or a .safetensors from promptopt fit judge."),
    threshold: Optional[float] = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Without --json: list the outputs at or above this (default: each output's own decision threshold, "
        "stored in the judge).",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON line per image: {file, probabilities, shows (at the decision thresholds)}."
    ),
) -> None:
    """Say, for each image, how likely it shows each attribute.

    Every attribute a prompt can ask for: presence by grammar name
    (polyp, z-line, tube, text, …, instrument and landmark for "any of") and valued attributes as key=value
    (polyp_count=1, polyp_sizes=>20mm, abnormality_locations=upper-left, procedure=colonoscopy, …). An output the
    judge cannot certify (its held-out precision or recall missed the bar) is marked "(uncertifiable)"."""
    import numpy as np

    from promptopt.core.images import load_images
    from promptopt.judge.scorer import open_judge

    paths = image_paths(images)
    model = open_judge(judge, "--judge")
    cut = model.threshold_array() if threshold is None else np.full(len(model.outputs), threshold)
    for start in range(0, len(paths), BATCH):
        chunk = paths[start : start + BATCH]
        proba = model.predict(load_images(chunk))
        for path, row in zip(chunk, proba):
            shows = [name for name, p, t in zip(model.outputs, row, cut) if p >= t]
            if as_json:
                named = dict(zip(model.outputs, (round(float(p), 6) for p in row)))
                typer.echo(json.dumps({"file": str(path), "probabilities": named, "shows": shows}, ensure_ascii=False))
            else:
                typer.echo(f"{path}: {_shown(shows, dict(zip(model.outputs, row)), model.uncertifiable)}")


def _shown(shows: list[str], proba: dict[str, float], uncertifiable: tuple[str, ...]) -> str:
    marked = [f"{k} {proba[k]:.2f}" + (" (uncertifiable)" if k in uncertifiable else "") for k in shows]
    return ", ".join(marked) or "(nothing at or above the threshold)"
