"""`promptopt report`: one self-contained HTML page of a study's run folder, or an index and a page per
category for an opg run.

- `pages`: what a page shows (`write_report`); `html`: its pieces, every text escaped; `plots`: its plots.
"""

from promptopt.report.pages import write_report

__all__ = ["write_report"]
