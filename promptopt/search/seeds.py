"""Every seed set of a study, in one place, each a range that starts at a fixed offset from the first evaluation
seed (`StudySection.eval_seeds`: the seeds every trial renders), so that no two sets overlap:

- evaluation (every trial): study seed × 1,000,003 onwards;
- export (the synthetic dataset): + 500,000;
- validation (the finalists re-scored on fresh seeds): + 1,000,000,000;
- hold-out (the exported best against the plain seed prompt): + 2,000,000,000.
"""

from __future__ import annotations

from promptopt.study.config import StudyConfig

EXPORT_OFFSET = 500_000
VALIDATION_OFFSET = 1_000_000_000
HOLDOUT_OFFSET = 2_000_000_000


def _from(cfg: StudyConfig, offset: int, n: int) -> tuple[int, ...]:
    base = cfg.study.eval_seeds[0] + offset
    return tuple(range(base, base + n))


def export_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    """The exported dataset's seeds, one per image of a prompt."""
    return _from(cfg, EXPORT_OFFSET, cfg.export.images_per_prompt)


def validation_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    """The seeds the finalists are re-scored on."""
    return _from(cfg, VALIDATION_OFFSET, cfg.export.validation_images)


def holdout_seeds(cfg: StudyConfig) -> tuple[int, ...]:
    """The seeds of the hold-out check."""
    return _from(cfg, HOLDOUT_OFFSET, cfg.export.holdout_images)
