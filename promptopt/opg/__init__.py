"""The optimal prompt generation (OPG) submission: a plan of targets, one study each, the submission by
category, and a training set rendered from it.

- `run`: `promptopt opg` as one workflow (`run_opg`);
- `plan`: the plan, its studies, the submission folder and the summary;
- `training_set`: the training set for downstream classifiers, labelled from its prompts and judged.
"""

from promptopt.opg.plan import Plan, PlannedStudy, load_plan
from promptopt.opg.run import Budget, OpgResult, run_opg
from promptopt.opg.training_set import compose

__all__ = ["Budget", "OpgResult", "Plan", "PlannedStudy", "compose", "load_plan", "run_opg"]
