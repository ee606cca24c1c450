"""Atomic writes leave what a plain write would: a file or folder with the umask's mode, not tempfile's 0600/0700."""

import os
import stat

import pytest

from promptopt.scorers.atomic import staged_dir, write_text
from promptopt.scorers.atomic import write_bytes


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_and_staged_folders_get_the_umask_mode(umask_027, tmp_path):
    write_text(tmp_path / "a.json", "{}\n")
    write_bytes(tmp_path / "b.csv", b"x\n")
    with staged_dir(tmp_path / "export") as staging:
        (staging / "c.txt").write_text("c")
    assert _mode(tmp_path / "a.json") == _mode(tmp_path / "b.csv") == 0o640
    assert _mode(tmp_path / "export") == 0o750
    assert (tmp_path / "export" / "c.txt").read_text() == "c"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.csv", "export"]
