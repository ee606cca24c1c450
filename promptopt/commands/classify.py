"""`promptopt classify`: the judge's probability of every attribute, per image."""

from __future__ import annotations

import json
from pathlib import Path

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
    threshold: float = typer.Option(0.5, "--threshold", help="Without --json: list the outputs at or above this."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per image: {file, probabilities}."),
) -> None:
    """Say, for each image, how likely it shows each attribute.

    Every attribute a prompt can ask for: presence by grammar name
    (polyp, z-line, tube, text, …, instrument and landmark for "any of") and valued attributes as key=value
    (polyp_count=1, polyp_sizes=>20mm, abnormality_locations=upper-left, procedure=colonoscopy, …)."""
    from promptopt.core.images import load_images
    from promptopt.judge.scorer import open_judge

    paths = image_paths(images)
    model = open_judge(judge, "--judge")
    for start in range(0, len(paths), BATCH):
        chunk = paths[start : start + BATCH]
        proba = model.predict(load_images(chunk))
        for path, row in zip(chunk, proba):
            named = dict(zip(model.outputs, (round(float(p), 6) for p in row)))
            if as_json:
                typer.echo(json.dumps({"file": str(path), "probabilities": named}, ensure_ascii=False))
            else:
                shown = ", ".join(f"{k} {v:.2f}" for k, v in named.items() if v >= threshold)
                typer.echo(f"{path}: {shown or '(nothing at or above the threshold)'}")
