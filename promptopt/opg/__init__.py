"""The optimal prompt generation (OPG) submission: a plan of targets, one study each, the submission by
category, and a training set rendered from it.

- `run`: `promptopt opg` as one workflow (`run_opg`);
- `plan`: the plan, its studies, the submission folder and the summary;
- `training_set`: the training set for downstream classifiers, labelled from its prompts and judged.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "plan": (
            "Plan",
            "PlannedStudy",
            "load_plan",
        ),
        "run": (
            "Budget",
            "OpgResult",
            "run_opg",
        ),
        "training_set": ("compose",),
    },
)
