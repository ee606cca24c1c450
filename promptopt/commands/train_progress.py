"""`promptopt train`'s run: the rich progress bar (a plain line every LOG_EVERY steps when stderr is not a
terminal) and Ctrl-C handling around `generators.training.train.train`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptopt.interrupt import StopFlag

console = Console(stderr=True)

LOG_EVERY = 50  # steps between plain progress lines when stderr is not a terminal (a background run)


def run_training(
    cfg: Any,
    examples: list[Any],
    out: Path,
    *,
    base_folder: Path | None,
    resume: str | None,
    validate: Any,
    quiet: bool,
) -> Any:
    """Train with a progress bar; the first Ctrl-C saves a checkpoint after the current step and stops."""
    from promptopt.generators.training.train import StepReport, train

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]} steps/s"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    with progress, StopFlag(message="saving a checkpoint after the current step, then stopping").installed() as stop:
        task = progress.add_task("preparing", total=cfg.max_train_steps, loss="-", lr="-", rate="-")

        def on_step(report: StepReport) -> None:
            progress.update(
                task, description="train", completed=report.step, loss=f"{report.loss:.4f}",
                lr=f"{report.lr:.2e}", rate=f"{report.steps_per_s:.2f}",
            )  # fmt: skip
            if not quiet and not console.is_terminal and report.step % LOG_EVERY == 0:  # a background run's log
                console.print(
                    f"step {report.step}/{report.max_steps} loss {report.loss:.4f} lr {report.lr:.2e} "
                    f"{report.steps_per_s:.2f} steps/s", highlight=False,
                )  # fmt: skip

        return train(
            cfg, examples, out, base_folder=base_folder, resume=resume, validate=validate, on_step=on_step,
            on_status=lambda message: progress.update(task, description=message), should_stop=lambda: stop.requested,
        )  # fmt: skip
