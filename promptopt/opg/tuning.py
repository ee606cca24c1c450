"""The generation loop inside `opg --tune`: where a target's search could not reach it, train.

A target whose hold-out hit rate (its first exported prompt on fresh seeds, read by the judge) stays below
`below` after its search is weak. The weak targets of a category get one targeted fine-tune together
(`promptopt.loop`, under `<out>/tuned/<category>/`), which is audited and guarded; an adapter that passes every
guard is searched again for each of them (`<out>/studies/<target>-tuned/`), and the category's submission then
names the base model and the adapter, whose folder it carries. One that fails a guard is not used, and the summary
says which guard. A target whose clause the judge cannot certify is weak by its figures too (`hit_rate`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.errors import InputError
from promptopt.core.paths import RunPaths
from promptopt.generators.base import LoraAdapter
from promptopt.generators.shipped import GI_SIM_TINY
from promptopt.loop.tune import TuneConfig
from promptopt.opg.plan import STUDIES_DIR, PlannedStudy, holdout_figures
from promptopt.scorers.assets import GI_SIM
from promptopt.study.config import StudyConfig

TUNED_DIR = "tuned"
TUNED_SUFFIX = "-tuned"


@dataclass(frozen=True)
class TuneSettings:
    """`opg --tune`: which targets are weak (`below`), how their adapter trains (`config`), how it is checked."""

    below: float = 0.5
    config: TuneConfig = TuneConfig()
    audit_images: int = 24
    judge: str = GI_SIM

    def __post_init__(self) -> None:
        if not 0.0 < self.below <= 1.0:
            raise InputError(f"--tune-below must be in (0, 1], got {self.below}")


@dataclass(frozen=True)
class TuneRequest:
    """What the command line asks of the loop; None: the plan's (`[plan] tune`, `tune_below`)."""

    enabled: bool | None = None
    below: float | None = None
    data: str = GI_SIM
    steps: int | None = None
    audit_images: int = 24

    def settings(self, plan_tune: bool, plan_below: float) -> TuneSettings | None:
        """The loop's settings, or None when it does not run."""
        if not (plan_tune if self.enabled is None else self.enabled):
            return None
        config = TuneConfig(data=self.data)
        if self.steps is not None:
            config = dataclasses.replace(config, steps=self.steps)
        below = plan_below if self.below is None else self.below
        return TuneSettings(below=below, config=config, audit_images=self.audit_images)


def check_tune_data(settings: TuneSettings, model: str) -> None:
    """The tune's data is a folder, or gi-sim; a model other than gi-sim-tiny needs its own training data: GI-sim
    is what gi-sim-tiny learnt from. Checked before any search, not after the plan's searches."""
    data = settings.config.data
    if data != GI_SIM and not Path(data).expanduser().is_dir():
        raise InputError(f"--tune-data {data} is not a folder: pass a dataset folder, or gi-sim")
    if data == GI_SIM and model != GI_SIM_TINY:
        raise InputError(
            f"--tune on model {model} needs its training data: pass --tune-data DIR (a dataset folder); gi-sim is "
            f"{GI_SIM_TINY}'s own"
        )


def hit_rate(study: PlannedStudy) -> float | None:
    """The study's hold-out hit rate (its first exported prompt), None without a hold-out check. A target clause
    the judge cannot certify counts by its figures too: tuning a target the judge sees only roughly costs a tune,
    leaving it out would never teach the rare instruments the judge sees least."""
    rate = holdout_figures(study.paths).get("best_hit_rate")
    return None if rate is None else float(rate)


def weak_targets(done: Sequence[PlannedStudy], below: float) -> dict[str, list[PlannedStudy]]:
    """The studies whose hold-out hit rate is below `below`, by category."""
    weak: dict[str, list[PlannedStudy]] = {}
    for study in done:
        rate = hit_rate(study)
        if rate is not None and rate < below:
            weak.setdefault(study.target.category, []).append(study)
    return weak


def tuned_study(study: PlannedStudy, adapter: Path, out: Path) -> PlannedStudy:
    """The weak study's search again, on the tuned model: its own run folder, the untuned one recorded."""
    paths = RunPaths(out / STUDIES_DIR / f"{study.target.slug}{TUNED_SUFFIX}")
    return dataclasses.replace(study, paths=paths, generator=None, adapter=adapter, untuned=study.paths)


def tuned_config(cfg: StudyConfig, adapter: Path) -> StudyConfig:
    """The study's config on the tuned model, named after the target plus `-tuned`."""
    from promptopt.generators.training.outputs import LORA_WEIGHTS

    lora = LoraAdapter(path=str(adapter / LORA_WEIGHTS))
    generator = dataclasses.replace(cfg.generator, loras=(*cfg.generator.loras, lora))
    return dataclasses.replace(cfg, generator=generator).with_study(name=f"{cfg.study.name}{TUNED_SUFFIX}")


def tune_category(
    out: Path, category: str, weak: Sequence[PlannedStudy], settings: TuneSettings, cfg: StudyConfig, progress: Any
) -> dict[str, Any]:
    """The category's adapter under `<out>/tuned/<category>/`, tuned on its weak targets for the study's model
    at its image size (`cfg`), and checked (the base model's audit renders shared by every category); returns
    the tune record and its check."""
    from promptopt.loop.run import RENDERS_DIR, tune_and_check

    model = cfg.generator.model
    config = dataclasses.replace(
        settings.config, base=model, resolution=cfg.generator.height, device=cfg.generator.device
    )
    return tune_and_check(
        [s.target for s in weak], config, out / TUNED_DIR / category, judge_spec=settings.judge,
        audit_images=settings.audit_images, renders=out / TUNED_DIR / RENDERS_DIR, progress=progress,
    )  # fmt: skip
