"""Atomic file and folder writes, the one module every layer uses: a temporary file or folder in the same folder,
renamed over the target, so a reader (or a crash) sees the old content or the new, never half of it.

`tempfile` creates them private (0600 files, 0700 folders); what is renamed into place gets the mode a plain
`open` or `mkdir` would give under the process's umask, so results stay readable to a group on a shared cluster.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def staging_file(parent: Path, prefix: str, suffix: str = ".tmp") -> tuple[int, str]:
    """`tempfile.mkstemp` in `parent` with a plain file's mode: (open descriptor, path)."""
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=suffix)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def staging_dir(parent: Path, prefix: str) -> Path:
    """`tempfile.mkdtemp` in `parent` with a plain folder's mode, for a folder that is renamed into place."""
    path = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    path.chmod(0o777 & ~_umask())
    return path


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = staging_file(path.parent, f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: Path, fieldnames: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """`rows` as a CSV with a header of `fieldnames`, written whole (`write_bytes`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def owner() -> str:
    """This process as `<host>-<pid>`: who stages a folder (or runs a trial), so that a later run can tell a killed
    process's leftovers from a live one's (`owner_is_gone`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def owner_is_gone(name: str) -> bool:
    """Whether the process `<host>-<pid>` (from `owner`) has ended: False while it runs, and for another host's,
    which cannot be checked."""
    host, _, pid = name.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@contextmanager
def staged_dir(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it replaces `target` as a whole.

    On any error (or interruption) the staging folder is removed and `target` is left as it was. A process killed
    meanwhile leaves `.<name>.staging-<host>-<pid>-*` behind, which `remove_stale_staging` removes later.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(target.parent, f".{target.name}.staging-{owner()}-")
    try:
        yield staging
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-{owner()}-"))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(folder: Path) -> None:
    """Remove the staging and old folders that killed processes left in `folder`. A process killed between the
    two renames of `staged_dir` left its target only in an old folder: that target is put back first. A folder
    whose owner still runs on this machine (another worker's) is kept, and so is one staged on another host,
    which cannot be checked."""
    if not folder.is_dir():
        return
    for old in folder.glob(".*.old-*"):
        target = folder / old.name[1:].split(".old-")[0]
        if old.is_dir() and _owner_is_gone(old.name) and (old / target.name).is_dir() and not target.exists():
            os.replace(old / target.name, target)
    for path in [*folder.glob(".*.staging-*"), *folder.glob(".*.old-*")]:
        if path.is_dir() and _owner_is_gone(path.name):
            shutil.rmtree(path, ignore_errors=True)


def _owner_is_gone(name: str) -> bool:
    """Whether the process named in a staging folder's `<host>-<pid>-<random>` tail has ended (a name without an
    owner, from an older promptopt, counts as ended)."""
    found = re.search(r"\.(?:staging|old)-(.+-\d+)-[^-]+$", name)
    return found is None or owner_is_gone(found[1])
