"""`promptopt tune` as one workflow: the targeted fine-tune (`promptopt.loop.tune`), then its check (the base and
the tuned model audited, the guards: `promptopt.loop.verify`), then the adapter's model card. Every step resumes:
a finished tune is not trained again, a finished check not rendered again."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from promptopt.core.paths import cache_dir
from promptopt.core.progress import Progress
from promptopt.generators.base import GeneratorConfig
from promptopt.judge.targets import Target
from promptopt.loop.card import write_card
from promptopt.loop.tune import TuneConfig, training_folder, tune
from promptopt.loop.verify import GUARDS_FILE, verify
from promptopt.scorers.assets import GI_SIM

RENDERS_DIR = "audit-renders"
REFERENCE_IMAGES = 500  # the GI-sim held-out reference `promptopt evaluate` compares with by default


def base_config(cfg: TuneConfig) -> GeneratorConfig:
    """The base model's generator, at the tune's resolution and device."""
    return GeneratorConfig(model=cfg.base, height=cfg.resolution, width=cfg.resolution, device=cfg.device)


def realism_reference(reference: str, resolution: int) -> Path:
    """The realism reference: `gi-sim` (the held-out GI-sim set at the tune's resolution) or a folder."""
    if reference != GI_SIM:
        return Path(reference).expanduser()
    from promptopt.sim.reference import gi_sim_reference

    return gi_sim_reference(None, REFERENCE_IMAGES, resolution, cache_dir())


def tune_and_check(
    targets: Sequence[Target],
    cfg: TuneConfig,
    out: Path,
    *,
    judge_spec: str = GI_SIM,
    audit_images: int = 24,
    reference: str = GI_SIM,
    check: bool = True,
    renders: Path | None = None,
    on_step: Callable[[Any], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Tune `targets` into `out`, check the adapter (`check`; its renders cached under `renders`, by default in
    `out`), write its card; returns the tune record and the check (None when not checked)."""
    from promptopt.generators.diffusers_generator import pipeline_folder
    from promptopt.judge.scorer import open_judge

    pipeline_folder(cfg.base, cache_dir())  # a base not on disk fails first, then missing data, then a judge
    training_folder(cfg)  # that will not load, all before any training
    judge = open_judge(judge_spec, "--judge") if check else None
    record = tune(targets, cfg, out, on_step=on_step, on_status=on_status)
    checked = None
    if check:
        checked = _stored_check(out, audit_images)
        if checked is None:
            folder = realism_reference(reference, cfg.resolution)
            checked = verify(
                base_config(cfg),
                out,
                judge,
                targets,
                record,
                folder,
                reference_identity=folder.name if reference == GI_SIM else None,  # as the studies key it
                images=audit_images,
                renders=renders or out / RENDERS_DIR,
                progress=progress,
            )
    write_card(out, record, checked, cfg.base)
    return {"tune": record, "check": checked}


def _stored_check(out: Path, images: int) -> dict[str, Any] | None:
    """The check already in `out` for this adapter and image count, if any."""
    file = out / GUARDS_FILE
    if not file.is_file():
        return None
    stored = json.loads(file.read_text(encoding="utf-8"))
    return stored if stored.get("images") == images else None
