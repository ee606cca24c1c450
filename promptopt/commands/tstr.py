"""`promptopt evaluate tstr SYNTHETIC REAL`: train on synthetic, test on real, beside the TRTR ceiling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from promptopt.commands.options import (
    backbone_option,
    device_flag,
    epochs_option,
    feature_device_option,
    hidden_option,
    holdout_option,
    json_option,
)
from promptopt.commands.output import print_json, task_progress


def tstr(
    synthetic: Path = typer.Argument(
        ..., help="Synthetic dataset (imagefolder with metadata.jsonl, or any layout promptopt reads)."
    ),
    real: Path = typer.Argument(..., help="Real dataset with prompts (challenge layout, caption CSV or imagefolder)."),
    holdout: float = holdout_option(0.2, "Share of the real images held out as the test set."),
    epochs: int = epochs_option(),
    hidden: int = hidden_option(),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the real split, the shuffles and the initialisation."),
    backbone: str = backbone_option(),
    device: str = feature_device_option(),
    closed_world: bool = typer.Option(
        False,
        "--closed-world",
        help="Read SYNTHETIC's labels closed-world: what an image's prompts do not make present is absent (a "
        "class-folder set, or prompts that only say what is there, such as OPG prompts).",
    ),
    as_json: bool = json_option("the metrics"),
) -> None:
    """Train on synthetic images, test on real ones (TSTR).

    Fit the attribute classifier on SYNTHETIC (TSTR) and on REAL's training part (TRTR), test both on REAL's
    held-out part: per-attribute recall, F1 and AUROC, and their macro averages over the attributes both share."""
    from promptopt.evaluate.probes import load_backbone
    from promptopt.evaluate.tstr import tstr as run_tstr
    from promptopt.scorers.classifier import ProbeConfig

    config = ProbeConfig(epochs=epochs, hidden=hidden, seed=seed)
    features = load_backbone(backbone, device_flag(device))
    with task_progress(quiet=as_json, transient=True) as progress:
        result = run_tstr(
            synthetic, real, features, holdout=holdout, config=config, closed_world=closed_world, progress=progress
        )
    if as_json:
        print_json(result)
    else:
        _print(result)


def _print(r: dict[str, Any]) -> None:
    real = r["real"]
    typer.echo(
        f"TSTR: trained on {r['synthetic']['images']} synthetic images ({r['synthetic']['root']}); "
        f"TRTR: trained on {real['train']} real images; both tested on {real['test']} held-out real images "
        f"({real['root']}), {r['backbone']} features"
    )
    sides = "   ".join(f"{f'{side} recall':>11} {'F1':>6} {'AUROC':>6}" for side in ("TSTR", "TRTR"))
    typer.echo(f"{'attribute':<20} {'present':>7} {'absent':>6}   {sides}")
    for name, m in r["attributes"].items():
        cells = "   ".join(
            f"{m[s]['recall']:>11.3f} {m[s]['f1']:>6.3f} {m[s]['auroc']:>6.3f}" for s in ("tstr", "trtr")
        )
        typer.echo(f"{name:<20} {m['n_present']:>7} {m['n_absent']:>6}   {cells}")
    if r["attributes"]:
        cells = "   ".join(
            f"{r['macro'][s]['recall']:>11.3f} {r['macro'][s]['f1']:>6.3f} {r['macro'][s]['auroc']:>6.3f}"
            for s in ("tstr", "trtr")
        )
        typer.echo(f"{'macro':<20} {'':>7} {'':>6}   {cells}")
    else:
        typer.echo("no attribute could be compared")
    for name, why in r["not_compared"].items():
        typer.echo(f"not compared: {name}: {why}")
