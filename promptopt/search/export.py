"""Export a study: the optimal prompts (OPG subtask) and a synthetic dataset rendered from them.

runs/<study>/export/
  opg_prompts.csv, opg_prompts.json   category, rank, prompt, negative prompt, parameters, trial scores and
                                      validation scores (the ranking's)
  dataset/images/*.png + metadata.jsonl   a Hugging Face `imagefolder` dataset
  summary.json                            provenance: config, environment, generator, set-level realism
The whole folder is built beside the old one and swapped in at the end, so an interrupted export leaves the
previous export intact.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.core.paths import DATASET_DIR, PROMPTS_CSV, PROMPTS_JSON, SUMMARY_FILE, RunPaths
from promptopt.core.provenance import environment
from promptopt.core.tomlio import to_dict
from promptopt.datasets.layouts import METADATA_FILE, generated_record
from promptopt.generators.base import Generator
from promptopt.judge.scorer import judge_of
from promptopt.scorers.base import Scorer
from promptopt.search.finalists import validate_finalists
from promptopt.search.ranking import rank_trials
from promptopt.search.seeds import export_seeds, validation_seeds
from promptopt.search.trials import TrialRecord
from promptopt.study.config import StudyConfig
from promptopt.study.factory import RealismAssets

FID_RELIABLE_N = 2048


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    rows: list[dict[str, Any]]
    n_images: int
    dataset_realism: dict[str, Any] | None


def finalist_trials(cfg: StudyConfig, study: Any) -> list[Any]:
    """The `export.top_k` best complete trials with distinct prompts, by their trial scores."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise InputError(f"study {cfg.study.name!r} has no complete trial yet: run `promptopt search` first")
    return rank_trials(complete, [o.direction for o in cfg.objectives])[: cfg.export.top_k]


def prompt_rows(
    cfg: StudyConfig, finalists: Sequence[Any], validated: Sequence[TrialRecord] | None = None
) -> list[dict[str, Any]]:
    """One row per finalist (FrozenTrials from `finalist_trials`): in that order, or in the order of `validated`
    (their validation results), with the validation objectives and scores beside the trial's."""
    by_number = {trial.number: trial for trial in finalists}
    order = [by_number[v.number] for v in validated] if validated is not None else list(finalists)
    checks = {v.number: v for v in validated or ()}
    rows = []
    for rank, trial in enumerate(order, start=1):
        cand = trial.user_attrs["candidate"]
        row = {
            "category": cfg.study.category,
            "rank": rank,
            "prompt": cand["prompt"],
            "negative_prompt": cand["negative_prompt"],
            "guidance_scale": cand["guidance_scale"],
            "steps": cand["steps"],
            "trial": trial.number,
            **{f"objective_{o.name}": v for o, v in zip(cfg.objectives, trial.values)},
            **{f"score_{k}": v for k, v in sorted(trial.user_attrs["scores"].items())},
        }
        if trial.number in checks:
            check = checks[trial.number]
            row.update({f"validation_objective_{o.name}": v for o, v in zip(cfg.objectives, check.values)})
            row.update({f"validation_score_{k}": v for k, v in sorted(check.scores.items())})
        rows.append(row)
    return rows


def _write_prompts(folder: Path, rows: list[dict[str, Any]]) -> None:
    with (folder / PROMPTS_CSV).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / PROMPTS_JSON).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


def _write_dataset(
    folder: Path,
    cfg: StudyConfig,
    rows: list[dict[str, Any]],
    generator: Generator,
    progress: Callable[[int], None] | None,
    judge: Any | None = None,
) -> list[Any]:
    """Render each row's prompt on the export seeds into `folder`/dataset (imagefolder + metadata.jsonl); with a
    `judge` (a JudgeScorer), each image's record holds the judge's view of it."""
    images_dir = folder / DATASET_DIR / "images"
    images_dir.mkdir(parents=True)
    seeds = export_seeds(cfg)
    all_images = []
    with (folder / DATASET_DIR / METADATA_FILE).open("w", encoding="utf-8") as meta:
        for row in rows:
            images = generator.render(
                [row["prompt"]] * len(seeds),
                seeds,
                negative_prompt=row["negative_prompt"] or None,
                guidance_scale=row["guidance_scale"],
                steps=row["steps"],
            )
            judged = judge.image_records(images, row["prompt"]) if judge is not None else [{}] * len(images)
            for seed, image, view in zip(seeds, images, judged):
                name = f"images/{cfg.study.category}_r{row['rank']:02d}_s{seed}.png"
                image.save(folder / DATASET_DIR / name)
                record = generated_record(
                    name,
                    prompt=row["prompt"],
                    negative_prompt=row["negative_prompt"],
                    seed=seed,
                    guidance_scale=row["guidance_scale"],
                    steps=row["steps"],
                    generator=generator.identity,
                    category=cfg.study.category,
                    rank=row["rank"],
                    prompt_scores={k[6:]: v for k, v in row.items() if k.startswith("score_")},  # not this image's
                    **({"judge": view} if view else {}),
                )
                meta.write(json.dumps(record, ensure_ascii=False) + "\n")
            all_images += images
            if progress is not None:
                progress(len(images))
    return all_images


def export_study(
    cfg: StudyConfig,
    paths: RunPaths,
    study: Any,
    *,
    generator: Generator | None,
    realism: RealismAssets | None = None,
    scorers: Sequence[Scorer] = (),
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the export folder. With a generator and `scorers`, first re-score the finalists on the validation
    seeds and rank them by those scores (`promptopt.search.finalists`). With `realism`, add the set-level FID/KID, PRDC
    and near-copy count of the exported dataset against the reference, all on the same features. `progress(k)`
    is called after each prompt's k validation or dataset images."""
    from optuna.trial import TrialState

    from promptopt.scorers.realism import set_realism
    from promptopt.scorers.set_metrics import memorisation_summary, prdc_summary

    finalists = finalist_trials(cfg, study)
    validated = None
    if cfg.export.validation_images and generator is not None and scorers:
        validated = validate_finalists(
            cfg, paths.validation, finalists, generator=generator, scorers=scorers, progress=progress
        )
    rows = prompt_rows(cfg, finalists, validated)
    dataset_realism = None
    n_images = 0
    atomic.remove_stale_staging(paths.root)  # what a killed export left (its staged export/ and the old one)
    atomic.remove_stale_staging(paths.validation)
    with atomic.staged_dir(paths.export) as folder:
        _write_prompts(folder, rows)
        if cfg.export.images_per_prompt and generator is not None:
            images = _write_dataset(folder, cfg, rows, generator, progress, judge_of(scorers))
            n_images = len(images)
            if realism is not None and n_images >= 2:
                fake = realism.features(images)
                dataset_realism = {
                    **set_realism(realism.reference, fake, seed=cfg.study.seed),
                    "prdc": prdc_summary(realism.reference, fake),
                    "memorisation": memorisation_summary(realism.reference, fake),
                }
                if n_images < FID_RELIABLE_N:
                    dataset_realism["note"] = (
                        f"FID on {n_images} images (< {FID_RELIABLE_N} feature dimensions) is biased upwards: "
                        "compare FID only at equal sample sizes; KID is unbiased"
                    )
        summary = {
            "study": cfg.study.name,
            "category": cfg.study.category,
            "n_complete_trials": len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))),
            "prompts": len(rows),
            "images": n_images,
            "export_seeds": list(export_seeds(cfg)) if n_images else [],
            "validation_seeds": list(validation_seeds(cfg)) if validated is not None else [],
            "generator": generator.identity if generator is not None else None,
            "dataset_realism": dataset_realism,
            "config": to_dict(cfg),
            "environment": environment(),
        }
        (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return ExportResult(paths.export, rows, n_images, dataset_realism)
