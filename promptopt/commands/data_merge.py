"""`promptopt data merge`: one imagefolder from the shard folders of `promptopt render --shard i/n`."""

from __future__ import annotations

from pathlib import Path

import typer


def merge(
    shards: list[Path] = typer.Argument(..., help="The shard folders (promptopt render --shard I/N), two or more."),
    out: Path = typer.Option(..., "--out", help="New folder for the merged imagefolder."),
) -> None:
    """Merge the folders of a sharded render into one imagefolder.

    Each image once, metadata.jsonl in the order one unsharded run writes, the render config kept (so promptopt
    render resumes into it)."""
    from promptopt.commands.folders import check_writable
    from promptopt.render.merge import merge_renders

    check_writable(out.parent)
    n = merge_renders(out, shards)
    typer.echo(f"merged {n} images from {len(shards)} shards into {out}")
