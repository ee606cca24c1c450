"""`promptopt export`: (re)write a run's optimal prompts and synthetic dataset."""

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
from promptopt.core.errors import InputError
from promptopt.search.storage import STORAGE_ENV, check_url
from promptopt.study.config import load_study


def export(
    run_dir: Path = typer.Argument(..., help="A run folder made by `promptopt search` (holds study.db, config.toml)."),
    top_k: Optional[int] = top_k_option(),
    images_per_prompt: Optional[int] = images_per_prompt_option(),
    validation_images: Optional[int] = validation_images_option(),
    holdout_images: Optional[int] = holdout_images_option(),
    storage: Optional[str] = typer.Option(
        None,
        "--storage",
        envvar=STORAGE_ENV,
        show_envvar=True,
        help="Optuna storage URL the run's study is in (default: sqlite:///<run_dir>/study.db).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the exported prompts as JSON on stdout."),
) -> None:
    """Export a run's best prompts and their dataset again.

    Rank the complete trials, re-score the top-k on validation seeds, write opg_prompts.csv/.json, render the
    dataset (images + metadata.jsonl), and (with a judge) compare the first prompt with the plain seed prompt on
    other fresh seeds (export/holdout.json)."""
    from promptopt.core.paths import DATASET_DIR, PROMPTS_CSV, RunPaths

    paths = RunPaths(run_dir)
    if not paths.config.is_file() or not (storage or paths.db.is_file()):
        raise InputError(f"{run_dir} is not a run folder (no study.db and config.toml): pass <out>/<study name>")
    check_writable(run_dir, fix="make it writable, or copy the run folder elsewhere and export the copy")
    cfg = load_study(paths.config).with_export(
        top_k=top_k,
        images_per_prompt=images_per_prompt,
        validation_images=validation_images,
        holdout_images=holdout_images,
    )
    from promptopt.commands.study_view import StudyView, console, holdout_text
    from promptopt.search.run import export_again

    with StudyView(cfg, quiet=as_json) as view:
        done = export_again(cfg, paths, check_url(storage) if storage else None, hooks=view.hooks())
    exported = done.exported
    if as_json:
        print_json(exported.rows)
        return
    console.print(f"optimal prompts: {exported.folder / PROMPTS_CSV}")
    if exported.n_images:
        console.print(f"synthetic dataset: {exported.folder / DATASET_DIR} ({exported.n_images} images)")
    else:  # the export folder is replaced as a whole: say so, rather than name a folder that is gone
        console.print("synthetic dataset: none (--images-per-prompt 0; the previous export was replaced whole)")
    if done.holdout is not None:
        console.print(holdout_text(done.holdout), soft_wrap=True, highlight=False)
