"""`promptopt opg` as one workflow: a study per target of the plan (each resumable, a finished one not searched
again), then the submission by category, the summary, and the training set. It returns data; what each study
shows while it runs comes from the caller's `study_hooks`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.errors import InputError
from promptopt.core.progress import Progress
from promptopt.opg.plan import (
    PlannedStudy,
    claim_folder,
    exported_specs,
    finished,
    generator_identity,
    load_plan,
    planned,
    summary_rows,
    write_submission,
    write_summary,
)  # fmt: skip
from promptopt.opg.tuning import (
    TUNED_DIR,
    TuneRequest,
    TuneSettings,
    check_tune_data,
    tune_category,
    tuned_config,
    tuned_study,
    weak_targets,
)
from promptopt.search.run import StudyHooks, run_study
from promptopt.search.storage import DEFAULT_GRACE_S
from promptopt.study.config import StudyConfig
from promptopt.study.lookup import for_target

# (study number, studies in all, the study, its config) -> the hooks its run reports to, as a context
StudyHooksFor = Callable[[int, int, PlannedStudy, StudyConfig], AbstractContextManager[StudyHooks]]


@dataclass(frozen=True)
class Budget:
    """What the command line sets for every study (None: the plan's or the study's own)."""

    n_trials: int | None = None
    images_per_trial: int | None = None
    model: str | None = None
    device: str | None = None
    dtype: str | None = None
    top_k: int | None = None
    images_per_prompt: int | None = None
    validation_images: int | None = None
    holdout_images: int | None = None


@dataclass(frozen=True)
class OpgResult:
    """What an opg run wrote; `stopped`: a study was stopped early (run again to resume), nothing after it ran."""

    stopped: bool
    submission: dict[str, Path]
    summary: list[dict[str, Any]]
    training_set: dict[str, Any] | None


def run_opg(
    out: Path,
    plan_file: Path | None,
    budget: Budget,
    *,
    training_images: int,
    threshold: float | None,
    study_hooks: StudyHooksFor,
    tune: TuneRequest = TuneRequest(),
    on_tune: Callable[[str], AbstractContextManager[Progress]] | None = None,
) -> OpgResult:
    """Search every target of the plan (`plan_file`, None: the default plan) under `out`; with the loop on (`tune`,
    else the plan's), tune the weak ones and search them again on the tuned model (`promptopt.opg.tuning`); then write the submission,
    summary.csv and (`training_images` > 0) the training set, filtered at `threshold` when given. `on_tune(what)`
    wraps each category's tune and check and gives its progress callback."""
    chosen = load_plan(plan_file)
    studies = planned(out, chosen)
    configs = [_config(study, chosen.studies, chosen.n_trials, chosen.images_per_trial, budget) for study in studies]
    if training_images and any(cfg.generator != configs[0].generator for cfg in configs):
        raise InputError("the plan's studies use different generators: give --training-images 0, or one [generator]")
    if threshold is not None and (configs[0].scorers.judge is None or not training_images):
        raise InputError("--filter needs a training set (--training-images > 0) and studies with a [scorers.judge]")
    settings = tune.settings(chosen.tune, chosen.tune_below)
    for cfg in configs if settings is not None else ():
        check_tune_data(settings, cfg.generator.model)
    claim_folder(out, [study.target for study in studies])
    done = _search(list(zip(studies, configs)), study_hooks)
    tuning: dict[str, str] = {}
    if done is not None and settings is not None:
        config_of = {study.target.slug: cfg for study, cfg in zip(studies, configs)}
        done = _tune_weak(out, done, config_of, settings, study_hooks, on_tune or _quiet, tuning)
    if done is None:
        return OpgResult(True, {}, [], None)
    composed = _training_set(out, done, configs[0], training_images, threshold) if training_images else None
    folders = write_submission(out, done)
    rows = summary_rows(done, tuning)
    write_summary(out, rows)
    return OpgResult(False, folders, rows, composed)


def _search(work: list[tuple[PlannedStudy, StudyConfig]], study_hooks: StudyHooksFor) -> list[PlannedStudy] | None:
    """Each study run to its budget (a finished one is not run again); None when one was stopped early."""
    done = []
    for n, (study, cfg) in enumerate(work, start=1):
        if not finished(study.paths, cfg.study.n_trials):
            with study_hooks(n, len(work), study, cfg) as hooks:
                summary = run_study(cfg, study.paths, None, grace_s=DEFAULT_GRACE_S, export=True, hooks=hooks)
            if summary["stopped_early"]:
                return None
        done.append(dataclasses.replace(study, generator=generator_identity(study.paths, cfg.study.name)))
    return done


def _tune_weak(
    out: Path,
    done: list[PlannedStudy],
    config_of: dict[str, StudyConfig],
    tune: TuneSettings,
    study_hooks: StudyHooksFor,
    on_tune: Callable[[str], AbstractContextManager[Progress]],
    tuning: dict[str, str],
) -> list[PlannedStudy] | None:
    """The weak targets tuned by category and searched again on an adapter that passed its guards; `tuning`
    gets what happened to each weak target. None when a study was stopped early."""
    for category, weak in weak_targets(done, tune.below).items():
        with on_tune(f"{category}: {', '.join(s.target.slug for s in weak)}") as progress:
            check = tune_category(out, category, weak, tune, config_of[weak[0].target.slug], progress)["check"]
        if not check["passed"]:
            failed = ", ".join(g["name"] for g in check["guards"] if not g["passed"])
            tuning.update({s.target.slug: f"guard failed: {failed}" for s in weak})
            continue
        adapter = out / TUNED_DIR / category
        again = [(tuned_study(s, adapter, out), tuned_config(config_of[s.target.slug], adapter)) for s in weak]
        searched = _search(again, study_hooks)
        if searched is None:
            return None
        retuned = {s.target.slug: s for s in searched}
        done = [retuned.get(s.target.slug, s) for s in done]
        tuning.update(dict.fromkeys(retuned, "tuned"))
    return done


@contextmanager
def _quiet(what: str) -> Iterator[Progress]:
    yield lambda task, done, total: None


def _config(
    study: PlannedStudy,
    bases: dict[str, Path] | None,
    n_trials: int | None,
    images_per_trial: int | None,
    budget: Budget,
) -> StudyConfig:
    """The study of one target: its category's base study, the plan's budget, the command line's values."""
    cfg = for_target(study.target, (bases or {}).get(study.target.category))
    cfg = cfg.with_study(
        n_trials=n_trials if budget.n_trials is None else budget.n_trials,
        images_per_trial=images_per_trial if budget.images_per_trial is None else budget.images_per_trial,
    )
    cfg = cfg.with_export(
        top_k=budget.top_k, images_per_prompt=budget.images_per_prompt, validation_images=budget.validation_images,
        holdout_images=budget.holdout_images,
    )  # fmt: skip
    return cfg.with_generator(model=budget.model, device=budget.device, dtype=budget.dtype)


def _training_set(
    out: Path, done: list[PlannedStudy], cfg: StudyConfig, n: int, threshold: float | None
) -> dict[str, Any]:
    from promptopt.judge.scorer import open_judge
    from promptopt.opg.training_set import TRAINING_DIR, compose
    from promptopt.study.factory import build_generator

    judge = open_judge(cfg.scorers.judge.model, "[scorers.judge] model") if cfg.scorers.judge else None
    exported = [exported_specs(study) for study in done]
    targets = [study.target for study in done]
    generator = build_generator(cfg)
    return compose(out / TRAINING_DIR, targets, exported, n, generator, cfg.generator, judge=judge, threshold=threshold)
