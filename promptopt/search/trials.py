"""A scored candidate (`TrialRecord`), and what a completed trial leaves in the run folder: trials/<n>/ (its images,
their grid and its scores), and the grid as the trial's Optuna artifact, so that `optuna-dashboard <storage>
--artifact-dir <run>/artifacts` shows it beside the trial."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from promptopt.core import atomic
from promptopt.core.grids import save_grid
from promptopt.core.paths import TRIAL_GRID, TRIAL_IMAGES, TRIAL_SCORES, RunPaths
from promptopt.search.mutator import Candidate


@dataclass(frozen=True)
class TrialRecord:
    """A candidate scored on a seed set: a trial's on the evaluation seeds (`duplicate_of`: the earlier trial of the
    same candidate whose images and scores it reuses), or a finalist's on the validation seeds."""

    number: int
    candidate: Candidate
    scores: dict[str, float]
    values: tuple[float, ...]
    duplicate_of: int | None = None


def write_trial(
    paths: RunPaths, record: TrialRecord, images: Sequence[Any], seeds: Sequence[int], meta: dict[str, Any]
) -> None:
    """trials/<n>/: images/00.png…, grid.png (one row, in seed order) and scores.json, written whole or not at all."""
    with atomic.staged_dir(paths.trial(record.number)) as folder:
        (folder / TRIAL_IMAGES).mkdir()
        for i, image in enumerate(images):
            image.save(folder / TRIAL_IMAGES / f"{i:02d}.png")
        save_grid(images, 1, folder / TRIAL_GRID)
        payload = {
            "trial": record.number,
            "candidate": asdict(record.candidate),
            "scores": record.scores,
            "values": list(record.values),
            "seeds": list(seeds),
            "duplicate_of": record.duplicate_of,
            **meta,
        }
        (folder / TRIAL_SCORES).write_text(json.dumps(payload, indent=2) + "\n")


def remove_grid(paths: RunPaths, artifact_id: str) -> None:
    """Remove an uploaded grid from the run folder's artifact store (its trial failed after the upload)."""
    from optuna.artifacts import FileSystemArtifactStore

    FileSystemArtifactStore(str(paths.artifacts)).remove(artifact_id)


def upload_grid(paths: RunPaths, trial: Any) -> str:
    """Store the running `trial`'s grid.png as its artifact in the run folder's artifact store; its artifact id."""
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    paths.artifacts.mkdir(exist_ok=True)
    return upload_artifact(
        artifact_store=FileSystemArtifactStore(str(paths.artifacts)),
        file_path=str(paths.trial(trial.number) / TRIAL_GRID),
        study_or_trial=trial,
        mimetype="image/png",
    )
