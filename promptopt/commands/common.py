"""Pieces the commands share: finding the study config, checking the output folder, quietening library progress
bars, progress bars for a workflow's `promptopt.progress.Progress` calls, printing."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptopt.config import StudyConfig, load_study, override
from promptopt.errors import InputError
from promptopt.grammar import CATEGORY_NAMES
from promptopt.progress import Progress

if TYPE_CHECKING:
    from promptopt.consistency import Target


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
    cfg = load_study(find_study(category, study))
    if category is not None and cfg.study.category != category:
        raise InputError(f"--category {category} disagrees with category {cfg.study.category!r} in {cfg.source}")
    return cfg


def targeted(category: str | None, study: Path | None, text: str) -> StudyConfig:
    """The study for `--target text`: the category's study (or --study) with that target, named after it."""
    from promptopt.consistency import parse_target

    target = parse_target(text)
    if category is not None and category != target.category:
        raise InputError(f"--category {category} disagrees with --target {text!r}: give one of them")
    return for_target(target, study)


def for_target(target: Target, study: Path | None) -> StudyConfig:
    """The target's category study (or `study`) with that target, named after it."""
    cfg = load_for(target.category, study)
    return override(cfg, "study", target=target.attributes, name=target.slug)


_CREATED: list[Path] = []  # folders check_writable made in this process, deepest first


def check_writable(folder: Path, fix: str = "choose another with --out") -> None:
    """Create `folder` and prove a file can be written there. A command that then fails takes away the folders
    made here that it left empty (`remove_empty_created`, called by the CLI's error handling)."""
    _CREATED.extend(p for p in (folder, *folder.parents) if not p.exists())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise InputError(f"output folder {folder} is not writable ({err.strerror}): {fix}") from None


def remove_empty_created() -> None:
    """Remove the folders `check_writable` made that are still empty: a failed command leaves no empty run folder."""
    for folder in _CREATED:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): keep what is there
            pass
    _CREATED.clear()


WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
SQLITE_WRITE_ERRORS = ("database or disk is full", "attempt to write a readonly database")


def cannot_write(err: BaseException) -> str | None:
    """The one line for a write that a full disk or a read-only folder refused (an OSError, or SQLite's error
    for its file), None for any other error."""
    fix = "free space or make it writable, then run the same command again (complete trials are kept)"
    if isinstance(err, OSError) and err.errno in WRITE_ERRNOS:
        return f"cannot write {err.filename or 'to disk'} ({err.strerror}): {fix}"
    message = str(getattr(err, "orig", "") or "")
    if type(err).__name__ == "OperationalError" and any(m in message for m in SQLITE_WRITE_ERRORS):
        return f"cannot write the study database ({message.splitlines()[0]}): {fix}"
    return None


def quiet_libraries() -> None:
    """Silence the download/loading progress bars and info logs of diffusers and transformers."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def device_flag(device: str) -> str:
    """A `--device` value resolved on this machine (`promptopt.scorers.device`); one it lacks is an InputError."""
    from promptopt.scorers.device import DeviceError, resolve_device

    try:
        return resolve_device(device)
    except DeviceError as err:
        raise InputError(f"--{err}") from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def task_progress(*, quiet: bool, suffix: str = "", transient: bool = False) -> Iterator[Progress]:
    """A `Progress` callback that draws one rich bar per task on stderr (none when `quiet`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn(f"[bold]{{task.description}}{suffix}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=transient,
    )
    tasks: dict[str, Any] = {}

    def update(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total)
        bars.update(tasks[task], completed=done)

    with bars:
        try:
            yield update
        except BaseException:
            bars.live.transient = True  # an error's one line replaces the bars
            raise
