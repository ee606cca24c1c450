"""`promptopt audit`: what a generator draws, clause by clause, read by the judge (`promptopt.loop.audit`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.options import json_option
from promptopt.commands.output import print_json, task_progress
from promptopt.core.errors import InputError


def audit(
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for audit.json, audit.csv and the renders."),
    model: Optional[str] = typer.Option(
        None, "--model", help="gi-sim-tiny (the default), tiny-random, a pipeline folder or a hub id."
    ),
    lora: list[str] = typer.Option([], "--lora", help="LoRA adapter PATH[:WEIGHT]; repeat for several."),
    images: int = typer.Option(24, "--images", min=1, help="Renders a clause, on the same fresh seeds for each."),
    clauses: list[str] = typer.Option(
        [], "--clauses", help="Judge outputs to audit, e.g. 'metal clip', 'polyp_types=iia' (repeatable; default all)."
    ),
    judge: str = typer.Option("gi-sim", "--judge", help="gi-sim (shipped) or a .safetensors from promptopt fit judge."),
    seed_start: Optional[int] = typer.Option(None, "--seed-start", min=0, help="First render seed (default: fixed)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    compare: Optional[tuple[Path, Path]] = typer.Option(
        None, "--compare", help="Two audits (folders or audit.json): print the change per clause; renders nothing."
    ),
    as_json: bool = json_option("the audit (or the comparison)"),
) -> None:
    """Say what a generator draws, clause by clause.

    Per clause: the hit rate (the judge finds the clause on a render) with its 95 % Wilson interval, the mean
    consistency, and what the judge saw instead on the misses. A clause on an output the judge cannot certify is
    "unchecked". Renders are cached under --out/renders: a rerun, or more --images, renders only what is missing."""
    if compare is not None:
        _print_comparison(*compare, as_json=as_json)
        return
    if out is None:
        raise InputError("--out is missing: name a folder for the audit (or compare two with --compare A B)")
    from promptopt.commands.render import generator_config
    from promptopt.loop.audit import SEED_START, run_audit

    cfg = generator_config(None, lora, model=model, device=device)
    check_writable(out)
    with task_progress(quiet=as_json, transient=True) as progress:
        result = run_audit(
            out, cfg, judge, clauses_wanted=clauses or None, images=images,
            seed_start=SEED_START if seed_start is None else seed_start, progress=progress,
        )  # fmt: skip
    if as_json:
        print_json({**result, "rows": [vars(row) for row in result["rows"]]})
    else:
        _print_table(result["rows"], out)


def _print_table(rows: list[Any], out: Path) -> None:
    typer.echo(f"{'hit rate':>8} {'95% interval':>13} {'consist.':>8}  clause (what the judge saw instead)")
    for row in rows:
        verdict = "" if row.checkable else "  [unchecked: cannot be checked by this judge]"
        instead = f" ({row.instead})" if row.instead else ""
        typer.echo(
            f"{row.hit_rate:>8.2f} {f'{row.ci_low:.2f}-{row.ci_high:.2f}':>13} {row.consistency:>8.2f}  "
            f"{row.clause}{instead}{verdict}"
        )
    drawn = sum(row.drawn is True for row in rows)
    unchecked = sum(row.drawn is None for row in rows)
    typer.echo(f"drawn (hit rate >= 0.5): {drawn} of {len(rows) - unchecked} checkable clauses; {unchecked} unchecked")
    typer.echo(f"audit: {out / 'audit.json'}, {out / 'audit.csv'}")


def _print_comparison(before: Path, after: Path, *, as_json: bool) -> None:
    from promptopt.loop.audit import compare, read_audit

    changes = compare(read_audit(before)["rows"], read_audit(after)["rows"])
    if not changes:
        raise InputError(f"{before} and {after} share no clause: compare audits of the same clauses")
    if as_json:
        print_json(changes)
        return
    typer.echo(f"{'before':>6} {'after':>6} {'change':>7}  clause   ({before} → {after})")
    for c in changes:
        mark = "  (intervals apart)" if c["apart"] else ""
        mark += "" if c["checkable"] else "  [unchecked]"
        typer.echo(f"{c['before']:>6.2f} {c['after']:>6.2f} {c['change']:>+7.2f}  {c['clause']}{mark}")
