"""How a workflow reports progress without printing: it calls `progress(task, done, total)` for counted work, and
wraps a step without a count in `phase(message)`; the command layer turns the calls into progress bars and
spinners (`promptopt.commands.output.task_progress`, `promptopt.commands.study_view.StudyView`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

Progress = Callable[[str, int, int], None]  # (task, done, total)
Phase = Callable[[str], AbstractContextManager[None]]  # a step without a count: loading a model, a check


def no_phase(message: str) -> AbstractContextManager[None]:
    """The `Phase` that shows nothing."""
    return nullcontext()
