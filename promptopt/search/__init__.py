"""The search: an Optuna study of candidate prompts, each rendered on the same evaluation seeds and scored,
then the finalists validated on fresh seeds, exported, and the first checked against the plain seed prompt.

- `run`: a study from start to end (`run_study`) or exported again (`export_again`), with `StudyHooks`;
- `loop`: the ask/tell loop (`open_study`, `run_search`); `mutator`: candidates from the challenge's prompts;
- `trials`: a scored candidate (`TrialRecord`) and what a trial leaves in the run folder;
- `storage`: SQLite or PostgreSQL storages with heartbeats; `seeds`: every seed set of a study;
- `ranking`, `finalists`, `export`, `holdout`: ranking trials, validating the finalists, the export (OPG prompts
  and a dataset) and its hold-out check.
"""

from promptopt.search.export import ExportResult, export_study
from promptopt.search.holdout import export_holdout, holdout_check
from promptopt.search.loop import open_study, run_search
from promptopt.search.mutator import Candidate, PromptMutator, build_mutator
from promptopt.search.run import StudyHooks, export_again, run_study
from promptopt.search.storage import check_url, open_storage
from promptopt.search.trials import TrialRecord

__all__ = [
    "Candidate",
    "ExportResult",
    "PromptMutator",
    "StudyHooks",
    "TrialRecord",
    "build_mutator",
    "check_url",
    "export_again",
    "export_holdout",
    "export_study",
    "holdout_check",
    "open_storage",
    "open_study",
    "run_search",
    "run_study",
]
