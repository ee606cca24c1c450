"""A study from start to end: build its parts, search until it holds its complete trials, export (in the worker
that completed the last trial), and check the first exported prompt against the plain seed prompt on fresh seeds;
or export a finished study again. These return data; progress goes to `StudyHooks`, which the command layer
turns into spinners, bars and log lines."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from promptopt.core.errors import Note
from promptopt.core.interrupt import StopFlag
from promptopt.core.libraries import quiet_libraries
from promptopt.core.paths import DATASET_DIR, PROMPTS_CSV, RunPaths
from promptopt.core.progress import Phase, Progress, no_phase
from promptopt.judge.scorer import judge_of
from promptopt.scorers.base import Scorer
from promptopt.search.export import ExportResult, export_study
from promptopt.search.loop import SearchResult, run_search
from promptopt.search.mutator import build_mutator
from promptopt.search.optuna_private import release_connections
from promptopt.search.storage import masked, open_storage
from promptopt.search.study_open import check_generator, check_resumable, open_study
from promptopt.search.trials import TrialRecord
from promptopt.study.config import StudyConfig
from promptopt.study.factory import RealismAssets, build_generator, build_realism, build_scorers

EXPORT_TASK = "validate + export"


@dataclass(frozen=True)
class StudyHooks:
    """What a study run reports while it works, all optional: `phase(message)` wraps a step without a count
    (loading the models, the hold-out check); `on_trial(n_complete, record, best)` comes once before the first
    trial (record None) and after each, with the study's best as a line; `progress` counts the export's renders
    (task `EXPORT_TASK`); `on_summary` gets `run_study`'s summary at the end."""

    phase: Phase = no_phase
    on_trial: Callable[[int, TrialRecord | None, str], None] | None = None
    progress: Progress | None = None
    on_summary: Callable[[dict[str, Any]], None] | None = None


def best_trials(cfg: StudyConfig, study: Any) -> list[dict[str, Any]]:
    """The best trial (the Pareto front with several objectives) as numbers: trial number and objective values."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    names = [o.name for o in cfg.objectives]
    best = [study.best_trial] if len(names) == 1 else study.best_trials  # one, even when a repeated candidate ties
    return [{"trial": t.number, "values": dict(zip(names, t.values))} for t in best]


def best_text(cfg: StudyConfig, best: list[dict[str, Any]]) -> str:
    """The line `best_trials` reads as."""
    if not best:
        return "no trial yet"
    if len(cfg.objectives) == 1:
        name = cfg.objectives[0].name
        return f"best {name} {best[0]['values'][name]:.4f} (trial {best[0]['trial']})"
    return f"{len(best)} trials on the Pareto front"


def run_study(
    cfg: StudyConfig,
    paths: RunPaths,
    storage: str | None,
    *,
    grace_s: int,
    export: bool,
    hooks: StudyHooks = StudyHooks(),
) -> dict[str, Any]:
    """Search until the study in `storage` (None: the run folder's SQLite file) holds cfg.study.n_trials complete
    trials, export (in the worker that completed the last trial) with its hold-out check, and return a summary."""
    quiet_libraries()
    if storage is not None:
        open_storage(storage, grace_s)  # a database that cannot be reached fails before the models load
    check_resumable(cfg, paths, storage)  # as does a study this config cannot resume
    with hooks.phase("loading generator and scorers"):
        generator = build_generator(cfg)
        realism = build_realism(cfg, device=generator.device)
        scorers = build_scorers(cfg, realism, device=generator.device)
        mutator = build_mutator(cfg)
    _warn_unchecked(scorers)
    study = open_study(cfg, paths, storage, grace_s=grace_s)
    try:
        check_generator(study, generator, paths)

        def on_trial(n_complete: int, record: TrialRecord | None) -> None:
            if hooks.on_trial is not None:
                hooks.on_trial(n_complete, record, best_text(cfg, best_trials(cfg, study)))

        with StopFlag().installed() as stop:  # Ctrl-C: stop at the next render batch
            result = run_search(
                cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator, stop=stop, on_trial=on_trial
            )
        exported = None
        if export and result.finished_here:
            exported = _export(cfg, paths, study, generator, realism, scorers, hooks.progress)
        summary = _summary(cfg, paths, masked(storage or paths.storage_url), study, result, exported)
        summary["export_elsewhere"] = export and not result.stopped_early and not result.finished_here
        holdout = _holdout(cfg, exported, generator, scorers, hooks)
        if holdout is not None:
            summary["holdout"] = holdout
        if hooks.on_summary is not None:
            hooks.on_summary(summary)
        return summary
    finally:
        release_connections(study)


@dataclass(frozen=True)
class Reexport:
    """What `export_again` wrote: the export and, with a judge and hold-out seeds, its hold-out check."""

    exported: ExportResult
    holdout: dict[str, Any] | None


def export_again(
    cfg: StudyConfig, paths: RunPaths, storage: str | None, *, hooks: StudyHooks = StudyHooks()
) -> Reexport:
    """Export an existing study (in `storage`, None: the run folder's SQLite file) without searching, with its
    hold-out check."""
    quiet_libraries()
    study = open_study(cfg, paths, storage, create=False)
    try:
        return _export_existing(cfg, paths, study, hooks)
    finally:
        release_connections(study)


def _export_existing(cfg: StudyConfig, paths: RunPaths, study: Any, hooks: StudyHooks) -> Reexport:
    """`export_again` once its study is open."""
    ex = cfg.export
    generator = build_generator(cfg) if ex.images_per_prompt or ex.validation_images or ex.holdout_images else None
    if generator is not None:
        check_generator(study, generator, paths)
    realism = build_realism(cfg, device=generator.device) if generator is not None else None
    scorers = build_scorers(cfg, realism, device=generator.device) if generator is not None else []
    exported = _export(cfg, paths, study, generator, realism, scorers, hooks.progress)
    return Reexport(exported, _holdout(cfg, exported, generator, scorers, hooks))


def _warn_unchecked(scorers: Sequence[Scorer]) -> None:
    """A `Note` when the judge cannot certify a clause of the target: the search still runs on its
    probabilities, but its hit rates and hold-out verdict on that clause are no evidence."""
    judge = judge_of(scorers)
    if judge is not None and judge.unchecked:
        warnings.warn(
            f"the target's {', '.join(judge.unchecked)} cannot be checked by this judge (its held-out precision or "
            "recall missed the bar): the search optimises the judge's probabilities, but what it reports for "
            "them is no evidence",
            Note,
            stacklevel=2,
        )


def _holdout(
    cfg: StudyConfig, exported: ExportResult | None, generator: Any, scorers: Sequence[Scorer], hooks: StudyHooks
) -> dict[str, Any] | None:
    """The export's hold-out check (`promptopt.search.holdout.export_holdout`) as a phase."""
    if exported is None:
        return None
    from promptopt.search.holdout import export_holdout

    with hooks.phase("hold-out check: best vs seed prompt"):
        return export_holdout(cfg, exported.folder, exported.rows, generator, scorers)


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
        "best": (best := best_trials(cfg, study)),
        "best_text": best_text(cfg, best),
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
            "first_vs_best": first_vs_best(cfg, study, exported.rows),
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


def first_vs_best(cfg: StudyConfig, study: Any, rows: list[dict[str, Any]]) -> str | None:
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


def _export(
    cfg: StudyConfig,
    paths: RunPaths,
    study: Any,
    generator: Any,
    realism: RealismAssets | None,
    scorers: Sequence[Scorer],
    progress: Progress | None,
) -> ExportResult:
    """Validate the finalists and export; `progress` counts their validation and dataset images."""
    per_prompt = cfg.export.images_per_prompt + (cfg.export.validation_images if scorers else 0)
    total, done = cfg.export.top_k * per_prompt, 0

    def advance(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(EXPORT_TASK, done, total)

    advance(0)
    return export_study(cfg, paths, study, generator=generator, realism=realism, scorers=scorers, progress=advance)
