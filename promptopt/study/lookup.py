"""Which study a command runs: `--study FILE`, else `studies/<category>.toml` in the working folder, else the one
installed with promptopt; and a study aimed at a `--target`, named after it."""

from __future__ import annotations

import warnings
from pathlib import Path

from promptopt.core.errors import InputError, Note
from promptopt.grammar import CATEGORY_NAMES
from promptopt.judge.targets import TARGET_EXAMPLE, Target, parse_target
from promptopt.study.config import StudyConfig, load_study


def bundled_studies() -> Path:
    """The folder of the study configs installed with promptopt (the repository's studies/)."""
    import promptopt.studies

    return Path(promptopt.studies.__file__).resolve().parent


def find_study(category: str | None, study: Path | None) -> Path:
    """--study if given, else studies/<category>.toml in the working folder, else the bundled one."""
    if study is not None:
        return study
    if category is None:
        raise InputError("name a category with --category (polyp, landmark, instrument) or a TOML with --study")
    if category not in CATEGORY_NAMES:
        raise InputError(f"unknown category {category!r}: choose one of {', '.join(CATEGORY_NAMES)}")
    for folder in (Path("studies"), bundled_studies()):
        if (folder / f"{category}.toml").is_file():
            return folder / f"{category}.toml"
    raise InputError(f"no study config for {category!r}: expected studies/{category}.toml; pass one with --study")


def load_for(category: str | None, study: Path | None) -> StudyConfig:
    """The study `find_study` finds; InputError when --category disagrees with its category."""
    cfg = load_study(find_study(category, study))
    if category is not None and cfg.study.category != category:
        raise InputError(f"--category {category} disagrees with category {cfg.study.category!r} in {cfg.source}")
    return cfg


def targeted(category: str | None, study: Path | None, text: str) -> StudyConfig:
    """The study for `--target text`: the category's study (or --study) with that target, named after it."""
    target = parse_target(text)
    if category is not None and category != target.category:
        raise InputError(f"--category {category} disagrees with --target {text!r}: give one of them")
    if not target.attributes:
        raise InputError(
            f"--target {text!r} names no attribute: write one after the colon ({TARGET_EXAMPLE}), "
            f"or search the category with --category {target.category}"
        )
    cfg = load_for(target.category, study)
    if cfg.study.target and cfg.study.target != target.attributes:
        warnings.warn(f"--target {text!r} replaces the target {cfg.study.target} of {cfg.source}", Note, stacklevel=2)
    return _aimed(cfg, target)


def for_target(target: Target, study: Path | None) -> StudyConfig:
    """The target's category study (or `study`) with that target, named after it."""
    return _aimed(load_for(target.category, study), target)


def _aimed(cfg: StudyConfig, target: Target) -> StudyConfig:
    """`cfg` with `target`, named after it."""
    return cfg.with_study(target=target.attributes, name=target.slug)
