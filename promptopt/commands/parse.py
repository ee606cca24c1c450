"""`promptopt parse`: the attributes and categories of prompts, as JSON Lines or a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from promptopt import grammar
from promptopt.core.errors import InputError


def describe(prompt: str) -> dict[str, Any]:
    """One output record: the prompt with its attributes and categories, or with the parse error."""
    try:
        attrs = grammar.parse(prompt)
    except grammar.PromptParseError as err:
        return {"prompt": prompt, "error": str(err)}
    return {"prompt": prompt, "attributes": attrs, "categories": grammar.categories(attrs)}


def _cell(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else json.dumps(value).strip('"')


def _print_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("prompt", "categories", "attributes", show_lines=True)
    for record in records:
        if "error" in record:
            table.add_row(record["prompt"], "", f"[red]error: {record['error']}[/red]")
        else:
            attrs = "\n".join(f"{key}: {_cell(value)}" for key, value in record["attributes"].items())
            table.add_row(record["prompt"], ", ".join(record["categories"]), attrs)
    Console().print(table)


def parse(
    prompts: Optional[list[str]] = typer.Argument(None, help="Prompts to parse.", show_default=False),
    file: Optional[Path] = typer.Option(
        None, "--file", help="A text file with one prompt a line, a CSV with a 'prompt' column, or a JSON list."
    ),
    json_lines: bool = typer.Option(False, "--json", help="Print one JSON object per prompt (JSON Lines)."),
) -> None:
    """Parse prompts with the challenge grammar.

    Each prompt's attributes (what it constrains) and the categories it targets. Exit code 1 when a prompt
    cannot be parsed (its line carries an "error"); 2 for bad input.
    """
    from promptopt.datasets.prompt_files import read_prompts

    texts = list(prompts or []) + ([spec.prompt for spec in read_prompts(file)] if file is not None else [])
    if not texts:
        raise InputError("no prompts: give PROMPT arguments or --file FILE")
    records = [describe(text) for text in texts]
    if json_lines:
        for record in records:
            typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        _print_table(records)
    if any("error" in record for record in records):
        raise typer.Exit(1)
