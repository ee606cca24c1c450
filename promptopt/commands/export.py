"""`promptopt export`: (re)write a run's optimal prompts and synthetic dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from promptopt.commands.common import check_writable, print_json
from promptopt.commands.options import (
    holdout_images_option, images_per_prompt_option, top_k_option, validation_images_option,
)
from promptopt.config import load_study, override
from promptopt.errors import InputError
from promptopt.storage import STORAGE_ENV, check_url


def export(
    run_dir: Path = typer.Argument(..., help="A run folder made by `promptopt search` (holds study.db, config.toml)."),
    top_k: Optional[int] = top_k_option(),
    images_per_prompt: Optional[int] = images_per_prompt_option(),
    validation_images: Optional[int] = validation_images_option(),
    holdout_images: Optional[int] = holdout_images_option(),
    storage: Optional[str] = typer.Option(
        None, "--storage", envvar=STORAGE_ENV, show_envvar=True,
        help="Optuna storage URL the run's study is in (default: sqlite:///<run_dir>/study.db).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the exported prompts as JSON on stdout."),
) -> None:
    """Export a run's best prompts and their dataset again.

    Rank the complete trials, re-score the top-k on validation seeds, write opg_prompts.csv/.json, render the
    dataset (images + metadata.jsonl), and (with a judge) compare the first prompt with the plain seed prompt on
    other fresh seeds (export/holdout.json)."""
    from promptopt.paths import RunPaths

    paths = RunPaths(run_dir)
    if not paths.config.is_file() or not (storage or paths.db.is_file()):
        raise InputError(f"{run_dir} is not a run folder (no study.db and config.toml): pass <out>/<study name>")
    check_writable(run_dir, fix="make it writable, or copy the run folder elsewhere and export the copy")
    cfg = override(
        load_study(paths.config), "export", top_k=top_k, images_per_prompt=images_per_prompt,
        validation_images=validation_images, holdout_images=holdout_images,
    )  # fmt: skip
    from promptopt.commands.study_run import export_only

    rows = export_only(cfg, paths, check_url(storage) if storage else None, quiet=as_json)
    if as_json:
        print_json(rows)
