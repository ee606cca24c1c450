"""The search: an Optuna study of candidate prompts, each rendered on the same evaluation seeds and scored,
then the finalists validated on fresh seeds, exported, and the first checked against the plain seed prompt.

- `run`: a study from start to end (`run_study`) or exported again (`export_again`), with `StudyHooks`;
- `loop`: the ask/tell loop (`open_study`, `run_search`); `mutator`: candidates from the challenge's prompts;
- `trials`: a scored candidate (`TrialRecord`) and what a trial leaves in the run folder;
- `storage`: SQLite or PostgreSQL storages with heartbeats; `seeds`: every seed set of a study;
- `ranking`, `finalists`, `export`, `holdout`: ranking trials, validating the finalists, the export (OPG prompts
  and a dataset) and its hold-out check.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "export": (
            "ExportResult",
            "export_study",
        ),
        "holdout": (
            "export_holdout",
            "holdout_check",
        ),
        "loop": (
            "open_study",
            "run_search",
        ),
        "mutator": (
            "Candidate",
            "PromptMutator",
            "build_mutator",
        ),
        "run": (
            "StudyHooks",
            "export_again",
            "run_study",
        ),
        "storage": (
            "check_url",
            "open_storage",
        ),
        "trials": ("TrialRecord",),
    },
)
