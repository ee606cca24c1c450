"""A full disk (a small tmpfs) and a read-only run folder (a read-only bind mount), mounted for the test: root only
(CI runs as root); elsewhere skipped."""

import subprocess

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from promptopt.cli import app

runner = CliRunner()
QUICK = ["--top-k", "1", "--images-per-prompt", "0", "--validation-images", "0", "--holdout-images", "0"]


def _mount(*args):
    done = subprocess.run(["mount", *map(str, args)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount here (needs root): {done.stderr.decode().strip()}")


@pytest.fixture
def mounts(tmp_path):
    """mount(*args): a mount for the test, undone after it."""
    made = []

    def mount(*args):
        _mount(*args)
        made.append(args[-1])

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", str(target)], check=True)


@pytest.fixture
def small_disk(tmp_path, mounts):
    folder = tmp_path / "disk"
    folder.mkdir()
    mounts("-t", "tmpfs", "-o", "size=8m", "tmpfs", folder)
    return folder


def _one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def test_export_on_a_read_only_run_folder_is_one_line(study_toml, tmp_path, mounts):
    """Before: a 125-line traceback."""
    out = tmp_path / "runs"
    searched = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "2", *QUICK])
    assert searched.exit_code == 0, searched.output
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    mounts("--bind", out, read_only)
    _mount("-o", "remount,bind,ro", read_only)
    line = _one_line(runner.invoke(app, ["export", str(read_only / "t"), *QUICK]))
    assert "is not writable (Read-only file system): make it writable, or copy the run folder" in line


def test_a_full_disk_stops_a_search_with_one_line_and_it_resumes_once_there_is_space(study_toml, small_disk):
    out = small_disk / "runs"
    args = ["search", "--study", str(study_toml), "--out", str(out), *QUICK]
    assert runner.invoke(app, [*args, "-n", "1"]).exit_code == 0
    filler = small_disk / "filler"
    with pytest.raises(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    full = runner.invoke(app, [*args, "-n", "3"])  # progress lines (not a terminal), then the error's one line
    errors = [line for line in full.output.splitlines() if line.startswith("error: ")]
    assert full.exit_code == 2 and "Traceback" not in full.output and len(errors) == 1, full.output
    assert errors[0].startswith("error: cannot write ") and "run the same command again" in errors[0]
    filler.unlink()
    result = runner.invoke(app, [*args, "-n", "3"])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{out / 't' / 'study.db'}")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 3 and not study.get_trials(states=(TrialState.RUNNING,))
    assert sorted(p.name for p in (out / "t" / "trials").iterdir()) == [f"{t.number:04d}" for t in complete]
