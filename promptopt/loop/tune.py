"""A targeted fine-tune: a LoRA that teaches a generator what it does not draw, from the user's own training data.

The images that show a target (every clause of it true of the image: GI-sim's ground truth in `labels.jsonl`, else
what the image's prompts say) are repeated until the target has `per_target` examples (each image at least once,
so a target with 3 images weighs as much as one with 31), each captioned by its own prompts that state the target,
or else by the grammar's sentence for the target; `others` images that do not show it keep the model's other skills
(`mix = "balanced"`: drawn at random from the rest, with their own prompts). The adapter is a LoRA on
the UNet's attention projections and, with `modules = "attention+conv"`, its ResNet convolutions too, written as
diffusers writes one (`pytorch_lora_weights.safetensors`: `pipe.load_lora_weights(folder)` loads it).

The offline default data is the 3,000 GI-sim images gi-sim-tiny learnt from (seed 0, 64×64): any gain comes from
how the data is used, not from new data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.core.interrupt import TRAINING_STOP, StopFlag
from promptopt.generators.shipped import GI_SIM_TINY
from promptopt.generators.training.data import TrainExample
from promptopt.judge.targets import Target
from promptopt.scorers.assets import GI_SIM

TUNE_FILE = "tune.json"  # what a tune was: its targets, settings, data and the training images of each target
GUARDS_FILE = "guards.json"  # the check of the adapter (promptopt.loop.verify)
MODULES = {
    "attention": ("to_q", "to_k", "to_v", "to_out.0"),
    "attention+conv": ("to_q", "to_k", "to_v", "to_out.0", "conv1", "conv2"),
}
MIXES = ("balanced",)


@dataclass(frozen=True)
class TuneConfig:
    """How a targeted fine-tune trains (module docstring). The data mix and learning rate are the best of three
    measured arms on gi-sim-tiny's instrument adapter (docs/tune.md: equal examples per target, every other image
    replayed, 5e-4); rank, modules and steps are not yet ablated (`bench/tune_loop.py --ablation`)."""

    base: str = GI_SIM_TINY
    data: str = GI_SIM
    gi_sim_images: int = 3000
    resolution: int = 64
    rank: int = 32
    modules: str = "attention+conv"
    steps: int = 1500
    learning_rate: float = 5e-4
    batch_size: int = 8
    per_target: int = 200
    others: int = 3000
    mix: str = "balanced"
    seed: int = 0
    device: str = "auto"
    cpu_threads: int = 0

    def __post_init__(self) -> None:
        if self.modules not in MODULES:
            raise InputError(f"modules {self.modules!r}: choose one of {', '.join(MODULES)}")
        if self.mix not in MIXES:
            raise InputError(f"mix {self.mix!r}: choose one of {', '.join(MIXES)}")
        for name in ("rank", "steps", "batch_size", "per_target", "gi_sim_images"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.others < 0 or self.learning_rate <= 0:
            raise InputError("others must be at least 0 and learning_rate above 0")


@dataclass(frozen=True)
class LabelledItem:
    """A training image, its prompts, and its labels (`complete`: GI-sim's ground truth, else from prompts)."""

    image: Path
    prompts: tuple[str, ...]
    labels: dict[str, Any]


def labelled_items(folder: Path) -> list[LabelledItem]:
    """The dataset's images with labels: GI-sim's complete ground truth when the folder has labels.jsonl, else
    the aggregate of each image's prompts (what they do not say is unknown)."""
    from promptopt.datasets.layouts import load_dataset
    from promptopt.sim.writer import read_labels

    dataset = load_dataset(folder)
    by_name = read_labels(folder)
    if by_name is None:
        return [LabelledItem(item.image, item.prompts, item.labels) for item in dataset.items]
    return [LabelledItem(item.image, item.prompts, by_name.get(item.image.name, item.labels)) for item in dataset.items]


CATEGORY_SHOWN = {  # what an image's labels say when it shows a category (a key they lack: unknown, not shown)
    "polyp": lambda labels: "polyp" in labels.get("findings", ()),
    "instrument": lambda labels: bool(labels.get("instruments")) or labels.get("instrument_count", 0) >= 1,
    "landmark": lambda labels: bool(labels.get("landmarks")),
}


def shows(item: LabelledItem, target: Target) -> bool:
    """Whether the image shows the target's category and every one of its attributes."""
    return CATEGORY_SHOWN[target.category](item.labels) and grammar.holds(target.attributes, item.labels)


def captions(item: LabelledItem, target: Target) -> tuple[str, ...]:
    """The image's prompts that state the target's attributes, and the grammar's sentence for them: a caption
    that names the target every time it is drawn (a bare category: the image's own prompts)."""
    wanted = dict(target.attributes)
    if not wanted:
        return item.prompts
    stating = []
    for prompt in item.prompts:
        try:
            attrs = grammar.parse(prompt)
        except grammar.PromptParseError:
            continue
        if all(key in attrs and _within(wanted[key], attrs[key]) for key in wanted):
            stating.append(prompt)
    return (*stating, grammar.phrase(wanted))


def _within(wanted: Any, said: Any) -> bool:
    return set(wanted) <= set(said) if isinstance(wanted, list) else wanted == said


@dataclass(frozen=True)
class TrainingPlan:
    """The examples of a tune and, per target (its slug), the images that show it (what memorisation is checked
    against)."""

    examples: tuple[TrainExample, ...]
    target_images: dict[str, tuple[Path, ...]]
    others: int


def training_plan(
    items: Sequence[LabelledItem], targets: Sequence[Target], cfg: TuneConfig, source: str
) -> TrainingPlan:
    """Each target's images repeated to `per_target` examples with target captions, and `others` other images
    (seeded)."""
    examples: list[TrainExample] = []
    images: dict[str, tuple[Path, ...]] = {}
    for target in targets:
        mine = [item for item in items if shows(item, target)]
        if not mine:
            raise InputError(
                f"training set {source} has no image of {target.slug} ({len(items)} images, none showing it): a "
                "targeted fine-tune needs at least 1 image that shows the target (more is better)"
            )
        images[target.slug] = tuple(item.image for item in mine)
        repeats = -(-cfg.per_target // len(mine))  # ceiling: every image at least once
        examples += [TrainExample(item.image, captions(item, target)) for item in mine for _ in range(repeats)]
    chosen = {path for paths in images.values() for path in paths}
    rest = [item for item in items if item.image not in chosen]
    rng = np.random.default_rng(cfg.seed)
    picked = sorted(rng.choice(len(rest), size=min(cfg.others, len(rest)), replace=False)) if rest else []
    examples += [TrainExample(rest[i].image, rest[i].prompts) for i in picked]
    return TrainingPlan(tuple(examples), images, len(picked))


def train_config(cfg: TuneConfig) -> Any:
    """The `TrainConfig` of a tune: a LoRA of rank `rank` (alpha = rank) on `modules`, no validation renders."""
    from promptopt.generators.training.config import LoraTrainConfig, TrainConfig, ValidationConfig

    return TrainConfig(
        method="lora",
        base=cfg.base,
        resolution=cfg.resolution,
        max_train_steps=cfg.steps,
        train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler="constant",
        lr_warmup_steps=0,
        seed=cfg.seed,
        device=cfg.device,
        cpu_threads=cfg.cpu_threads,
        caption="random",
        checkpointing_steps=max(cfg.steps // 4, 1),
        checkpoints_total_limit=1,
        lora=LoraTrainConfig(rank=cfg.rank, alpha=float(cfg.rank), target_modules=MODULES[cfg.modules]),
        validation=ValidationConfig(steps=0),
    )


def training_folder(cfg: TuneConfig) -> Path:
    """The tune's training images: a dataset folder, or GI-sim simulated once into the cache dir."""
    from promptopt.sim.writer import resolve_data

    if cfg.data != GI_SIM and not Path(cfg.data).expanduser().exists():
        raise InputError(f"training data {cfg.data} does not exist: pass a dataset folder or gi-sim")
    return resolve_data(cfg.data, gi_sim_images=cfg.gi_sim_images, size=cfg.resolution, image_format="png")


def tune(
    targets: Sequence[Target],
    cfg: TuneConfig,
    out: Path,
    *,
    on_step: Callable[[Any], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the targeted LoRA into `out` (resuming a run that was stopped there) and record it in `out`/tune.json;
    returns what tune.json holds. A finished tune in `out` with the same record is not trained again."""
    from promptopt.core import atomic
    from promptopt.core.libraries import quiet_libraries
    from promptopt.core.paths import cache_dir
    from promptopt.generators.diffusers_generator import pipeline_folder
    from promptopt.generators.training.checkpoint import list_checkpoints
    from promptopt.generators.training.outputs import LORA_WEIGHTS
    from promptopt.generators.training.train import train

    base = pipeline_folder(cfg.base, cache_dir())  # a base not on disk fails before anything is written
    folder = training_folder(cfg)
    plan = training_plan(labelled_items(folder), targets, cfg, str(folder))
    record = {
        "targets": [{"text": t.slug, "category": t.category, "attributes": t.attributes} for t in targets],
        "settings": asdict(cfg),
        "data": str(folder),
        "examples": len(plan.examples),
        "others": plan.others,
        "target_images": {slug: [str(p) for p in paths] for slug, paths in plan.target_images.items()},
    }
    done = out / TUNE_FILE
    previous = _earlier_record(done)
    if previous is not None and {k: previous.get(k) for k in record} == record:
        if "steps" in previous and (out / LORA_WEIGHTS).is_file():
            return previous
    elif list_checkpoints(out) or (out / LORA_WEIGHTS).is_file():
        raise InputError(
            f"{out} holds a tune of other targets, settings or data: give another output folder, or remove {out} "
            "to start this one over"
        )
    quiet_libraries()
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(done, record)  # started: a resumed run checks that it continues this tune
    (out / GUARDS_FILE).unlink(missing_ok=True)  # a check of an earlier adapter is no check of this one
    resume = "latest" if list_checkpoints(out) else None
    with StopFlag(message=TRAINING_STOP).installed() as stop:
        result = train(
            train_config(cfg),
            plan.examples,
            out,
            base_folder=base,
            resume=resume,
            on_step=on_step,
            on_status=on_status,
            should_stop=lambda: stop.requested,
        )
    if result.stopped:
        raise KeyboardInterrupt  # a checkpoint holds the state: the same command resumes

    record["steps"] = result.step
    atomic.write_json(done, record)
    return record


def _earlier_record(path: Path) -> dict[str, Any] | None:
    """What tune.json says of the tune already in its folder; None when there is none (or it is unreadable)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
