"""Train a diffusers text-to-image model: full fine-tune, LoRA, DreamBooth-LoRA, or full from random init.

A plain PyTorch loop (no accelerate). Every random draw of a step — which images, which captions, the latent
sample, the noise and the timesteps — comes from a CPU generator seeded by (seed, micro-step), so the run is
a pure function of its config and a resumed run equals an uninterrupted one. LoRA dropout draws from torch's
global RNG: it is seeded inside `fork_rng` (the caller's RNG is untouched) and saved in every checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptopt.core.errors import InputError
from promptopt.generators.training.checkpoint import find_checkpoint, load_checkpoint
from promptopt.generators.training.config import TrainConfig
from promptopt.generators.training.data import TrainExample
from promptopt.generators.training.models import Models

if TYPE_CHECKING:
    from promptopt.generators.training.loop import Trainer

Validate = Callable[[list[Any], list[str]], dict[str, float]]


@dataclass(frozen=True)
class StepReport:
    """What the progress bar shows after each optimizer step."""

    step: int
    max_steps: int
    loss: float
    lr: float
    steps_per_s: float


@dataclass
class TrainResult:
    out: Path
    step: int
    stopped: bool
    resumed_from: int | None
    models: Models
    log: list[dict[str, float]]


def resolve_train_device(device: str, mixed_precision: str) -> Any:
    """`auto` is CUDA when available, else the CPU; fp16 needs CUDA (there is no fp16 grad scaling elsewhere)."""
    import torch

    from promptopt.core.device import resolve_device

    resolved = torch.device(resolve_device(device))
    if mixed_precision == "fp16" and resolved.type != "cuda":
        raise InputError("fp16 mixed precision needs a CUDA device; use bf16 or no")
    return resolved


def train(
    cfg: TrainConfig,
    examples: Sequence[TrainExample],
    out: Path,
    *,
    base_folder: Path | None = None,
    resume: str | Path | None = None,
    validate: Validate | None = None,
    on_step: Callable[[StepReport], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train until `cfg.max_train_steps` (or until `should_stop()` says so after a step, which saves a
    checkpoint and returns with `stopped`), then write the outputs (see training.outputs) to `out`.

    `resume`: `latest` or a checkpoint folder. `validate(images, prompts)` scores the validation images.
    """
    import torch

    from promptopt.generators.training.loop import Trainer

    device = resolve_train_device(cfg.device, cfg.mixed_precision)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = load_checkpoint(find_checkpoint(out, resume)) if resume is not None else None
    cuda_devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    status = on_status or (lambda message: None)
    with torch.random.fork_rng(devices=cuda_devices), _cpu_threads(cfg.cpu_threads if device.type == "cpu" else 0):
        torch.manual_seed(cfg.seed)
        trainer = Trainer(cfg, examples, out, base_folder=base_folder, device=device, status=status)
        if checkpoint is not None:
            trainer.restore(checkpoint)
        start = trainer.step
        stopped = _loop(trainer, validate, on_step, should_stop)
        if not stopped:
            status("saving")
            trainer.finish()
        trainer.write_log()
    return TrainResult(out, trainer.step, stopped, None if checkpoint is None else start, trainer.models, trainer.log)


@contextmanager
def _cpu_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count for the block (0: unchanged), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _loop(
    trainer: Trainer,
    validate: Validate | None,
    on_step: Callable[[StepReport], None] | None,
    should_stop: Callable[[], bool] | None,
) -> bool:
    """Optimizer steps until max_train_steps; True when stopped early (a checkpoint holds the state)."""
    cfg = trainer.cfg
    first, began = trainer.step, time.perf_counter()
    while trainer.step < cfg.max_train_steps:
        row = trainer.update()
        if cfg.validation.steps and (trainer.step % cfg.validation.steps == 0 or trainer.step == cfg.max_train_steps):
            row.update(trainer.validate(validate))
        if on_step is not None:
            rate = (trainer.step - first) / max(time.perf_counter() - began, 1e-9)
            on_step(StepReport(trainer.step, cfg.max_train_steps, row["loss"], row["lr"], rate))
        saved = bool(cfg.checkpointing_steps) and trainer.step % cfg.checkpointing_steps == 0
        if saved:
            trainer.save_checkpoint()
            trainer.write_log()  # so far, for watching a long run
        if should_stop is not None and should_stop() and trainer.step < cfg.max_train_steps:
            if not saved:
                trainer.save_checkpoint()
            return True
    if cfg.checkpointing_steps and trainer.step % cfg.checkpointing_steps and trainer.step > first:
        trainer.save_checkpoint()  # the final state, so a longer run can resume from it
    return False
