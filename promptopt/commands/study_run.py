"""Wire a study together for `search` and `export`: build the parts, run the search with a progress bar, export,
print the summary."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptopt.commands.common import quiet_libraries
from promptopt.config import StudyConfig
from promptopt.export import ExportResult, export_study
from promptopt.factory import RealismAssets, build_generator, build_mutator, build_realism, build_scorers
from promptopt.interrupt import StopFlag
from promptopt.paths import DATASET_DIR, PROMPTS_CSV, RunPaths
from promptopt.scorers.base import Scorer
from promptopt.search import SearchResult, TrialRecord, check_generator, open_study, run_search
from promptopt.storage import masked, open_storage

console = Console(stderr=True)


def _best_trials(cfg: StudyConfig, study: Any) -> list[dict[str, Any]]:
    """The best trial (the Pareto front with several objectives) as numbers: trial number and objective values."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    names = [o.name for o in cfg.objectives]
    best = [study.best_trial] if len(names) == 1 else study.best_trials  # one, even when a repeated candidate ties
    return [{"trial": t.number, "values": dict(zip(names, t.values))} for t in best]


def _best_text(cfg: StudyConfig, best: list[dict[str, Any]]) -> str:
    """The line `_best_trials` reads as."""
    if not best:
        return "no trial yet"
    if len(cfg.objectives) == 1:
        name = cfg.objectives[0].name
        return f"best {name} {best[0]['values'][name]:.4f} (trial {best[0]['trial']})"
    return f"{len(best)} trials on the Pareto front"


@contextmanager
def _phase(message: str, *, quiet: bool) -> Iterator[None]:
    """A spinner on a terminal; in a log (stderr not a terminal: `make search > log`, nohup, CI), where a spinner
    prints nothing, a line once the phase is done (none when it fails: the error is the one line); nothing when
    quiet."""
    if not quiet and console.is_terminal:
        with console.status(message, spinner="dots"):
            yield
        return
    start = time.perf_counter()
    yield
    _log(f"{message}: done in {time.perf_counter() - start:.1f} s", quiet=quiet)


def _log(message: str, *, quiet: bool) -> None:
    """A line for a log, where bars and spinners cannot redraw (stderr is not a terminal)."""
    if not quiet and not console.is_terminal:
        console.print(message, highlight=False)


def _trial_line(cfg: StudyConfig, record: TrialRecord, n_complete: int, best: str) -> str:
    """A log line per trial, for when the bar cannot redraw (not a terminal)."""
    values = ", ".join(f"{o.name} {v:.4f}" for o, v in zip(cfg.objectives, record.values))
    again = f", same candidate as trial {record.duplicate_of}" if record.duplicate_of is not None else ""
    return f"trial {record.number}: {values}{again}; {n_complete}/{cfg.study.n_trials} complete, {best}"


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
        console=console,
    )


def run_and_export(
    cfg: StudyConfig, paths: RunPaths, storage: str | None, *, grace_s: int, export: bool, quiet: bool
) -> dict[str, Any]:
    """Search until the study in `storage` (None: the run folder's SQLite file) holds cfg.study.n_trials complete
    trials, export (in the worker that completed the last trial), and return a summary."""
    quiet_libraries()
    if storage is not None:
        open_storage(storage, grace_s)  # a database that cannot be reached fails before the models load
    with _phase("loading generator and scorers", quiet=quiet):
        generator = build_generator(cfg)
        realism = build_realism(cfg, device=generator.device)
        scorers = build_scorers(cfg, realism, device=generator.device)
        mutator = build_mutator(cfg)
    study = open_study(cfg, paths, storage, grace_s=grace_s)
    check_generator(study, generator, paths)
    with _progress() as progress, StopFlag().installed() as stop:
        task = progress.add_task(f"search {cfg.study.name}", total=cfg.study.n_trials, best="")

        def on_trial(n_complete: int, record: TrialRecord | None) -> None:
            best = _best_text(cfg, _best_trials(cfg, study))
            progress.update(task, completed=n_complete, best=best)
            if record is not None:
                _log(_trial_line(cfg, record, n_complete, best), quiet=quiet)

        result = run_search(
            cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator, stop=stop, on_trial=on_trial
        )
    exported = None
    if export and result.finished_here:
        exported = _export(cfg, paths, study, generator, realism, scorers)
    summary = _summary(cfg, paths, masked(storage or paths.storage_url), study, result, exported)
    summary["export_elsewhere"] = export and not result.stopped_early and not result.finished_here
    holdout = _holdout(cfg, exported, generator, scorers, quiet=quiet)
    if holdout is not None:
        summary["holdout"] = holdout
    if not quiet:
        _print_summary(summary)
    return summary


def _holdout(
    cfg: StudyConfig, exported: ExportResult | None, generator: Any, scorers: Sequence[Scorer], *, quiet: bool
) -> dict[str, Any] | None:
    """The export's hold-out check (`promptopt.holdout.export_holdout`) under a spinner."""
    if exported is None:
        return None
    from promptopt.holdout import export_holdout

    with _phase("hold-out check: best vs seed prompt", quiet=quiet):
        return export_holdout(cfg, exported.folder, exported.rows, generator, scorers)


def _holdout_text(h: dict[str, Any]) -> str:
    paired, plain = h["paired"], h["seed_prompt"]
    head = f"hold-out check ({h['images']} fresh seeds, judge target consistency)"
    if h["best_is_seed_prompt"]:
        return (
            f"{head}: the first exported prompt is the plain seed prompt itself ({plain['prompt']!r}, consistency "
            f"{plain['target_consistency']:.3f}, hit rate {plain['hit_rate']:.3f}): the search found nothing better, "
            "so there is nothing to compare"
        )
    return (
        f"{head}: best prompt {h['best']['target_consistency']:.3f} vs plain seed prompt "
        f"{plain['target_consistency']:.3f} ({plain['prompt']!r}), Wilcoxon p = {paired['wilcoxon_p']:.3g}; "
        f"hit rate {h['best']['hit_rate']:.3f} vs {plain['hit_rate']:.3f} (seeds only the best hits: "
        f"{paired['best_only']}, only the plain: {paired['seed_prompt_only']}, McNemar exact p = "
        f"{paired['mcnemar_p']:.3g})"
    )


def _summary(
    cfg: StudyConfig, paths: RunPaths, storage: str, study: Any, result: SearchResult, exported: ExportResult | None
) -> dict[str, Any]:
    """What a search did; `storage` is the masked URL."""
    return {
        "study": cfg.study.name,
        "category": cfg.study.category,
        "run_dir": str(paths.root),
        "storage": storage,
        "complete_trials": result.n_complete,
        "new_trials": len(result.new_trials),
        "stopped_early": result.stopped_early,
        "exported_here": exported is not None,
        "best": (best := _best_trials(cfg, study)),
        "best_text": _best_text(cfg, best),
        "seconds": {"render": result.timing.render_s, "score": result.timing.score_s, "total": result.timing.total_s},
        "export": None
        if exported is None
        else {
            "folder": str(exported.folder),
            "prompts_csv": str(exported.folder / PROMPTS_CSV),
            "dataset": str(exported.folder / DATASET_DIR),
            "images": exported.n_images,
            "top_prompts": [row["prompt"] for row in exported.rows],
            "validation": _validation_text(cfg, exported.rows[0]),
            "first_vs_best": _first_vs_best(cfg, study, exported.rows),
            "dataset_realism": exported.dataset_realism,
        },
    }


def _validation_text(cfg: StudyConfig, row: dict[str, Any]) -> str | None:
    """The first prompt's first objective on the validation seeds and on the evaluation seeds."""
    name = cfg.objectives[0].name
    if f"validation_objective_{name}" not in row:
        return None
    return (
        f"1st prompt (trial {row['trial']}): {name} {row[f'validation_objective_{name}']:.4f} on "
        f"{cfg.export.validation_images} validation seeds, {row[f'objective_{name}']:.4f} on the evaluation seeds"
    )


def _first_vs_best(cfg: StudyConfig, study: Any, rows: list[dict[str, Any]]) -> str | None:
    """Which trial the first exported prompt comes from and, when it is not the study's best trial (the one the
    summary line and optuna-dashboard name), why: the export ranks the finalists on fresh validation seeds."""
    if len(cfg.objectives) != 1:
        return None
    first, best = rows[0], study.best_trial
    text = f"exported 1st prompt: trial {first['trial']}"
    cand = best.user_attrs.get("candidate", {})
    if all(cand.get(key) == first[key] for key in ("prompt", "negative_prompt", "guidance_scale", "steps")):
        return f"{text}, the best trial's prompt"
    rank = next((row["rank"] for row in rows if row["trial"] == best.number), None)
    there = f"; trial {best.number} ranked {rank} there" if rank is not None else ""
    return (
        f"{text}, not the best trial {best.number} ({cfg.objectives[0].name} {best.value:.4f} on the evaluation "
        "seeds): "
        f"the export ranks the top {cfg.export.top_k} by their scores on {cfg.export.validation_images} fresh "
        f"validation seeds, so a lucky draw of the evaluation seeds does not decide{there}"
    )


def _print_summary(summary: dict[str, Any]) -> None:
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
        console.print(_holdout_text(summary["holdout"]), soft_wrap=True, highlight=False)
    if summary["export"]:
        console.print(f"report: promptopt report {summary['run_dir']}", soft_wrap=True, highlight=False)


def export_only(cfg: StudyConfig, paths: RunPaths, storage: str | None, *, quiet: bool) -> list[dict[str, Any]]:
    """Export an existing study (in `storage`, None: the run folder's SQLite file) without searching, with its
    hold-out check; returns the prompt rows."""
    quiet_libraries()
    study = open_study(cfg, paths, storage, create=False)
    ex = cfg.export
    generator = build_generator(cfg) if ex.images_per_prompt or ex.validation_images or ex.holdout_images else None
    if generator is not None:
        check_generator(study, generator, paths)
    realism = build_realism(cfg, device=generator.device) if generator is not None else None
    scorers = build_scorers(cfg, realism, device=generator.device) if generator is not None else []
    exported = _export(cfg, paths, study, generator, realism, scorers)
    if not quiet:
        console.print(f"optimal prompts: {exported.folder / PROMPTS_CSV}")
        if exported.n_images:
            console.print(f"synthetic dataset: {exported.folder / DATASET_DIR} ({exported.n_images} images)")
        else:  # the export folder is replaced as a whole: say so, rather than name a folder that is gone
            console.print("synthetic dataset: none (--images-per-prompt 0; the previous export was replaced whole)")
    holdout = _holdout(cfg, exported, generator, scorers, quiet=quiet)
    if holdout is not None and not quiet:
        console.print(_holdout_text(holdout), soft_wrap=True, highlight=False)
    return exported.rows


def _export(
    cfg: StudyConfig,
    paths: RunPaths,
    study: Any,
    generator: Any,
    realism: RealismAssets | None,
    scorers: Sequence[Scorer],
) -> ExportResult:
    """Validate the finalists and export; one progress bar over their validation and dataset images."""
    per_prompt = cfg.export.images_per_prompt + (cfg.export.validation_images if scorers else 0)
    with _progress() as progress:
        task = progress.add_task("validate + export", total=cfg.export.top_k * per_prompt, best="")
        return export_study(
            cfg, paths, study, generator=generator, realism=realism, scorers=scorers,
            progress=lambda k: progress.advance(task, k),
        )  # fmt: skip
