"""A training set for downstream classifiers, composed from an OPG run's exported prompts (`promptopt opg
--training-images N`).

- **Mix.** The N images are shared among the plan's targets in proportion to how many development prompt rows ask
  for what the target asks, plus one (`development_weights`: a category alone counts every row of its category),
  so the set follows the development set's attribute distribution; within a target they go round-robin over its
  exported prompts, best first, each image on its own seed.
- **Labels** come from each image's prompt: its category (the target's) and the grammar's attributes.
- **Filter** (`threshold`): the judge reads every image, and images whose consistency with their own prompt is
  below the threshold are left out and counted.

Under `<out>/training-set/`: `rendered/` holds every image rendered (`promptopt render`'s resumable imagefolder);
`imagefolder/` the kept images with `metadata.jsonl` (`category`, `labels`, and `consistency` when judged), which
`datasets.load_dataset("imagefolder", data_dir=…)` reads; `classes/<category>/` the same images by category, for
torchvision's `ImageFolder`. Those two views are rebuilt on every run, as hard links to `rendered/` (copies where
the file system has no links).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt import grammar
from promptopt.core import atomic
from promptopt.datasets.layouts import METADATA_FILE
from promptopt.datasets.prompt_files import PromptSpec
from promptopt.generators.base import GeneratorConfig
from promptopt.judge.targets import Target
from promptopt.render.imagefolder import IMAGES_DIR, RenderJob, render_folder

TRAINING_DIR = "training-set"
RENDERED, IMAGEFOLDER, CLASSES = "rendered", "imagefolder", "classes"
JUDGE_BATCH = 256


def compose(
    root: Path,
    targets: Sequence[Target],
    exported: Sequence[Sequence[PromptSpec]],
    n: int,
    generator: Any,
    generator_config: GeneratorConfig,
    *,
    seed: int = 0,
    judge: Any = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Render, label, judge and filter the training set under `root` (module docstring); returns what it did."""
    parts = shares(targets, exported, n)
    job = RenderJob(tuple(p for part in parts for p in part.prompts), 1, seed, generator_config)
    render_folder(job, root / RENDERED, generator, prompts_file="promptopt opg: exported prompts")
    rows = labelled(read_records(root / RENDERED), [part.category for part in parts for _ in part.prompts])
    rendered = len(rows)
    if judge is not None:
        rows = [{**row, "consistency": c} for row, c in zip(rows, judged(root / RENDERED, rows, judge))]
    if threshold is not None:
        rows = [row for row in rows if row["consistency"] >= threshold]
    write_views(root, rows)
    return {
        "folder": str(root),
        "rendered": rendered,
        "kept": len(rows),
        "dropped": rendered - len(rows),
        "threshold": threshold,
        "per_category": dict(Counter(row["category"] for row in rows)),
    }


def judged(folder: Path, rows: Sequence[dict[str, Any]], judge: Any) -> list[float]:
    """Each image's consistency with its own prompt, read by `judge`."""
    from promptopt.core.images import load_images
    from promptopt.judge.consistency import consistency

    out: list[float] = []
    for start in range(0, len(rows), JUDGE_BATCH):
        chunk = rows[start : start + JUDGE_BATCH]
        proba = judge.predict(load_images([folder / row["file_name"] for row in chunk]))
        out += [float(c) for c in consistency(proba, [row["prompt"] for row in chunk])]
    return out


def development_weights(targets: Sequence[Target]) -> list[int]:
    """Per target, 1 + the development prompt rows that ask for its category and every value it names."""
    rows = [(grammar.parse(prompt), n) for prompt, n in grammar.challenge_prompts()]

    def asks(attrs: dict[str, Any], target: Target) -> bool:
        return target.category in grammar.categories(attrs) and grammar.holds(target.attributes, attrs)

    return [1 + sum(n for attrs, n in rows if asks(attrs, target)) for target in targets]


def allocate(n: int, weights: Sequence[int]) -> list[int]:
    """`n` split in proportion to `weights` by largest remainder (ties to the earlier target)."""
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))[: n - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass(frozen=True)
class Share:
    """One target's part of the set: its category, and one prompt (with its settings) per image."""

    category: str
    prompts: tuple[PromptSpec, ...]


def shares(targets: Sequence[Target], exported: Sequence[Sequence[PromptSpec]], n: int) -> list[Share]:
    """Each target's images (module docstring, "Mix"); `exported` holds each target's prompts, best first."""
    counts = allocate(n, development_weights(targets))
    return [
        Share(t.category, tuple(prompts[i % len(prompts)] for i in range(k)))
        for t, prompts, k in zip(targets, exported, counts)
    ]


def labelled(records: Sequence[dict[str, Any]], categories: Sequence[str]) -> list[dict[str, Any]]:
    """The rendered images' metadata rows with `category` (by prompt index) and `labels` from their prompts."""
    parsed: dict[str, dict[str, Any]] = {}
    out = []
    for record in records:
        prompt = record["prompt"]
        labels = parsed.setdefault(prompt, grammar.parse(prompt))
        out.append({**record, "category": categories[record["prompt_index"]], "labels": labels})
    return out


def write_views(root: Path, rows: Sequence[dict[str, Any]]) -> None:
    """`imagefolder/` and `classes/<category>/` of `rows` (module docstring), replacing the previous views."""
    rendered = root / RENDERED
    for name in (IMAGEFOLDER, CLASSES):
        shutil.rmtree(root / name, ignore_errors=True)
    (root / IMAGEFOLDER / IMAGES_DIR).mkdir(parents=True)
    for row in rows:
        source = rendered / row["file_name"]
        name = Path(row["file_name"]).name
        _link(source, root / IMAGEFOLDER / IMAGES_DIR / name)
        (root / CLASSES / row["category"]).mkdir(parents=True, exist_ok=True)
        _link(source, root / CLASSES / row["category"] / name)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    atomic.write_text(root / IMAGEFOLDER / METADATA_FILE, text)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_records(folder: Path) -> list[dict[str, Any]]:
    """The metadata rows of a rendered imagefolder."""
    text = (folder / METADATA_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
