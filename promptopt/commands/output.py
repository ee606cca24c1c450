"""What commands print: JSON on stdout, and progress bars on stderr for a workflow's
`promptopt.core.progress.Progress` calls."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from promptopt.core.progress import Progress


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def task_progress(*, quiet: bool, suffix: str = "", transient: bool = False) -> Iterator[Progress]:
    """A `Progress` callback that draws one rich bar per task on stderr (none when `quiet`); when stderr is no
    terminal (a log file, CI), a line per tenth of each task instead, which a bar would not leave."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    console = Console(stderr=True)
    if not quiet and not console.is_terminal:
        yield _lines(suffix)
        return
    bars = Bars(
        TextColumn(f"[bold]{{task.description}}{suffix}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=transient,
    )
    tasks: dict[str, Any] = {}

    def update(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total)
        bars.update(tasks[task], completed=done)

    with bars:
        try:
            yield update
        except BaseException:
            bars.live.transient = True  # an error's one line replaces the bars
            raise


def _lines(suffix: str) -> Progress:
    """A `Progress` callback printing `task: done/total` on stderr at every tenth of each task and at its end."""

    def update(task: str, done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(f"{task}{suffix}: {done}/{total}", file=sys.stderr, flush=True)

    return update
