"""`promptopt search`: run (or resume) a study, then export its best prompts and a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.options import (
    holdout_images_option,
    images_per_prompt_option,
    top_k_option,
    validation_images_option,
)
from promptopt.commands.output import print_json
from promptopt.search.storage import DEFAULT_GRACE_S, STORAGE_ENV, check_url
from promptopt.study.lookup import load_for, targeted


def search(
    category: Optional[str] = typer.Option(None, "--category", "-c", help="polyp, landmark or instrument."),
    study: Optional[Path] = typer.Option(None, "--study", help="Study TOML (default: studies/<category>.toml)."),
    target: Optional[str] = typer.Option(
        None,
        "--target",
        "-t",
        help="What every image should show: 'polyp: type ip, size >20mm', 'instrument: biopsy forceps', 'landmark: "
        "pylorus'. Replaces the study's target; the study is named after it (<category>-ip-gt20mm).",
    ),
    n_trials: Optional[int] = typer.Option(
        None, "--n-trials", "-n", help="Total complete trials wanted; re-running with a larger number resumes."
    ),
    out: Path = typer.Option(Path("runs"), "--out", help="Runs folder; the study lives in <out>/<study name>/."),
    model: Optional[str] = typer.Option(
        None, "--model", help="gi-sim-tiny (the default), tiny-random, a local pipeline folder or a hub id."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="auto, float32, float16 or bfloat16."),
    images_per_trial: Optional[int] = typer.Option(None, "--images-per-trial", help="Evaluation seeds per trial."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Sampler seed; also picks the evaluation seeds."),
    top_k: Optional[int] = top_k_option(),
    images_per_prompt: Optional[int] = images_per_prompt_option(),
    validation_images: Optional[int] = validation_images_option(),
    holdout_images: Optional[int] = holdout_images_option(),
    storage: Optional[str] = typer.Option(
        None,
        "--storage",
        envvar=STORAGE_ENV,
        show_envvar=True,
        help="Optuna storage URL shared by the workers of one study, e.g. postgresql://user:password@host/db "
        "(default: sqlite:///<out>/<study name>/study.db).",
    ),
    grace_period: int = typer.Option(
        DEFAULT_GRACE_S,
        "--grace-period",
        min=1,
        help="Seconds without a heartbeat after which a running trial's worker counts as gone: the trial is failed "
        "and run again.",
    ),
    no_export: bool = typer.Option(False, "--no-export", help="Skip the export at the end."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Search prompts for a category and export the best.

    Each trial mutates a prompt, renders it, scores the images and tells Optuna; then the best are re-scored on
    fresh seeds and exported, and (with a judge) the first is compared with the plain seed prompt on other fresh
    seeds.

    The study is stored in <out>/<name>/study.db (or --storage) and resumes when the same command runs again:
    --n-trials is the total number of complete trials wanted, so `-n 3` then `-n 5` adds two trials. The same
    command started N times on one --storage gives N workers on one study; the worker that completes its last
    trial exports. Ctrl-C stops at the next render batch (exit code 130, no export; a second Ctrl-C stops at
    once); the running trial is queued again for the next run, and completed trials are kept.
    """
    cfg = load_for(category, study) if target is None else targeted(category, study, target)
    cfg = cfg.with_study(n_trials=n_trials, images_per_trial=images_per_trial, seed=seed)
    cfg = cfg.with_generator(model=model, device=device, dtype=dtype)
    cfg = cfg.with_export(
        top_k=top_k,
        images_per_prompt=images_per_prompt,
        validation_images=validation_images,
        holdout_images=holdout_images,
    )
    from promptopt.core.paths import RunPaths

    paths = RunPaths(out / cfg.study.name)
    check_writable(paths.root)

    from promptopt.commands.study_view import StudyView
    from promptopt.search.run import run_study

    url = check_url(storage) if storage else None
    with StudyView(cfg, quiet=as_json) as view:
        summary = run_study(cfg, paths, url, grace_s=grace_period, export=not no_export, hooks=view.hooks())
    if as_json:
        print_json(summary)
    if summary["stopped_early"]:
        raise typer.Exit(130)
