"""`promptopt opg`: a study per target of a plan, then the OPG submission by category (`promptopt.opg.run`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.options import (
    holdout_images_option,
    images_per_prompt_option,
    top_k_option,
    validation_images_option,
)
from promptopt.commands.output import print_json

if TYPE_CHECKING:
    from promptopt.opg.plan import PlannedStudy
    from promptopt.opg.run import OpgResult
    from promptopt.search.run import StudyHooks
    from promptopt.study.config import StudyConfig


def opg(
    out: Path = typer.Option(..., "--out", help="Run folder: studies/<target>/, submission/<category>/, summary.csv."),
    plan: Optional[Path] = typer.Option(
        None,
        "--plan",
        help="Plan TOML: a plan table with targets, n_trials, images_per_trial and studies (a base study TOML per "
        "category). Default: each category, and each Paris type, size, instrument and landmark the development "
        "prompts use.",
    ),
    n_trials: Optional[int] = typer.Option(None, "--n-trials", "-n", help="Complete trials per study."),
    images_per_trial: Optional[int] = typer.Option(None, "--images-per-trial", help="Evaluation seeds per trial."),
    model: Optional[str] = typer.Option(None, "--model", help="Generator for every study (default: the studies')."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="auto, float32, float16 or bfloat16."),
    top_k: Optional[int] = top_k_option(),
    images_per_prompt: Optional[int] = images_per_prompt_option(),
    validation_images: Optional[int] = validation_images_option(),
    holdout_images: Optional[int] = holdout_images_option(),
    training_images: int = typer.Option(
        200,
        "--training-images",
        min=0,
        help="Images of <out>/training-set/, mixed over the targets as the development prompts are (0: none).",
    ),
    threshold: Optional[float] = typer.Option(
        None,
        "--filter",
        min=0.0,
        max=1.0,
        help="Leave out training images whose judge consistency with their own prompt is below this.",
    ),
    tune: Optional[bool] = typer.Option(
        None,
        "--tune/--no-tune",
        help="The generation loop: tune the targets whose hold-out hit rate stays below --tune-below with a "
        "targeted LoRA, check it, and search them again on it (default: the plan's tune).",
    ),
    tune_below: Optional[float] = typer.Option(
        None, "--tune-below", min=0.0, max=1.0, help="Hold-out hit rate a target needs (default: the plan's, 0.5)."
    ),
    tune_data: str = typer.Option(
        "gi-sim", "--tune-data", help="Training images of the tune: a dataset folder (gi-sim: gi-sim-tiny's own)."
    ),
    tune_steps: Optional[int] = typer.Option(None, "--tune-steps", min=1, help="Optimizer steps of each tune."),
    audit_images: int = typer.Option(24, "--audit-images", min=2, help="Renders a clause in a tuned model's check."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Search every target of a plan and write the OPG submission.

    One resumable study each, under <out>/studies/; then the submission:
    <out>/submission/<category>/ with prompts.txt (best first), prompts.json (settings, target, scores) and
    model.json (the generator), <out>/summary.csv (per target, the plain seed prompt against the best
    on fresh seeds) and <out>/training-set/ (imagefolder + metadata.jsonl, and classes/<category>/ for
    torchvision). Run the same command again to resume; finished studies are not searched again. With --tune,
    a category's weak targets get one adapter under <out>/tuned/<category>/; the submission carries it.
    """
    from promptopt.opg.run import Budget, run_opg
    from promptopt.opg.tuning import TuneRequest

    budget = Budget(
        n_trials=n_trials,
        images_per_trial=images_per_trial,
        model=model,
        device=device,
        dtype=dtype,
        top_k=top_k,
        images_per_prompt=images_per_prompt,
        validation_images=validation_images,
        holdout_images=holdout_images,
    )
    request = TuneRequest(enabled=tune, below=tune_below, data=tune_data, steps=tune_steps, audit_images=audit_images)
    check_writable(out)
    result = run_opg(
        out,
        plan,
        budget,
        training_images=training_images,
        threshold=threshold,
        study_hooks=lambda n, total, study, cfg: _study_view(n, total, study, cfg, quiet=as_json),
        tune=request,
        on_tune=lambda what: _tune_view(what, quiet=as_json),
    )
    if result.stopped:
        typer.echo("stopped: run the same command to resume (finished studies are kept)", err=True)
        raise typer.Exit(130)
    if as_json:
        submission = {category: str(folder) for category, folder in result.submission.items()}
        print_json({"submission": submission, "summary": result.summary, "training_set": result.training_set})
    else:
        _print(out, result)


@contextmanager
def _study_view(n: int, total: int, study: PlannedStudy, cfg: StudyConfig, *, quiet: bool) -> Iterator[StudyHooks]:
    """A line naming the study, then its run shown as `promptopt search` shows one."""
    from promptopt.commands.study_view import StudyView

    if not quiet:
        typer.echo(f"[{n}/{total}] {study.text} → {study.paths.root}", err=True)
    with StudyView(cfg, quiet=quiet) as view:
        yield view.hooks()


def _interval(row: dict[str, Any]) -> str:
    """ ", 95 % interval a to b" of a summary row's gain (nothing for a hold-out check from before intervals)."""
    if row.get("gain_low") is None:
        return ""
    return f", 95 % interval {row['gain_low']:+.4f} to {row['gain_high']:+.4f}"


@contextmanager
def _tune_view(what: str, *, quiet: bool) -> Iterator[Any]:
    """A line naming the category's weak targets, then bars over its tune and its check."""
    from promptopt.commands.output import task_progress

    if not quiet:
        typer.echo(f"tuning {what}", err=True)
    with task_progress(quiet=quiet, transient=True) as progress:
        yield progress


def _print(out: Path, result: OpgResult) -> None:
    from promptopt.opg.plan import SUBMISSION_DIR, SUMMARY_CSV

    for row in result.summary:
        typer.echo(f"{row['study']}: {_verdict(row)}")
    typer.echo(f"submission: {out / SUBMISSION_DIR} ({', '.join(result.submission)}); summary: {out / SUMMARY_CSV}")
    typer.echo(f"report: promptopt report {out}")
    composed = result.training_set
    if composed is not None:
        filtered = (
            f", {composed['dropped']} left out below consistency {composed['threshold']}"
            if composed["threshold"] is not None
            else ""
        )
        typer.echo(
            f"training set: {composed['folder']} ({composed['kept']} of {composed['rendered']} images{filtered};"
            f" by category {composed['per_category']})"
        )


def _verdict(row: dict[str, Any]) -> str:
    """What a summary row says of its target, in one line."""
    if "best_consistency" not in row:
        return "no hold-out check (no judge, or holdout_images = 0)"
    if row["unchecked"]:
        return f"cannot be checked by this judge ({row['unchecked']}): no verdict"
    if row.get("untuned_best_hit_rate") is not None:
        return (
            f"tuned; hit rate {row['untuned_best_hit_rate']:.3f} → {row['best_hit_rate']:.3f}, target consistency "
            f"{row['untuned_best_consistency']:.3f} → {row['best_consistency']:.3f} (now vs the plain seed prompt on "
            f"the tuned model: Wilcoxon p = {row['wilcoxon_p']:.3g})"
        )
    if row["tuned"].startswith("guard failed"):
        return f"hit rate {row['best_hit_rate']:.3f}; its tuned adapter is not used ({row['tuned']})"
    if row["best_is_seed_prompt"]:
        return f"the plain seed prompt stays first ({row['seed_consistency']:.3f})"
    gain = f"mean per-seed gain {row['gain']:+.4f}{_interval(row)}"
    hits = f"hit rate {row['seed_hit_rate']:.3f} → {row['best_hit_rate']:.3f}"
    if row["no_difference"] is True:
        return (
            f"no difference: plain seed prompt {row['seed_consistency']:.3f}, best {row['best_consistency']:.3f} "
            f"({gain}); {hits}"
        )
    return (
        f"plain seed prompt {row['seed_consistency']:.3f} → best {row['best_consistency']:.3f} ({gain}, Wilcoxon "
        f"p = {row['wilcoxon_p']:.3g}; {hits})"
    )
