"""How `promptopt train` shows a run (`promptopt.train.run`): a rich progress bar with loss, learning rate and
speed, or a plain line every LOG_EVERY steps when stderr is not a terminal (a background run's log)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)

LOG_EVERY = 50  # steps between plain progress lines when stderr is not a terminal


class TrainView:
    """`on_status` and `on_step` callbacks of a training run; the bar starts at the first of them."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self._bars: Progress | None = None
        self._task: Any = None

    def _bar(self) -> Progress:
        if self._bars is None:
            self._bars = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]} steps/s"),
                TimeElapsedColumn(),
                console=console,
                disable=self.quiet,
            )
            self._bars.start()
            self._task = self._bars.add_task("preparing", total=self.total, loss="-", lr="-", rate="-")
        return self._bars

    def on_status(self, message: str) -> None:
        self._bar().update(self._task, description=message)

    def on_step(self, report: Any) -> None:
        self._bar().update(
            self._task, description="train", completed=report.step,
            loss=f"{report.loss:.4f}", lr=f"{report.lr:.2e}", rate=f"{report.steps_per_s:.2f}",
        )  # fmt: skip
        if not self.quiet and not console.is_terminal and report.step % LOG_EVERY == 0:
            console.print(
                f"step {report.step}/{report.max_steps} loss {report.loss:.4f} lr {report.lr:.2e} "
                f"{report.steps_per_s:.2f} steps/s", highlight=False,
            )  # fmt: skip

    def __enter__(self) -> TrainView:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._bars is not None:
            if kind is not None:
                self._bars.live.transient = True  # an error's one line replaces the bar
            self._bars.stop()
