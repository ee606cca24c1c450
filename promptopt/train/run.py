"""`promptopt train` as one workflow: check the output folder, the device and the checkpoint before any model
loads, read the training images, set up validation, train (the first Ctrl-C saves a checkpoint after the current
step and stops), and say what was done. It returns data; steps and status go to the caller's callbacks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptopt.core.atomic import write_text
from promptopt.core.errors import InputError
from promptopt.core.interrupt import TRAINING_STOP, StopFlag
from promptopt.core.libraries import quiet_libraries
from promptopt.generators.training.config import TrainConfig
from promptopt.train.setup import (
    CONFIG_FILE,
    RunConfig,
    check_out_folder,
    dumps_run,
    training_data,
    training_examples,
)  # fmt: skip


def train_model(
    run: RunConfig,
    out: Path,
    *,
    resume: str | None,
    on_step: Callable[[Any], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train `run` into `out` (resuming from `resume`: `latest` or a checkpoint folder) and return its summary.
    `on_step(report)` follows each optimizer step (`generators.training.train.StepReport`), `on_status(text)`
    each stage before the first."""
    from promptopt.generators.training.train import train
    from promptopt.train.validation import KidValidator, merged

    cfg = run.train
    check_out_folder(out, run, resume=resume is not None)
    device = _check_early(cfg, out, resume)
    folder = training_data(run.data, cfg.resolution)
    examples, left_out = training_examples(folder, run.data, dreambooth=cfg.method == "dreambooth-lora")
    quiet_libraries()
    base_folder = _base_folder(cfg.base) if cfg.base else None
    validate = None
    if cfg.validation.steps and cfg.method != "vae":  # vae validation scores its reconstructions itself
        kid = KidValidator([e.image for e in examples], resolution=cfg.resolution, seed=cfg.seed, device=str(device))
        validate = merged([kid])  # a classifier's scores can join here
    fresh = not (out / CONFIG_FILE).is_file()
    write_text(out / CONFIG_FILE, dumps_run(run))
    with StopFlag(message=TRAINING_STOP).installed() as stop:
        try:
            result = train(
                cfg, examples, out, base_folder=base_folder, resume=resume, validate=validate, on_step=on_step,
                on_status=on_status, should_stop=lambda: stop.requested,
            )  # fmt: skip
        except ValueError as err:  # bad input the generators layer found (e.g. unknown LoRA target modules)
            _forget_config(out, fresh)
            raise InputError(" ".join(str(err).split())) from None
        except InputError:  # e.g. a damaged base model: the corrected run must not be refused as another run
            _forget_config(out, fresh)
            raise
    return _summary(result, cfg.method, len(examples), left_out)


def _forget_config(out: Path, fresh: bool) -> None:
    """Remove the config this run wrote into `out` when it failed before its first checkpoint."""
    from promptopt.generators.training.checkpoint import list_checkpoints

    if fresh and not list_checkpoints(out):
        (out / CONFIG_FILE).unlink(missing_ok=True)


def _check_early(cfg: TrainConfig, out: Path, resume: str | None) -> Any:
    """Fail on the device and the checkpoint before loading any model; the device."""
    from promptopt.generators.training.checkpoint import find_checkpoint
    from promptopt.generators.training.train import resolve_train_device

    device = resolve_train_device(cfg.device, cfg.mixed_precision)
    if resume is not None:
        find_checkpoint(out, resume)
    return device


def _base_folder(model: str) -> Path:
    from promptopt.core.paths import cache_dir
    from promptopt.generators.diffusers_generator import ModelNotFoundError, pipeline_folder

    try:
        return pipeline_folder(model, cache_dir())
    except ModelNotFoundError as err:
        raise InputError(str(err).replace("--model", "--base")) from None


def _summary(result: Any, method: str, n_images: int, left_out: int) -> dict[str, Any]:
    log = result.log
    tail = [row["loss"] for row in log[-10:]]
    weights = {"full": "model_index.json", "vae": "config.json"}.get(method, "pytorch_lora_weights.safetensors")
    return {
        "out": str(result.out),
        "method": method,
        "step": result.step,
        "stopped": result.stopped,
        "resumed_from": result.resumed_from,
        "images": n_images,
        "left_out": left_out,
        "final_loss": sum(tail) / len(tail) if tail else None,
        "weights": None if result.stopped else weights,
        "last_validation": {k: v for k, v in (log[-1] if log else {}).items() if k not in ("step", "loss", "lr")},
    }
