"""Sampler (scheduler) choice by name, built from the loaded pipeline's own scheduler config.

`from_config(pipe.scheduler.config)` keeps the model's trained noise schedule (betas, prediction type,
timestep spacing) and changes only the sampling algorithm, as diffusers recommends.
"""

from __future__ import annotations

from typing import Any

from promptopt.generators.errors import GeneratorInputError

DEFAULT_SCHEDULER = "default"

# name -> (diffusers class, extra config); the names are what `[generator] scheduler` and `--scheduler` accept.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpm++-sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),  # DPM++ 2M SDE
    "unipc": ("UniPCMultistepScheduler", {}),
}
SCHEDULER_NAMES = (DEFAULT_SCHEDULER, *SCHEDULERS)


def apply_scheduler(pipe: Any, name: str, model: str) -> None:
    """Swap the pipeline's scheduler for `name` (`default` keeps the model's own)."""
    if name == DEFAULT_SCHEDULER:
        return
    import diffusers

    current = type(pipe.scheduler).__name__
    if current.startswith("FlowMatch"):
        raise GeneratorInputError(
            f"scheduler {name!r} does not fit model {model}, which samples by flow matching ({current}): "
            f'keep scheduler = "{DEFAULT_SCHEDULER}" for this model'
        )
    class_name, extra = SCHEDULERS[name]
    pipe.scheduler = getattr(diffusers, class_name).from_config(pipe.scheduler.config, **extra)
