"""Atomic writes for generators/ and scorers/ (which may not import promptopt.atomic): a temporary file or
folder in the same folder, renamed over the target, so a reader never sees a half-written one.

`tempfile` creates them private (0600 files, 0700 folders); what is renamed into place gets the mode a plain
`open` or `mkdir` would give under the process's umask, so results stay readable to a group on a shared cluster.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def write_atomic(path: Path, data: bytes) -> None:
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
