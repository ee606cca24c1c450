"""`promptopt opg`: a study per target of a plan, then the OPG submission by category (`promptopt.opg`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from promptopt.commands.common import check_writable, for_target, print_json
from promptopt.commands.options import (
    holdout_images_option, images_per_prompt_option, top_k_option, validation_images_option,
)
from promptopt.config import StudyConfig, override
from promptopt.errors import InputError

if TYPE_CHECKING:
    from promptopt.opg import PlannedStudy


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
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Search every target of a plan and write the OPG submission.

    One resumable study each, under <out>/studies/; then the submission:
    <out>/submission/<category>/ with prompts.txt (best first), prompts.json (settings, target, scores) and
    model.json (the generator), <out>/summary.csv (per target, the plain seed prompt against the best
    on fresh seeds) and <out>/training-set/ (imagefolder + metadata.jsonl, and classes/<category>/ for
    torchvision). Run the same command again to resume; finished studies are not searched again.
    """
    from promptopt.opg import claim_folder, load_plan, planned

    chosen = load_plan(plan)
    studies = planned(out, chosen)
    configs = []
    for study in studies:
        cfg = for_target(study.target, (chosen.studies or {}).get(study.target.category))
        cfg = override(
            cfg, "study", n_trials=chosen.n_trials if n_trials is None else n_trials,
            images_per_trial=chosen.images_per_trial if images_per_trial is None else images_per_trial,
        )  # fmt: skip
        cfg = override(
            cfg, "export", top_k=top_k, images_per_prompt=images_per_prompt, validation_images=validation_images,
            holdout_images=holdout_images,
        )  # fmt: skip
        configs.append(override(cfg, "generator", model=model, device=device, dtype=dtype))
    if training_images and any(cfg.generator != configs[0].generator for cfg in configs):
        raise InputError("the plan's studies use different generators: give --training-images 0, or one [generator]")
    if threshold is not None and (configs[0].scorers.judge is None or not training_images):
        raise InputError("--filter needs a training set (--training-images > 0) and studies with a [scorers.judge]")
    check_writable(out)
    claim_folder(out, [study.target for study in studies])
    done = _run(out, studies, configs, quiet=as_json)
    composed = _training_set(out, done, configs[0], training_images, threshold) if training_images else None
    _report(out, done, composed, quiet=as_json)


def _run(out: Path, studies: list[PlannedStudy], configs: list[StudyConfig], *, quiet: bool) -> list[PlannedStudy]:
    import dataclasses

    from promptopt.commands.study_run import run_and_export
    from promptopt.opg import finished, generator_identity
    from promptopt.storage import DEFAULT_GRACE_S

    done = []
    for n, (study, cfg) in enumerate(zip(studies, configs), start=1):
        if not quiet:
            typer.echo(f"[{n}/{len(studies)}] {study.text} → {study.paths.root}", err=True)
        if not finished(study.paths, cfg.study.n_trials):
            summary = run_and_export(cfg, study.paths, None, grace_s=DEFAULT_GRACE_S, export=True, quiet=quiet)
            if summary["stopped_early"]:
                typer.echo("stopped: run the same command to resume (finished studies are kept)", err=True)
                raise typer.Exit(130)
        done.append(dataclasses.replace(study, generator=generator_identity(study.paths, cfg.study.name)))
    return done


def _training_set(
    out: Path, done: list[PlannedStudy], cfg: StudyConfig, n: int, threshold: float | None
) -> dict[str, Any]:
    from promptopt.factory import build_generator
    from promptopt.judge_scorer import open_judge
    from promptopt.opg import exported_specs
    from promptopt.training_set import TRAINING_DIR, compose

    judge = open_judge(cfg.scorers.judge.model, "[scorers.judge] model") if cfg.scorers.judge else None
    exported = [exported_specs(study) for study in done]
    targets = [study.target for study in done]
    generator = build_generator(cfg)
    return compose(out / TRAINING_DIR, targets, exported, n, generator, cfg.generator, judge=judge, threshold=threshold)


def _report(out: Path, done: list[PlannedStudy], composed: dict[str, Any] | None, *, quiet: bool) -> None:
    from promptopt.opg import SUBMISSION_DIR, SUMMARY_CSV, summary_rows, write_submission, write_summary

    folders = write_submission(out, done)
    rows = summary_rows(done)
    write_summary(out, rows)
    if quiet:
        print_json({"submission": {c: str(f) for c, f in folders.items()}, "summary": rows, "training_set": composed})
        return
    for row in rows:
        if "best_consistency" not in row:
            typer.echo(f"{row['study']}: no hold-out check (no judge, or holdout_images = 0)")
        elif row["best_is_seed_prompt"]:
            typer.echo(f"{row['study']}: the plain seed prompt stays first ({row['seed_consistency']:.3f})")
        else:
            typer.echo(
                f"{row['study']}: plain seed prompt {row['seed_consistency']:.3f} → best "
                f"{row['best_consistency']:.3f} (mean per-seed gain {row['gain']:+.4f}, Wilcoxon p = "
                f"{row['wilcoxon_p']:.3g}; hit rate {row['seed_hit_rate']:.3f} → {row['best_hit_rate']:.3f})"
            )
    typer.echo(f"submission: {out / SUBMISSION_DIR} ({', '.join(folders)}); summary: {out / SUMMARY_CSV}")
    typer.echo(f"report: promptopt report {out}")
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
