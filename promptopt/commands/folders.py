"""Output folders of a command: proving one is writable before any work, taking away the empty ones a failed
command made, and the one line for a write a full disk or a read-only folder refused."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from promptopt.core.errors import InputError

# the folders check_writable made in the running command (`collecting_created`), deepest first; None outside one
_CREATED: ContextVar[list[Path] | None] = ContextVar("promptopt_created_folders", default=None)


@contextmanager
def collecting_created() -> Iterator[None]:
    """Record the folders `check_writable` makes while the block runs (one command's run)."""
    token = _CREATED.set([])
    try:
        yield
    finally:
        _CREATED.reset(token)


def _created() -> list[Path]:
    created = _CREATED.get()
    return created if created is not None else []  # outside a command: nothing to take away later


def check_writable(folder: Path, fix: str = "choose another with --out") -> None:
    """Create `folder` and prove a file can be written there. A command that then fails takes away the folders
    made here that it left empty (`remove_empty_created`, called by the CLI's error handling)."""
    _created().extend(p for p in (folder, *folder.parents) if not p.exists())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise InputError(f"output folder {folder} is not writable ({err.strerror}): {fix}") from None


def remove_empty_created() -> None:
    """Remove the folders `check_writable` made that are still empty: a failed command leaves no empty run folder."""
    created = _created()
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): keep what is there
            pass
    created.clear()


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
