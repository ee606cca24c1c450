"""How a workflow reports progress without printing: it calls `progress(task, done, total)`; the command layer
turns the calls into progress bars (`promptopt.commands.common.task_progress`)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]  # (task, done, total)
