"""Many workers on one study: the same `promptopt search` command started as separate processes on one storage.

The PostgreSQL tests need a server: `.ci/run` starts a throw-away one and sets PROMPTOPT_TEST_POSTGRES; without it
they are skipped. The SQLite one runs everywhere.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from promptopt.core.tomlio import dumps

POSTGRES = os.environ.get("PROMPTOPT_TEST_POSTGRES")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="PROMPTOPT_TEST_POSTGRES is not set (`bash .ci/run` starts a PostgreSQL and sets it)"
)
NO_EXPORT_WORK = ["--top-k", "1", "--images-per-prompt", "0", "--validation-images", "0", "--holdout-images", "0"]


@pytest.fixture
def study_name(tmp_path, reference, make_study_dict):
    """A study TOML with a name of its own (the PostgreSQL database outlives a test run); returns (name, path)."""
    name = f"w{uuid.uuid4().hex[:10]}"
    path = tmp_path / "study.toml"
    path.write_text(dumps(make_study_dict(str(reference), name=name)))
    return name, path


def start_worker(toml, out, n, *args):
    cmd = [sys.executable, "-m", "promptopt.cli", "search", "--study", str(toml), "--out", str(out), "-n", str(n)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd += [*NO_EXPORT_WORK, "--json", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def finish(procs, timeout=400):
    """Each worker's summary (its JSON on stdout), after checking it exited cleanly."""
    results = [proc.communicate(timeout=timeout) for proc in procs]
    for proc, (_out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-3000:]
    return [json.loads(out) for out, _ in results]


def check_study(study, run_dir, n, summaries):
    """n complete trials, one of them the baseline, nothing left running or queued, one folder per complete trial,
    no candidate rendered again after it had completed, one export."""
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == n
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert sum(bool(t.user_attrs.get("baseline")) for t in complete) == 1
    assert sorted(p.name for p in (run_dir / "trials").iterdir()) == [f"{t.number:04d}" for t in complete]
    by_number = {t.number: t for t in complete}
    for trial in complete:
        same = [t for t in complete if t.user_attrs["candidate"] == trial.user_attrs["candidate"] and t is not trial]
        if trial.user_attrs.get("duplicate_of") is not None:
            assert by_number[trial.user_attrs["duplicate_of"]].user_attrs["candidate"] == trial.user_attrs["candidate"]
        else:  # rendered: no equal candidate had completed when it started
            earlier = [t for t in same if t.user_attrs.get("duplicate_of") is None and t.number < trial.number]
            assert all(t.datetime_complete > trial.datetime_start for t in earlier)
    assert all(s["complete_trials"] == n and not s["stopped_early"] for s in summaries)
    assert sum(s["exported_here"] for s in summaries) == 1
    assert sum(s["export_elsewhere"] for s in summaries) == len(summaries) - 1
    assert (run_dir / "export" / "opg_prompts.csv").is_file()
    return complete


def test_two_workers_on_one_sqlite_study_share_its_trial_cap(study_name, tmp_path):
    """Before: each process ran -n trials of its own, and failed the other's running trial at start-up."""
    name, toml = study_name
    summaries = finish([start_worker(toml, tmp_path / "runs", 4) for _ in range(2)])
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'runs' / name / 'study.db'}")
    check_study(study, tmp_path / "runs" / name, 4, summaries)


@needs_postgres
def test_four_workers_on_one_postgres_study(study_name, tmp_path):
    name, toml = study_name
    summaries = finish([start_worker(toml, tmp_path / "runs", 12, "--storage", POSTGRES) for _ in range(4)])
    study = optuna.load_study(study_name=name, storage=POSTGRES)
    complete = check_study(study, tmp_path / "runs" / name, 12, summaries)
    assert len({t.user_attrs["worker"] for t in complete}) > 1
    assert all(t.user_attrs.get("over_cap") for t in study.get_trials(states=(TrialState.FAIL,)))
    _check_report_and_artifacts(study, tmp_path / "runs" / name, complete)


def _check_report_and_artifacts(study, run, complete) -> None:
    """Workers sharing one --out store every trial's grid in its artifacts/, and the report reads the study from
    the storage it names (the run folder has no study.db)."""
    from optuna.artifacts import get_all_artifact_meta
    from typer.testing import CliRunner

    from promptopt.cli import app

    assert all(len(get_all_artifact_meta(t, storage=study._storage)) == 1 for t in complete)
    runner = CliRunner()
    refused = runner.invoke(app, ["report", str(run)])
    assert refused.exit_code == 2 and "has no study.db: give the study's --storage URL" in refused.output
    result = runner.invoke(app, ["report", str(run), "--storage", POSTGRES])
    assert result.exit_code == 0, result.output
    assert f"{len(complete)} complete trials" in (run / "report.html").read_text()


def _mid_trial(name: str, owner: str) -> bool:
    """Whether `owner` runs a trial of the study, after at least three trials have started."""
    try:
        study = optuna.load_study(study_name=name, storage=POSTGRES)
    except KeyError:  # not created yet
        return False
    running = study.get_trials(states=(TrialState.RUNNING,))
    return any(t.user_attrs.get("worker") == owner for t in running) and len(study.trials) >= 3


@needs_postgres
def test_a_worker_killed_mid_trial_loses_only_that_trial_which_is_run_again(study_name, tmp_path):
    name, toml = study_name
    args = ("--storage", POSTGRES, "--grace-period", "2")
    victim, survivor = (start_worker(toml, tmp_path / "runs", 6, *args) for _ in range(2))
    owner = f"{socket.gethostname()}-{victim.pid}"
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        if _mid_trial(name, owner):
            victim.send_signal(signal.SIGSTOP)  # frozen, so that the trial seen running is the one killed
            if _mid_trial(name, owner):
                break
            victim.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    study = optuna.load_study(study_name=name, storage=POSTGRES)
    killed = [t for t in study.get_trials() if t.user_attrs.get("worker") == owner and t.state == TrialState.RUNNING]
    assert len(killed) == 1, "the victim was not mid-trial when killed"
    summaries = finish([survivor])
    study = optuna.load_study(study_name=name, storage=POSTGRES)
    complete = check_study(study, tmp_path / "runs" / name, 6, summaries)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert [t.number for t in failed if not t.user_attrs.get("over_cap")] == [killed[0].number]
    retried = [t for t in complete if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].user_attrs["worker"] != owner
