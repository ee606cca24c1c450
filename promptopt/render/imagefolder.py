"""Render a prompt list into a Hugging Face `imagefolder` dataset, resumably (`promptopt render`).

DIR/images/<prompt index>_<image index>.png, DIR/metadata.jsonl (one line per image, appended only after its
image is atomically in place) and DIR/render_config.json (the settings the images depend on). A second run
skips the images already listed; a run with other settings is refused, naming the setting. Image j of prompt i
uses seed `image_seed(seed, i, j)`, so growing --n-per-prompt or appending prompts keeps every earlier image,
and splitting the work into shards (`--shard i/n`, one folder each, merged by `promptopt data merge`) gives the
same images as one run.

PNG encoding and writing happen on one background thread while the next batch renders, so the files cost
(almost) no rendering time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.core.progress import Phase, no_phase
from promptopt.core.tomlio import differences, to_dict
from promptopt.datasets.layouts import METADATA_FILE, generated_record
from promptopt.datasets.prompt_files import PromptSpec
from promptopt.generators.base import Generator, GeneratorConfig, stable_identity
from promptopt.study.config import GENERATOR_RUNTIME_KEYS

CONFIG_FILE = "render_config.json"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class RenderJob:
    """Everything the images depend on, plus how many per prompt; every PromptSpec field is filled in."""

    prompts: tuple[PromptSpec, ...]
    n_per_prompt: int
    seed: int
    generator: GeneratorConfig
    shard: tuple[int, int] = (1, 1)  # (i, n): this run renders every n-th image from the i-th (1-based)

    def __post_init__(self) -> None:
        i, n = self.shard
        if not 1 <= i <= n:
            raise InputError(f"--shard {i}/{n}: write I/N with 1 <= I <= N, for example 1/4")
        if self.n_per_prompt < 1:
            raise InputError(f"--n-per-prompt must be at least 1, got {self.n_per_prompt}")
        if self.seed < 0:
            raise InputError(f"--seed must be 0 or more, got {self.seed}")
        if not self.prompts:
            raise InputError("no prompts to render: give a prompts file with at least one prompt")

    def settings(self) -> dict[str, Any]:
        """What must stay the same for a run to resume into the same folder."""
        generator = {k: v for k, v in to_dict(self.generator).items() if k not in GENERATOR_RUNTIME_KEYS}
        return {"seed": self.seed, "generator": generator, "prompts": [dataclasses.asdict(p) for p in self.prompts]}


@dataclass(frozen=True)
class RenderSummary:
    folder: Path
    written: int
    skipped: int
    total: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def image_seed(seed: int, prompt_index: int, image_index: int) -> int:
    """The seed of image j of prompt i: a pure function of (seed, i, j), 63 bits, independent of the run size."""
    digest = hashlib.sha256(f"{seed}/{prompt_index}/{image_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def image_name(prompt_index: int, image_index: int) -> str:
    return f"{IMAGES_DIR}/{prompt_index:05d}_{image_index:03d}.png"


# ---- the output folder -----------------------------------------------------------------------------------


def _prompt_differences(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Iterator[str]:
    """Prompt lists may grow or shrink (a prefix renders a subset); where both have prompt i, it must agree."""
    for i, (a, b) in enumerate(zip(old, new)):
        yield from differences(a, b, f"prompts[{i}]")


def check_settings(out: Path, job: RenderJob, identity: dict[str, Any] | None = None) -> None:
    """Refuse to resume into `out` when its images were rendered with other settings (or another model), or when
    what it would write to is a symbolic link (which would carry the writes out of `out`)."""
    for name in (METADATA_FILE, IMAGES_DIR, CONFIG_FILE):
        if (out / name).is_symlink():
            raise InputError(
                f"{out / name} is a symbolic link: render writes only inside --out; render into a new --out folder"
            )
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        old_settings = stored["settings"]
    except (OSError, ValueError, KeyError):
        raise InputError(f"{path} is not a render config: render into a new --out folder") from None
    new_settings = job.settings()
    changed = [
        *differences(
            {k: v for k, v in old_settings.items() if k != "prompts"},
            {k: v for k, v in new_settings.items() if k != "prompts"},
            "",
        ),
        *_prompt_differences(old_settings.get("prompts", []), new_settings["prompts"]),
    ]
    if identity is not None and stored.get("identity") is not None:
        changed += list(differences(stored["identity"], stable_identity(identity), "model"))
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise InputError(
            f"{out} holds images rendered with other settings: {changed[0]}{more}; "
            "render into a new --out folder or use the same settings"
        )


def _write_config(out: Path, job: RenderJob, identity: dict[str, Any], prompts_file: str) -> None:
    path = out / CONFIG_FILE
    settings = job.settings()
    if path.is_file():  # keep the longer prompt list, so a shorter run never forgets prompts already rendered
        old_prompts = json.loads(path.read_text(encoding="utf-8"))["settings"]["prompts"]
        if len(old_prompts) > len(settings["prompts"]):
            settings["prompts"] = old_prompts
    atomic.write_json(
        path,
        {
            "settings": settings,
            "identity": stable_identity(identity),
            "n_per_prompt": job.n_per_prompt,
            "prompts_file": prompts_file,
        },
    )


def _done_images(out: Path) -> set[str]:
    """File names already rendered: metadata lines whose image exists. Repairs what a crash can leave: a torn
    last line, lines whose image is gone, and temporary image files."""
    images = out / IMAGES_DIR
    if images.is_dir():
        for stale in images.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    path = out / METADATA_FILE
    if not path.is_file():
        return set()
    text = path.read_text(encoding="utf-8")
    lines = text[: text.rfind("\n") + 1].splitlines()  # a torn last line has no newline yet
    kept, done = [], set()
    for number, line in enumerate(lines, start=1):
        try:
            name = json.loads(line)["file_name"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path} line {number} is not a metadata record: remove that line and run again") from None
        if name not in done and (out / name).is_file():
            kept.append(line)
            done.add(name)
    torn = bool(text) and not text.endswith("\n")
    if torn or len(kept) != len(lines):
        atomic.write_text(path, "".join(f"{line}\n" for line in kept))
    return done


# ---- rendering -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    prompt_index: int
    image_index: int
    spec: PromptSpec
    seed: int

    @property
    def file_name(self) -> str:
        return image_name(self.prompt_index, self.image_index)


def _sampling(item: _Pending) -> tuple[str | None, float | None, int | None]:
    return item.spec.negative_prompt, item.spec.guidance_scale, item.spec.steps


def _batches(pending: list[_Pending], batch_size: int) -> Iterator[list[_Pending]]:
    """Consecutive images that share sampling settings (negative prompt, guidance, steps), up to batch_size."""
    batch: list[_Pending] = []
    for item in pending:
        if batch and (len(batch) == batch_size or _sampling(item) != _sampling(batch[0])):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


class _Writer:
    """Writes one batch's images and metadata lines on a background thread, in order; at most one batch waits."""

    def __init__(self, out: Path, job: RenderJob, identity: dict[str, Any]) -> None:
        self.out, self.job, self.identity = out, job, identity
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="render-writer")
        self.pending: Future[None] | None = None

    def submit(self, batch: list[_Pending], images: list[Any]) -> None:
        self.wait()
        self.pending = self.pool.submit(self._write, batch, images)

    def wait(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)

    def _write(self, batch: list[_Pending], images: list[Any]) -> None:
        lines = []
        for item, image in zip(batch, images):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            atomic.write_bytes(self.out / item.file_name, buffer.getvalue())
            lines.append(json.dumps(self._record(item), ensure_ascii=False) + "\n")
        with (self.out / METADATA_FILE).open("a", encoding="utf-8") as fh:  # after the images are in place
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())

    def _record(self, item: _Pending) -> dict[str, Any]:
        return generated_record(
            item.file_name,
            prompt=item.spec.prompt,
            negative_prompt=item.spec.negative_prompt,
            seed=item.seed,
            guidance_scale=item.spec.guidance_scale,
            steps=item.spec.steps,
            generator=self.identity,
            height=self.job.generator.height,
            width=self.job.generator.width,
            prompt_index=item.prompt_index,
            image_index=item.image_index,
        )


def render_folder(
    job: RenderJob,
    out: Path,
    generator: Generator,
    *,
    prompts_file: str = "",
    on_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RenderSummary:
    """Render every image of `job` (of its shard) that `out` does not hold yet. `on_start(total, already_done)` is
    called once, `on_batch(n)` after each batch of n images is rendered. The images of shard i/n are the i-th,
    (i+n)-th, … of the prompt-major list; their seeds and names do not depend on the split, so the shards'
    folders merged (`promptopt.render.merge`) equal one run."""
    check_settings(out, job, generator.identity)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    done = _done_images(out)
    _write_config(out, job, generator.identity, prompts_file)
    every = [
        _Pending(i, j, spec, image_seed(job.seed, i, j))
        for i, spec in enumerate(job.prompts)
        for j in range(job.n_per_prompt)
    ][job.shard[0] - 1 :: job.shard[1]]
    pending = [item for item in every if item.file_name not in done]
    if on_start is not None:
        on_start(len(every), len(every) - len(pending))
    start = time.perf_counter()
    writer = _Writer(out, job, generator.identity)
    try:
        for batch in _batches(pending, job.generator.batch_size):
            spec = batch[0].spec
            images = generator.render(
                [item.spec.prompt for item in batch],
                [item.seed for item in batch],
                negative_prompt=spec.negative_prompt,
                guidance_scale=spec.guidance_scale,  # type: ignore[arg-type]
                steps=spec.steps,  # type: ignore[arg-type]
            )
            writer.submit(batch, images)
            if on_batch is not None:
                on_batch(len(batch))
    finally:
        writer.close()
    return RenderSummary(out, len(pending), len(every) - len(pending), len(every), time.perf_counter() - start)


def render_job(
    job: RenderJob,
    out: Path,
    *,
    prompts_file: str,
    phase: Phase = no_phase,
    on_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """`promptopt render` as one workflow: load the job's generator (in `phase`), render what `out` lacks
    (`render_folder`) and return what was done; a GPU out of memory even at batch size 1 is an InputError."""
    import torch

    from promptopt.core.libraries import quiet_libraries
    from promptopt.study.factory import generator_for

    quiet_libraries()
    with phase("loading generator"):
        generator = generator_for(job.generator)
    try:
        summary = render_folder(job, out, generator, prompts_file=prompts_file, on_start=on_start, on_batch=on_batch)
    except torch.cuda.OutOfMemoryError as err:
        raise InputError(str(err).splitlines()[0]) from None
    return {
        "out": str(out),
        "written": summary.written,
        "skipped": summary.skipped,
        "total": summary.total,
        "seconds": round(summary.seconds, 3),
        "images_per_second": round(summary.images_per_second, 3),
        "metadata": str(out / METADATA_FILE),
        "generator": generator.identity,
    }
