"""`promptopt train` setup: TOML + flags → a validated TrainConfig, the dataset → training examples.

A training TOML is `generators.training.config.TrainConfig` (top-level keys, `[lora]`, `[dreambooth]`,
`[validation]`, `[model]`) plus a `[data]` section the command owns. The resolved config is written to
`<out>/train_config.toml`, which `--config` accepts again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from promptopt.core.errors import InputError
from promptopt.core.tomlio import build_dataclass, read_toml, to_dict
from promptopt.generators.training.config import TrainConfig
from promptopt.generators.training.data import TrainExample
from promptopt.grammar import CATEGORY_NAMES
from promptopt.scorers.assets import GI_SIM
from promptopt.sim.writer import MAX_SIZE, MIN_SIZE, resolve_data

CONFIG_FILE = "train_config.toml"


@dataclass(frozen=True)
class DataSection:
    """What to train on: a dataset `load_dataset` reads, or `gi-sim` (`gi_sim_images` simulated images at the
    training resolution, made once into the cache dir). `categories` orders the DreamBooth categories: an
    image's category is the first of them it shows; images showing none are left out of DreamBooth runs."""

    path: str = ""
    gi_sim_images: int = 200
    categories: tuple[str, ...] = CATEGORY_NAMES

    def __post_init__(self) -> None:
        if self.gi_sim_images < 1:
            raise ValueError(f"data.gi_sim_images must be at least 1, got {self.gi_sim_images}")
        unknown = sorted(set(self.categories) - set(CATEGORY_NAMES))
        if unknown or not self.categories:
            raise ValueError(
                f"data.categories must name some of {', '.join(CATEGORY_NAMES)}, got {list(self.categories)}"
            )


@dataclass(frozen=True)
class RunConfig:
    """Everything `<out>/train_config.toml` holds: the training config and the data it runs on."""

    train: TrainConfig
    data: DataSection = field(default_factory=DataSection)

    def as_dict(self) -> dict[str, Any]:
        return {**to_dict(self.train), "data": to_dict(self.data)}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for name in sections:
        data = data.setdefault(name, {})
        if not isinstance(data, dict):
            raise InputError(f"{name} must be a table in the config, got {type(data).__name__}")
    data[key] = value


def _resolve_vae_path(data: dict[str, Any], source: Path | None) -> None:
    """A relative `[model.vae] pretrained` is relative to the TOML that names it (recorded absolute)."""
    vae = data.get("model", {}).get("vae") if isinstance(data.get("model"), dict) else None
    path = vae.get("pretrained") if isinstance(vae, dict) else None
    if isinstance(path, str) and path and source is not None:
        vae["pretrained"] = str((source.resolve().parent / Path(path).expanduser()).resolve())


def build_run_config(config: Path | None, init: Path | None, flags: dict[str, Any]) -> RunConfig:
    """--config TOML, then --init TOML as its [model] section, then the flags (dotted keys; None: not given)."""
    data = read_toml(config, "--config") if config is not None else {}
    if init is not None:
        model = read_toml(init, "--init")
        data["model"] = model.get("model", model)
        data.pop("base", None)
    _resolve_vae_path(data, init or config)
    method_given = "method" in data or flags.get("method") is not None
    for dotted, value in flags.items():
        if value is not None:
            _set(data, dotted, list(value) if isinstance(value, tuple) else value)
    if "model" in data and not method_given:
        data["method"] = "full"
    section = data.pop("data", {})
    if not isinstance(section, dict):
        raise InputError("data must be a table: write [data]")
    path = section.get("path")
    if isinstance(path, str) and path and path != GI_SIM:  # recorded absolute: relative to the TOML, or to here
        relative_to = Path.cwd() if flags.get("data.path") is not None or config is None else config.resolve().parent
        section["path"] = str((relative_to / Path(path).expanduser()).resolve())
    return RunConfig(build_dataclass(TrainConfig, data, ""), build_dataclass(DataSection, section, "data"))


def training_data(section: DataSection, resolution: int) -> Path:
    """The dataset folder; `gi-sim` is simulated once into the cache dir at the training resolution (as PNG)."""
    if not section.path:
        raise InputError("no training data: pass --data DIR (a dataset folder, CSV or metadata.jsonl) or --data gi-sim")
    if section.path == GI_SIM and not MIN_SIZE <= resolution <= MAX_SIZE:
        raise InputError(
            f"GI-sim images are {MIN_SIZE} to {MAX_SIZE} pixels wide: choose a --resolution in that range, "
            f"not {resolution}"
        )
    return resolve_data(section.path, gi_sim_images=section.gi_sim_images, size=resolution, image_format="png")


def training_examples(folder: Path, section: DataSection, *, dreambooth: bool) -> tuple[list[TrainExample], int]:
    """Examples with their captions and category; for DreamBooth, images of no chosen category are left out
    (returned as the second value, the number left out)."""
    from promptopt.datasets.layouts import load_dataset
    from promptopt.grammar import categories

    dataset = load_dataset(folder)
    examples, left_out = [], 0
    for item in dataset.items:
        shown = set(categories(item.labels))
        category = next((c for c in section.categories if c in shown), "")
        if dreambooth and not category:
            left_out += 1
            continue
        examples.append(TrainExample(item.image, item.prompts, category))
    if not examples:
        raise InputError(
            f"{folder}: no image shows any of {', '.join(section.categories)}: "
            "DreamBooth needs images of those categories (see --category)"
        )
    return examples, left_out


def check_out_folder(out: Path, run: RunConfig, *, resume: bool) -> None:
    """Refuse an --out that holds another run's config, unless resuming (which may change e.g. the step count)."""
    written = out / CONFIG_FILE
    if resume or not written.is_file():
        return
    previous = read_toml(written, "the run config")
    ignore = {"device", "cpu_threads"}  # where it runs, not what it computes
    current = {k: v for k, v in tomllib.loads(dumps_run(run)).items() if k not in ignore}
    before = {k: v for k, v in previous.items() if k not in ignore}
    if current != before:
        changed = sorted(k for k in set(current) | set(before) if current.get(k) != before.get(k))
        raise InputError(
            f"--out {out} holds a different run (its {CONFIG_FILE} differs in {', '.join(changed)}): "
            "choose another --out, or pass --resume latest to continue that run with this config"
        )


def dumps_run(run: RunConfig) -> str:
    from promptopt.core.tomlio import dumps

    return dumps(run.as_dict())
