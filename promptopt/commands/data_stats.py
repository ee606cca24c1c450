"""`promptopt data stats`: sizes, label counts and images per category of a dataset."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

import typer

from promptopt.datasets.layouts import Summary, load_dataset, summarise

SHOWN_SKIPS = 5


def _as_json(summary: Summary) -> dict[str, Any]:
    record = dataclasses.asdict(summary)
    record["warnings"] = list(summary.warnings)
    record["skipped"] = {"count": len(summary.skipped), "first": list(summary.skipped[:SHOWN_SKIPS])}
    return record


def _print_tables(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    overview = Table("dataset", "value", title=f"{summary.root} ({summary.layout})")
    for name in ("images", "prompts", "distinct_prompts"):
        overview.add_row(name.replace("_", " "), str(getattr(summary, name)))
    console.print(overview)
    categories = Table("category", "images", title="images per category")
    for category, n in summary.categories.items():
        categories.add_row(category, str(n))
    console.print(categories)
    labels = Table("attribute", "value", "images", title="images per label value")
    for key, values in summary.labels.items():
        for i, (value, n) in enumerate(values.items()):
            labels.add_row(key if i == 0 else "", value, str(n))
    console.print(labels)
    for warning in summary.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    if summary.skipped:
        console.print(f"[yellow]skipped {len(summary.skipped)} problem(s); the first:[/yellow]", highlight=False)
        for reason in summary.skipped[:SHOWN_SKIPS]:
            console.print(f"  {reason}", highlight=False, markup=False)


def stats(
    directory: Path = typer.Argument(..., help="Dataset folder (prompt-gt.csv, metadata.jsonl or one CSV) or file."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave out bad rows and images and report them."),
    prompt_column: Optional[str] = typer.Option(None, help="Prompt column of a CSV (default: detected)."),
    image_column: Optional[str] = typer.Option(None, help="Image column of a CSV (default: detected)."),
) -> None:
    """Count a dataset's images, prompts and labels.

    Warns about categories too small to score."""
    dataset = load_dataset(directory, skip_bad=skip_bad, prompt_column=prompt_column, image_column=image_column)
    summary = summarise(dataset)
    if json_output:
        typer.echo(json.dumps(_as_json(summary), ensure_ascii=False))
    else:
        _print_tables(summary)
