"""The generation loop: where words cannot reach a target, train. What a generator draws (`audit`: the judge's
drawability table, with intervals, and what was drawn instead), a targeted fine-tune on what it does not
(`tune`), and the guards a tuned model must pass before it is submitted (`guards`: nothing forgotten, nothing
copied, realism kept)."""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "audit": ("AuditRow", "audit", "compare", "read_audit", "run_audit", "single_clause_prompts", "wilson"),
    },
)
