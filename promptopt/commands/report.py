"""`promptopt report`: a run folder as one self-contained HTML page (an opg run: an index and a page per category)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from promptopt.search.storage import STORAGE_ENV, check_url


def report(
    run_dir: Path = typer.Argument(..., help="A study's run folder (runs/<study>) or an opg run's --out folder."),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        help="HTML file to write (default: RUN_DIR/report.html); for an opg run, a folder "
        "(default: RUN_DIR/report/) for index.html and a page per category.",
    ),
    storage: Optional[str] = typer.Option(
        None,
        "--storage",
        envvar=STORAGE_ENV,
        show_envvar=True,
        help="Optuna storage URL the study is in (default: sqlite:///<run_dir>/study.db).",
    ),
) -> None:
    """Write an HTML report of a search.

    Provenance, the optimisation history, parameter importances, the exported
    prompts beside the plain seed prompt with their images on the same seeds,
    the hold-out check and the exported set's metrics.

    Images and plots are embedded: the file opens from disk, with no server and no network."""
    from promptopt.commands.folders import check_writable
    from promptopt.report.pages import report_out, write_report

    url = check_url(storage) if storage else None
    target = report_out(run_dir, out)
    check_writable(target.parent if target.suffix.lower() in (".html", ".htm") else target)
    typer.echo(write_report(run_dir, target, url))
