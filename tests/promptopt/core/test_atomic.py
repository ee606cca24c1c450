"""Atomic writes leave what a plain write would: a file or folder with the umask's mode, not tempfile's 0600/0700."""

import os
import socket
import stat
import subprocess
import sys

import pytest

from promptopt.core.atomic import remove_stale_staging, staged_dir, write_bytes, write_text


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


def test_stale_staging_of_ended_processes_is_removed_and_live_ones_are_kept(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    names = {
        f".export.staging-{host}-{int(ended.stdout)}-ab12": False,  # killed: removed
        f".export.old-{host}-{int(ended.stdout)}-cd34": False,
        ".export.staging-k3x9q": False,  # an older promptopt's, without an owner
        f".export.staging-{host}-{os.getpid()}-ef56": True,  # this (live) process: another worker's, kept
        f".export.staging-other-host.example-{os.getpid()}-gh78": True,  # cannot be checked from here: kept
    }
    for name in names:
        (tmp_path / name).mkdir()
    remove_stale_staging(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {name for name, kept in names.items() if kept}


def test_a_kill_between_the_two_renames_gets_the_old_folder_back(tmp_path):
    """`staged_dir` moves the target aside, then the staged folder in: killed in between, only the old folder
    holds the target; cleaning up puts it back rather than losing it."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = tmp_path / f".export.old-{socket.gethostname()}-{int(ended.stdout)}-cd34"
    (old / "export").mkdir(parents=True)
    (old / "export" / "opg_prompts.csv").write_text("prompt\n")
    staged = tmp_path / f".export.staging-{socket.gethostname()}-{int(ended.stdout)}-ab12"
    staged.mkdir()
    remove_stale_staging(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert (tmp_path / "export" / "opg_prompts.csv").read_text() == "prompt\n"


def test_a_staged_folder_names_its_owner(tmp_path):
    with staged_dir(tmp_path / "export") as staging:
        assert staging.name.startswith(f".export.staging-{socket.gethostname()}-{os.getpid()}-")
