"""How `search`, `export` and `opg` show a study run (`promptopt.search.run`): a spinner per phase, a bar over
the trials and one over the export, a log line per trial when stderr is not a terminal, and the summary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptopt.search.holdout import EQUIVALENCE_MARGIN
from promptopt.search.run import StudyHooks
from promptopt.search.trials import TrialRecord
from promptopt.study.config import StudyConfig

console = Console(stderr=True)


def _log(message: str, *, quiet: bool) -> None:
    """A line for a log, where bars and spinners cannot redraw (stderr is not a terminal)."""
    if not quiet and not console.is_terminal:
        console.print(message, highlight=False)


def _trial_line(cfg: StudyConfig, record: TrialRecord, n_complete: int, best: str) -> str:
    """A log line per trial, for when the bar cannot redraw (not a terminal)."""
    values = ", ".join(f"{o.name} {v:.4f}" for o, v in zip(cfg.objectives, record.values))
    again = f", same candidate as trial {record.duplicate_of}" if record.duplicate_of is not None else ""
    return f"trial {record.number}: {values}{again}; {n_complete}/{cfg.study.n_trials} complete, {best}"


class StudyView:
    """The hooks of one study run as rich output on stderr. The trial and export bars show even with `quiet`
    (--json writes only stdout); phases and log lines do not."""

    def __init__(self, cfg: StudyConfig, *, quiet: bool) -> None:
        self.cfg, self.quiet = cfg, quiet
        self._bars: Progress | None = None
        self._task: Any = None

    def hooks(self) -> StudyHooks:
        """The hooks of a run; its summary is printed at the end unless `quiet`."""
        summary = None if self.quiet else self._summary
        return StudyHooks(phase=self.phase, on_trial=self.on_trial, progress=self.progress, on_summary=summary)

    def _summary(self, summary: dict[str, Any]) -> None:
        self.close()
        print_summary(summary)

    @contextmanager
    def phase(self, message: str) -> Iterator[None]:
        """A spinner on a terminal; in a log (`make search > log`, nohup, CI), where a spinner prints nothing, a
        line once the phase is done (none when it fails: the error is the one line); nothing when quiet."""
        self.close()
        if not self.quiet and console.is_terminal:
            with console.status(message, spinner="dots"):
                yield
            return
        start = time.perf_counter()
        yield
        _log(f"{message}: done in {time.perf_counter() - start:.1f} s", quiet=self.quiet)

    def on_trial(self, n_complete: int, record: TrialRecord | None, best: str) -> None:
        if self._bars is None:
            self._open(f"search {self.cfg.study.name}", self.cfg.study.n_trials)
        assert self._bars is not None
        self._bars.update(self._task, completed=n_complete, best=best)
        if record is not None:
            _log(_trial_line(self.cfg, record, n_complete, best), quiet=self.quiet)

    def progress(self, task: str, done: int, total: int) -> None:
        if self._bars is None or self._bars.tasks[0].description != task:
            self.close()
            self._open(task, total)
        assert self._bars is not None
        self._bars.update(self._task, completed=done)

    def _open(self, description: str, total: int) -> None:
        self._bars = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
            console=console,
        )
        self._bars.start()
        self._task = self._bars.add_task(description, total=total, best="")

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def __enter__(self) -> StudyView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def holdout_text(h: dict[str, Any]) -> str:
    paired, plain = h["paired"], h["seed_prompt"]
    head = f"hold-out check ({h['images']} fresh seeds, judge target consistency)"
    if h.get("unchecked"):  # the judge cannot certify these target clauses: the figures are shown, not a verdict
        head += f" (cannot be checked by this judge: {', '.join(h['unchecked'])}; no verdict)"
    if h["best_is_seed_prompt"]:
        return (
            f"{head}: the first exported prompt is the plain seed prompt itself ({plain['prompt']!r}, consistency "
            f"{plain['target_consistency']:.3f}, hit rate {plain['hit_rate']:.3f}): the search found nothing better, "
            "so there is nothing to compare"
        )
    hits = (
        f"hit rate {h['best']['hit_rate']:.3f} vs {plain['hit_rate']:.3f} (seeds only the best hits: "
        f"{paired['best_only']}, only the plain: {paired['seed_prompt_only']}, McNemar exact p = "
        f"{paired['mcnemar_p']:.3g})"
    )
    both = f"best prompt {h['best']['target_consistency']:.3f} vs plain seed prompt {plain['target_consistency']:.3f}"
    if "gain_ci" not in paired:  # a holdout.json from before the interval
        return f"{head}: {both} ({plain['prompt']!r}), Wilcoxon p = {paired['wilcoxon_p']:.3g}; {hits}"
    gain = f"mean per-seed gain {paired['consistency_gain']:+.4f}, 95 % interval {gain_range(paired['gain_ci'])}"
    if paired["no_difference"]:
        return f"{head}: no difference: {both} ({plain['prompt']!r}; {gain}, within ±{EQUIVALENCE_MARGIN}); {hits}"
    return f"{head}: {both} ({plain['prompt']!r}; {gain}, Wilcoxon p = {paired['wilcoxon_p']:.3g}); {hits}"


def gain_range(interval: list[float]) -> str:
    """A gain's 95 % interval as text."""
    return f"{interval[0]:+.4f} to {interval[1]:+.4f}"


def print_summary(summary: dict[str, Any]) -> None:
    state = "stopped early (run the same command to resume)" if summary["stopped_early"] else "done"
    console.print(
        f"[bold]{summary['study']}[/]: {state}, {summary['complete_trials']} complete trials "
        f"({summary['new_trials']} new), {summary['best_text']}"
    )
    console.print(f"study: {summary['storage']}")
    if summary["export_elsewhere"]:
        console.print("export: left to the worker that completed the study's last trial (or run `promptopt export`)")
    if summary["export"]:
        ex = summary["export"]
        console.print(f"optimal prompts: {ex['prompts_csv']}")
        console.print(f"synthetic dataset: {ex['dataset']} ({ex['images']} images, metadata.jsonl)")
        for rank, prompt in enumerate(ex["top_prompts"], start=1):
            console.print(f"  {rank}. {prompt}", soft_wrap=True, highlight=False)
        if ex["validation"]:
            console.print(f"validation: {ex['validation']}", soft_wrap=True, highlight=False)
        if ex["first_vs_best"]:
            console.print(ex["first_vs_best"], soft_wrap=True, highlight=False)
    if summary.get("holdout"):
        console.print(holdout_text(summary["holdout"]), soft_wrap=True, highlight=False)
    if summary["export"]:
        console.print(f"report: promptopt report {summary['run_dir']}", soft_wrap=True, highlight=False)
