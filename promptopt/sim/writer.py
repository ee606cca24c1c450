"""Write a GI-sim dataset in the challenge layout.

    DIR/prompt-gt.csv   `;`-separated, header `Prompt;Filename`, one row per (prompt, image)
    DIR/images/         gisim-000000.jpg, … (image i depends only on (seed, i))
    DIR/labels.jsonl    one object per image: {"filename": …, "labels": {…}} in the grammar's schema
    DIR/README.md       what this is (a simulator, not medical data) and the command that made it

The folder is written into a staging folder beside it and moved into place at the end.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from promptopt import __version__
from promptopt.core.atomic import staged_dir
from promptopt.core.errors import InputError
from promptopt.scorers.assets import GI_SIM
from promptopt.sim.config import SimConfig, sim_key
from promptopt.sim.prompts import choose_prompts, prompt_table
from promptopt.sim.sampling import sample_scene
from promptopt.sim.scene import image_rngs, render_scene

FORMATS = ("jpg", "png")
MIN_SIZE, MAX_SIZE = 32, 1024
GI_SIM_SEED = 0  # the seed `promptopt data sim` defaults to, and the one --data gi-sim uses
LABELS_FILE = "labels.jsonl"  # each image's complete ground truth


@dataclass(frozen=True)
class Written:
    out: Path
    images: int
    prompts: int


def file_name(index: int, image_format: str) -> str:
    return f"gisim-{index:06d}.{image_format}"


def save_image(image: Image.Image, path: Path, image_format: str) -> None:
    """JPEG at quality 95 without chroma subsampling (thin wires survive), or PNG."""
    if image_format == "jpg":
        image.save(path, format="JPEG", quality=95, subsampling=0)
    else:
        image.save(path, format="PNG")


def check_args(n: int, size: int, seed: int, image_format: str) -> None:
    if n < 1:
        raise InputError(f"--n must be at least 1, got {n}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    if image_format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {image_format!r}")


def check_out(out: Path, overwrite: bool) -> None:
    """`out` must be a new or empty folder (or any folder with `overwrite`) whose parent is writable."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file: name a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out} is not empty: choose another folder or pass --overwrite to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as err:
        raise InputError(f"cannot write to --out {out} ({err.strerror}): choose another folder") from None


def _readme(n: int, size: int, seed: int, image_format: str, cfg: SimConfig) -> str:
    custom = "" if cfg == SimConfig() else f"\nCustom attribute frequencies: `{cfg!r}`\n"
    return f"""# GI-sim dataset

GI-sim is a **simulator, not medical data**: procedural caricatures of GI endoscopy images (colonoscopy and
gastroscopy scenes with polyps, oesophagitis, ulcerative colitis, Barrett's, landmarks, instruments, text and
the box artefact). Use it to test pipelines, never to train or evaluate anything clinical.

- {n} images of {size}x{size} pixels in `images/`, {image_format}
- `prompt-gt.csv`: `Prompt;Filename`, challenge prompts true of each image (MEDVQA-GI 2024 grammar)
- `labels.jsonl`: each image's ground-truth attributes (locations: the 3x3 cells where the object is visible;
  finding_count: the abnormalities drawn, each polyp counted, plus each other finding)

Made by promptopt {__version__} with:

    promptopt data sim --n {n} --size {size} --seed {seed} --format {image_format} --out DIR

Image i depends only on (seed, i): a smaller --n gives the first images of a larger one.
{custom}"""


def write_dataset(
    out: Path,
    n: int,
    size: int,
    seed: int,
    *,
    cfg: SimConfig = SimConfig(),
    image_format: str = "jpg",
    overwrite: bool = False,
) -> Written:
    """Simulate `n` images and write them with prompts, labels and a README to `out`."""
    check_args(n, size, seed, image_format)
    check_out(out, overwrite)
    table = prompt_table()
    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";", lineterminator="\n")
    writer.writerow(["Prompt", "Filename"])
    labels_lines, n_prompts = [], 0
    with staged_dir(out) as staging:
        (staging / "images").mkdir()
        for index in range(n):
            scene_rng, prompt_rng = image_rngs(seed, index)
            image, labels = render_scene(sample_scene(scene_rng, cfg), size, scene_rng)
            name = file_name(index, image_format)
            save_image(image, staging / "images" / name, image_format)
            record = labels.as_dict()
            prompts = choose_prompts(table, record, prompt_rng)
            writer.writerows([prompt, name] for prompt in prompts)
            n_prompts += len(prompts)
            labels_lines.append(json.dumps({"filename": name, "labels": record}, ensure_ascii=False))
        (staging / "prompt-gt.csv").write_text(rows.getvalue(), encoding="utf-8")
        (staging / LABELS_FILE).write_text("\n".join(labels_lines) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(_readme(n, size, seed, image_format, cfg), encoding="utf-8")
    return Written(out, n, n_prompts)


def gi_sim_dataset(n: int, size: int, seed: int, cache: Path, *, image_format: str = "jpg") -> Path:
    """A GI-sim dataset of `n` images at `size`×`size` (challenge layout), written once under `cache`/gi-sim and
    keyed by the simulator version and config (`sim_key`), so a changed simulator never reuses stale images."""
    check_args(n, size, seed, image_format)
    target = cache / "gi-sim" / f"gi-sim-{n}x{size}-seed{seed}-{image_format}-{sim_key(SimConfig())}"
    if not (target / "prompt-gt.csv").is_file():
        write_dataset(target, n, size, seed, image_format=image_format, overwrite=True)
    return target


def resolve_data(data: str, *, gi_sim_images: int, size: int, image_format: str = "jpg") -> Path:
    """The dataset folder a `--data` value names: a path, or `gi-sim` (`gi_sim_images` images at `size`, seed
    GI_SIM_SEED, made once into the cache dir)."""
    if data != GI_SIM:
        return Path(data).expanduser()
    if gi_sim_images < 1:
        raise InputError(f"--gi-sim-images must be at least 1, got {gi_sim_images}")
    from promptopt.core.paths import cache_dir

    return gi_sim_dataset(gi_sim_images, size, GI_SIM_SEED, cache_dir(), image_format=image_format)


def read_labels(folder: Path) -> dict[str, dict] | None:
    """The ground truth `write_dataset` left in `folder` (labels.jsonl): file name → labels, in file order; None
    when the folder has none (a dataset that is not GI-sim)."""
    truth = folder / LABELS_FILE
    if not truth.is_file():
        return None
    rows = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["filename"]: row["labels"] for row in rows}
