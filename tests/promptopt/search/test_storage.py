import multiprocessing
import os
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.errors import InputError
from promptopt.core.paths import RunPaths
from promptopt.search.storage import check_url, masked, scrubbed
from promptopt.search.study_open import open_study

POSTGRES = os.environ.get("PROMPTOPT_TEST_POSTGRES")
SECRET = "S3cret-pw_71"
runner = CliRunner()


def test_a_password_is_masked_and_scrubbed():
    url = f"postgresql://ana:{SECRET}@db.example:5432/studies"
    assert masked(url) == "postgresql://ana:***@db.example:5432/studies"
    assert masked("sqlite:////tmp/x/study.db") == "sqlite:////tmp/x/study.db"
    assert scrubbed(f"at {url} ({SECRET})", url) == "at postgresql://ana:***@db.example:5432/studies (***)"
    encoded = "postgresql://ana:p%40ss@h/db"  # the password p@ss, as a URL writes it
    assert scrubbed("p@ss and p%40ss", encoded) == "*** and ***"
    short = "postgresql://ana:p@h/db"  # a one-letter password: masked in the URL, not in every word with a p
    assert scrubbed(f"cannot open {short}: password rejected", short) == (
        "cannot open postgresql://ana:***@h/db: password rejected"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "is not a database URL"), ("oracle://u:pw@h/db", "unsupported database 'oracle'")],
)
def test_a_bad_storage_url_is_an_input_error(url, message):
    with pytest.raises(InputError, match=message):
        check_url(url)


def test_an_unreachable_database_is_one_line_without_the_password(study_toml, tmp_path):
    """The password in the URL appears nowhere in what the command prints."""
    args = ["search", "--study", str(study_toml), "--out", str(tmp_path), "--grace-period", "5"]
    closed = f"postgresql://ana:{SECRET}@127.0.0.1:9/studies"  # the discard port: nothing listens there
    result = runner.invoke(app, [*args, "--storage", closed])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "cannot open storage postgresql://ana:***@127.0.0.1:9/studies" in lines[0] and SECRET not in result.output
    result = runner.invoke(app, args, env={"PROMPTOPT_STORAGE": "mysql://ana:pw@127.0.0.1/studies"})
    assert result.exit_code == 2 and "its database driver is not installed: install a MySQL driver" in result.output


def _open(cfg, root, barrier, errors):
    barrier.wait()
    try:
        open_study(cfg, RunPaths(root))
    except Exception as err:  # reported to the test, which prints it
        errors.put(f"{type(err).__name__}: {err}")


def test_workers_starting_at_once_on_a_new_sqlite_file_create_one_study_with_one_baseline(small_cfg, tmp_path):
    """Before: the loser of the race to create the tables crashed (IntegrityError on alembic_version)."""
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open, args=(small_cfg, tmp_path / "run", barrier, errors)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert errors.empty(), errors.get()
    study = optuna.load_study(study_name="t", storage=RunPaths(tmp_path / "run").storage_url)
    assert [t.user_attrs for t in study.get_trials(states=(TrialState.WAITING,))] == [{"baseline": True}]


@pytest.mark.skipif(
    not POSTGRES, reason="PROMPTOPT_TEST_POSTGRES is not set (`bash .ci/run` starts a PostgreSQL and sets it)"
)
def test_a_password_in_the_storage_url_is_written_nowhere(tmp_path, reference, make_study_dict, capfd):
    from sqlalchemy.engine import make_url

    from promptopt.core.tomlio import dumps

    name = f"c{os.getpid()}"
    toml = tmp_path / "study.toml"
    toml.write_text(dumps(make_study_dict(str(reference), name=name)))
    url = make_url(POSTGRES).set(password=SECRET).render_as_string(hide_password=False)  # the test server trusts
    out = tmp_path / "runs"
    args = ["search", "--study", str(toml), "--out", str(out), "-n", "2"]
    result = runner.invoke(app, args, env={"PROMPTOPT_STORAGE": url})
    assert result.exit_code == 0, result.output
    exported = runner.invoke(app, ["export", str(out / name), "--storage", url, "--json"])
    assert exported.exit_code == 0, exported.output
    assert "***@" in result.output and SECRET not in result.output + exported.output + "".join(capfd.readouterr())
    written = [p for p in Path(out).rglob("*") if p.is_file()]
    assert len(written) > 5 and not [p for p in written if SECRET.encode() in p.read_bytes()]


def test_a_trial_whose_worker_ended_on_this_machine_is_retried_at_once(small_cfg, tmp_path):
    """A run restarted right after a kill does not wait for the grace period; a live worker's trial stays."""
    import socket
    import subprocess

    from promptopt.core import atomic
    from promptopt.search.storage import ask, fail_stale_trials

    study = open_study(small_cfg, RunPaths(tmp_path / "run"), grace_s=600)
    ended = subprocess.Popen(["true"])
    ended.wait()
    killed, live = ask(study), ask(study)
    for trial, owner in ((killed, f"{socket.gethostname()}-{ended.pid}"), (live, atomic.owner())):
        study._storage.record_heartbeat(trial._trial_id)
        trial.set_user_attr("worker", owner)
    fail_stale_trials(study)
    assert study.trials[killed.number].state == TrialState.FAIL
    assert study.trials[live.number].state == TrialState.RUNNING
    assert [t.system_attrs["failed_trial"] for t in study.get_trials(states=(TrialState.WAITING,))] == [killed.number]


def test_release_connections_empties_the_pool_and_the_study_still_works(tmp_path):
    from promptopt.search.optuna_private import release_connections, storage_of

    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    study.enqueue_trial({"x": 1})
    engine = storage_of(study)._backend.engine
    assert engine.pool.checkedin() >= 1  # a connection kept for reuse
    release_connections(study)
    assert engine.pool.checkedin() == 0
    assert len(study.get_trials()) == 1  # it reconnects
