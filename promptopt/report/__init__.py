"""`promptopt report`: one self-contained HTML page of a study's run folder, or an index and a page per
category for an opg run.

- `pages`: what a page shows (`write_report`); `html`: its pieces, every text escaped; `plots`: its plots.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "pages": ("write_report",),
    },
)
