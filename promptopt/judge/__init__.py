"""The judge in promptopt: which outputs it has and what it learns from, what a prompt or a target asks of
it, and the study scorer built on it.

- `schema`: the judge's heads and outputs, named by the grammar, and its training targets;
- `consistency`: a prompt as clauses on the judge's outputs, and how far an image meets them;
- `targets`: a study's target (`Target`, `parse_target` for `--target 'polyp: type ip'`);
- `scorer`: `JudgeScorer` (target consistency, hit rate, prompt consistency) and `open_judge`;
- `fit`: fitting the judge on GI-sim or a dataset folder, in the generator's image domain.
The model itself (a CNN with calibrated heads) is `promptopt.scorers.judge`.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "consistency": (
            "Clause",
            "clauses",
            "consistency",
            "prompt_clauses",
        ),
        "fit": (
            "fit_judge_on",
            "judge_data",
        ),
        "schema": (
            "OUTPUTS",
            "SCHEMA",
        ),
        "scorer": (
            "JudgeScorer",
            "judge_of",
            "open_judge",
        ),
        "targets": (
            "Target",
            "parse_target",
        ),
    },
)
