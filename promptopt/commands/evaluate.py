"""`promptopt evaluate GENERATED --reference REAL`: set-level metrics of generated images, as a table or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from promptopt.commands.output import print_json

EVALUATE_HELP = """Evaluate generated images against real ones.

promptopt evaluate GENERATED --reference REAL computes FID, KID, PRDC, IS, CLIP score, diversity, memorisation
and prompt–image consistency; promptopt evaluate tstr SYNTHETIC REAL trains on synthetic images and tests on real
ones. A folder named tstr is written ./tstr."""


GI_SIM_HELD_OUT = (500, 64)  # images, size: the default reference, disjoint from training's GI-sim seed 0


def _gi_sim_defaults(reference: str, judge: str | None) -> tuple[Path, str | None, str | None]:
    """`--reference gi-sim`: the held-out GI-sim folder (made once, cached), its identity (the folder's name: the
    recipe that made it) and the shipped judge."""
    if reference != "gi-sim":
        return Path(reference), None, judge
    from promptopt.core.paths import cache_dir
    from promptopt.sim.reference import gi_sim_reference

    n, size = GI_SIM_HELD_OUT
    folder = gi_sim_reference(None, n, size, cache_dir())
    return folder, folder.name, judge or "gi-sim"


def evaluate(
    generated: Path = typer.Argument(..., help="Folder of generated images (metadata.jsonl with prompts for CLIP)."),
    reference: str = typer.Option(
        "gi-sim",
        "--reference",
        "-r",
        help="Folder of real images (features are cached), or gi-sim: 500 held-out "
        "GI-sim images at 64x64 (seed 20241; features shipped).",
    ),
    metrics: Optional[str] = typer.Option(
        None,
        "--metrics",
        help="Comma-separated: fid,kid,prdc,is,clip,diversity,memorisation,consistency (default: all).",
    ),
    backbone: str = typer.Option(
        "inception",
        "--backbone",
        help="Features of FID, KID, PRDC, diversity, memorisation: inception, open_clip:SPEC or dinov2:DIR.",
    ),
    clip: Optional[str] = typer.Option(
        None, "--clip", help="open_clip model for CLIP score (folder, ARCH:FILE or cached ARCH/TAG)."
    ),
    judge: Optional[str] = typer.Option(
        None,
        "--judge",
        help="Judge (gi-sim or a file from promptopt fit judge) for consistency and the judge IS "
        "(default with --reference gi-sim: the shipped GI-sim judge).",
    ),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Consistency: leave out prompts the grammar cannot read, and count them."
    ),
    is_network: Optional[Path] = typer.Option(
        None, "--is-network", help="TorchScript network for the standard IS: uint8 NCHW 299x299 images -> logits."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the KID subsets, the IS split order and sampling."),
    as_json: bool = typer.Option(False, "--json", help="Print every metric as JSON on stdout."),
) -> None:
    """Set-level metrics of GENERATED against --reference REAL, with sample sizes and reliability notes.

    FID, KID, PRDC, diversity and memorisation use the --backbone features; the reference's features are
    cached, so evaluating another folder against the same reference only computes the generated side. A metric
    that cannot be computed from what was given is listed with the reason. Numbers are comparable only at equal
    sample sizes and with the same backbone.
    """
    from promptopt.commands.options import device_flag
    from promptopt.evaluate.sets import METRICS, EvaluateConfig

    names = tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics is not None else METRICS
    folder, identity, judge = _gi_sim_defaults(reference, judge)
    cfg = EvaluateConfig(
        generated=generated,
        reference=folder,
        reference_identity=identity,
        metrics=names,
        backbone=backbone,
        clip=clip,
        judge=judge,
        is_network=is_network,
        seed=seed,
        device=device_flag(device),
        skip_bad=skip_bad,
        prompts_required=metrics is not None and "consistency" in names,
    )
    result = _run(cfg, quiet=as_json)
    if as_json:
        print_json(result.to_json())
    else:
        _print_table(result)


def _run(cfg: Any, *, quiet: bool) -> Any:
    from promptopt.commands.output import task_progress
    from promptopt.evaluate.sets import evaluate as run_evaluation

    if cfg.backbone.startswith("dinov2:"):
        _quiet_transformers()
    with task_progress(quiet=quiet, suffix=" features") as progress:
        return run_evaluation(cfg, progress=progress)


def _quiet_transformers() -> None:
    """No weight-loading progress bars or info logs from transformers between the table's lines."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def _format_value(value: float | None, se: float | None) -> str:
    if value is None:
        return "not computed"
    return f"{value:.4g} ± {se:.2g}" if se is not None else f"{value:.4g}"


def _print_table(result: Any) -> None:
    """The metrics table; notes go below it as numbered footnotes so that the table fits 80 columns."""
    from rich.console import Console
    from rich.table import Table

    cached = {True: ", reference features cached", False: "", None: ""}[result.reference_cached]
    table = Table(title=f"{result.generated} vs {result.reference}", caption=f"backbone {result.backbone}{cached}")
    for header in ("metric", "value", "n gen", "n ref", "features", "reliable", "note"):
        table.add_column(header, no_wrap=header in ("metric", "value"))
    notes: list[str] = []
    for row in result.rows:
        if row.note:
            notes.append(row.note)
        table.add_row(
            row.metric,
            _format_value(row.value, row.se),
            str(row.n_generated),
            "-" if row.n_reference is None else str(row.n_reference),
            _short(row.backbone, result),
            {True: "yes", False: "no", None: "-"}[row.reliable],
            f"[{len(notes)}]" if row.note else "",
        )
    console = Console()
    console.print(table)
    for number, note in enumerate(notes, start=1):
        console.print(f"[{number}] {note}", markup=False, highlight=False)


def _short(backbone: str | None, result: Any) -> str:
    """The backbone's kind (inception, open_clip, dinov2) for backbone metrics, else the model's own name."""
    if backbone is None:
        return "-"
    return result.backbone_spec.partition(":")[0] if backbone == result.backbone else backbone
