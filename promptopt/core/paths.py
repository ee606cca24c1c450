"""Where things go: the cache dir (built models, reference features) and a run's folder layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def cache_dir() -> Path:
    """$PROMPTOPT_CACHE, else $XDG_CACHE_HOME/promptopt, else ~/.cache/promptopt."""
    if env := os.environ.get("PROMPTOPT_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "promptopt"


# Names inside a run folder: each trials/<n>/ and validation/<n>/ holds its images and scores; export/ holds
# the prompt lists, the dataset, the summary and the hold-out check.
TRIAL_IMAGES = "images"
TRIAL_SCORES = "scores.json"
TRIAL_GRID = "grid.png"  # the trial's images in one row, also stored as the trial's Optuna artifact
ARTIFACTS_DIR = "artifacts"  # optuna.artifacts.FileSystemArtifactStore: optuna-dashboard --artifact-dir
PROMPTS_CSV = "opg_prompts.csv"
PROMPTS_JSON = "opg_prompts.json"
DATASET_DIR = "dataset"
SUMMARY_FILE = "summary.json"
HOLDOUT_FILE = "holdout.json"


@dataclass(frozen=True)
class RunPaths:
    """runs/<study>/: study.db, config.toml, environment.json, trials/<n>/, validation/<n>/, export/, artifacts/."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "study.db"

    @property
    def storage_url(self) -> str:
        return f"sqlite:///{self.db.resolve()}"

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def environment(self) -> Path:
        return self.root / "environment.json"

    @property
    def trials(self) -> Path:
        return self.root / "trials"

    @property
    def validation(self) -> Path:
        return self.root / "validation"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS_DIR

    def trial(self, number: int) -> Path:
        return self.trials / f"{number:04d}"
