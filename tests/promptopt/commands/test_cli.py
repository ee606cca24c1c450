import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from promptopt import __version__
from promptopt.cli import app
from promptopt.core.tomlio import dumps

runner = CliRunner()


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_help_does_not_import_torch():
    code = "import sys, promptopt.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"promptopt {__version__}"


def test_search_then_resume_then_export(study_toml, tmp_path):
    out = tmp_path / "runs"
    first = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "2", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["complete_trials"] == 2 and summary["new_trials"] == 2
    (best,) = summary["best"]  # numbers, one objective: one best trial
    assert summary["best_text"] == f"best quality {best['values']['quality']:.4f} (trial {best['trial']})"
    assert Path(summary["export"]["prompts_csv"]).is_file()
    assert summary["export"]["images"] == len(summary["export"]["top_prompts"]) * 2
    assert "on 2 validation seeds" in summary["export"]["validation"]

    second = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "3", "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["complete_trials"] == 3
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{out / 't' / 'study.db'}")
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3

    exported = runner.invoke(app, ["export", str(out / "t"), "--top-k", "1", "--images-per-prompt", "0", "--json"])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(exported.stdout)
    assert len(rows) == 1 and rows[0]["trial"] == study.best_trial.number and "validation_objective_quality" in rows[0]
    unvalidated = runner.invoke(
        app, ["export", str(out / "t"), "--images-per-prompt", "0", "--validation-images", "0", "--json"]
    )
    assert unvalidated.exit_code == 0 and not any(k.startswith("validation") for k in json.loads(unvalidated.stdout)[0])
    assert not (out / "t" / "export" / "dataset").exists()
    shown = runner.invoke(app, ["export", str(out / "t"), "--images-per-prompt", "0", "--validation-images", "0"])
    assert "synthetic dataset: none (--images-per-prompt 0" in shown.output and "dataset (0 images)" not in shown.output


def test_a_target_names_its_own_study_and_every_prompt_states_it(study_toml, tmp_path):
    from promptopt import grammar

    args = ["search", "--study", str(study_toml), "--target", "polyp: type ip, size >20mm", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "polyp-ip-gt20mm" / "study.db").is_file() and not (tmp_path / "t").exists()
    storage = f"sqlite:///{tmp_path / 'polyp-ip-gt20mm' / 'study.db'}"
    trials = optuna.load_study(study_name="polyp-ip-gt20mm", storage=storage).get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 2
    for trial in trials:
        attrs = grammar.parse(trial.user_attrs["candidate"]["prompt"])
        assert attrs["polyp_types"] == ["ip"] and attrs["polyp_sizes"] == [">20mm"], attrs


def test_a_log_gets_a_line_per_phase_and_per_trial(study_toml, tmp_path):
    """Not a terminal (`make search > log`, nohup, CI): bars and spinners cannot redraw, so plain lines say what
    happens."""
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(tmp_path), "-n", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.startswith("loading generator and scorers: done in ") for line in lines)
    trials = [line for line in lines if line.startswith("trial ")]
    assert [line.split(":")[0] for line in trials] == ["trial 0", "trial 1"]
    assert trials[0].startswith("trial 0: quality ") and "1/2 complete, best quality" in trials[0]
    assert "2/2 complete, best quality" in trials[1]
    assert any(line.startswith("validate + export ") for line in lines)  # the bar's last state
    assert any(line.startswith("hold-out check: best vs seed prompt: done in ") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--category", "tumour"], "unknown category 'tumour'"),
        (["search", "--study", "missing.toml"], "does not exist"),
        (["search", "--category", "polyp", "-n", "0"], "n_trials must be at least 1"),
        (["search", "--category", "polyp", "-n", "-3"], "n_trials must be at least 1"),
        (["search", "--category", "polyp", "--seed", "-1"], "'--seed': Input should be greater than or equal to 0"),
        (["search", "--category", "polyp", "--seed", str(2**63)], "seed must be between 0 and 2147483647"),
        (["search"], "name a category"),
        (["search", "--target", "polyp type ip"], "write the category, a colon and its attributes"),
        (["search", "--target", "polyp: type xx"], "cannot read 'type xx'"),
        (["search", "--target", "polyp: biopsy forceps"], "asks for instrument attributes"),
        (["search", "--target", "polyp: color cerulean"], "colors=cerulean, which the judge cannot check"),
        (["search", "--target", "polyp:"], "names no attribute: write one after the colon"),
        (["search", "-c", "landmark", "--target", "polyp: type ip"], "--category landmark disagrees with --target"),
        (["export", "nowhere"], "is not a run folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in _error_line(result)


def test_unknown_key_and_unreadable_toml(tmp_path, make_study_dict, reference):
    data = make_study_dict(str(reference))
    data["study"]["budget"] = 3
    path = tmp_path / "s.toml"
    path.write_text(dumps(data))
    result = runner.invoke(app, ["search", "--study", str(path)])
    assert result.exit_code == 2 and "unknown key study.budget" in _error_line(result)
    path.write_bytes(b"\xff\xfe\x00bad")
    result = runner.invoke(app, ["search", "--study", str(path)])
    assert result.exit_code == 2 and "cannot be read" in _error_line(result)


def test_reference_folder_missing_or_empty(tmp_path, make_study_dict):
    (tmp_path / "empty").mkdir()
    for ref, message in [(tmp_path / "absent", "does not exist"), (tmp_path / "empty", "fewer than 2 images")]:
        path = tmp_path / "s.toml"
        path.write_text(dumps(make_study_dict(str(ref))))
        result = runner.invoke(app, ["search", "--study", str(path), "--out", str(tmp_path / "runs")])
        assert result.exit_code == 2 and message in _error_line(result)


def test_hub_model_offline_is_a_clear_error(study_toml, tmp_path):
    args = ["search", "--study", str(study_toml), "--out", str(tmp_path), "--model", "acme/no-such-model"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "HF_HUB_OFFLINE=1" in _error_line(result) and "--model DIR" in _error_line(result)


def test_missing_local_model_folder_leaves_no_empty_folder(study_toml, tmp_path):
    out = tmp_path / "runs" / "new"
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "--model", "./nope/x/y"])
    assert result.exit_code == 2 and "does not exist" in _error_line(result)
    assert list(tmp_path.iterdir()) == [study_toml]  # runs/new/<study>/ made for the run, then taken away


def test_unwritable_output_folder(study_toml, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(blocker / "runs")])
    assert result.exit_code == 2 and "not writable" in _error_line(result)


def _start_search(study_toml, out, n):
    cmd = [sys.executable, "-m", "promptopt.cli", "search", "--study", str(study_toml), "--out", str(out), "-n", str(n)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    trials = out / "t" / "trials"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(trials.glob("[0-9]*"))) < 2 and proc.poll() is None:
        time.sleep(0.2)
    return proc


def _complete(out):
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{out / 't' / 'study.db'}")
    return [t.number for t in study.get_trials(states=(TrialState.COMPLETE,))]


def test_a_second_sigterm_stops_a_search_at_once(make_study_dict, reference, tmp_path):
    """Before: only a second SIGINT interrupted; a second SIGTERM was ignored until the trial ended. A first stop
    waits for the render batch, so the batch is made long (256 images at once) for the second to land in it."""
    from promptopt.core.tomlio import dumps

    study = make_study_dict(str(reference))
    study["generator"]["batch_size"] = 256
    study_toml = tmp_path / "study.toml"
    study_toml.write_text(dumps(study))
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "promptopt.cli", "search", "--study", str(study_toml), "--out", str(out), "-n", "40"]
    proc = subprocess.Popen([*cmd, "--images-per-trial", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not _running(out):
        time.sleep(0.1)
    time.sleep(1.0)  # inside the batch: a stop asked before it starts ends the trial at once, and the process
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"SIGTERM again to stop at once" in err
    assert not _running(out)
    complete = _complete(out)
    assert sorted(p.name for p in (out / "t" / "trials").iterdir()) == [f"{n:04d}" for n in complete]


def _running(out) -> bool:
    """Whether the study in `out` has a trial running (False before it exists)."""
    db = out / "t" / "study.db"
    if not db.is_file():
        return False
    try:
        study = optuna.load_study(study_name="t", storage=f"sqlite:///{db}")
    except KeyError:
        return False
    return bool(study.get_trials(states=(TrialState.RUNNING,)))


def test_interrupted_searches_lose_no_complete_trial(study_toml, tmp_path):
    """Ctrl-C stops at the next render batch; kill -9 mid-trial loses only that trial; a rerun resumes."""
    out = tmp_path / "runs"
    trials = out / "t" / "trials"

    proc = _start_search(study_toml, out, 40)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"stopping at the next render batch" in err and b"stopped early" in err
    after_ctrl_c = _complete(out)
    assert 2 <= len(after_ctrl_c) < 40
    assert sorted(p.name for p in trials.iterdir()) == [f"{n:04d}" for n in after_ctrl_c]
    assert not (out / "t" / "export").exists()

    proc = _start_search(study_toml, out, 40)
    deadline = time.time() + 240
    while len(_complete(out)) < len(after_ctrl_c) + 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    before = _complete(out)
    assert set(after_ctrl_c) < set(before)

    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", str(len(before) + 1)])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{out / 't' / 'study.db'}")
    after = _complete(out)
    assert set(before) < set(after) and len(after) == len(before) + 1
    assert sorted(p.name for p in trials.iterdir()) == [f"{n:04d}" for n in after]
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in study.trials)
    assert (out / "t" / "export" / "opg_prompts.csv").is_file()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "is not a study's run folder (no config.toml)"),
        (lambda p: p / "gone", "does not exist"),
    ],
)
def test_report_of_what_is_not_a_run_is_one_line(tmp_path, make, message):
    result = runner.invoke(app, ["report", str(make(tmp_path))])
    assert result.exit_code == 2 and message in _error_line(result)


@pytest.mark.parametrize(
    ("plan", "out", "message"),
    [
        (None, "{run}", "name an .html file, a study's report is one page"),
        (None, "{run}/study.db", "study.db: name an .html file"),
        ('{"targets": ["polyp"]}', "{run}/plan.json", "is a file: an opg run's report is a folder"),
        ("not json", None, "plan.json is damaged (it should list the plan's targets)"),
        ('{"targets": 3}', None, "plan.json is damaged"),
    ],
)
def test_report_out_of_the_wrong_kind_or_a_damaged_plan_is_one_line(tmp_path, plan, out, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "study.db").write_bytes(b"")
    if plan is not None:
        (run / "plan.json").write_text(plan)
    before = {p: p.read_bytes() for p in run.iterdir()}
    args = ["report", str(run)] + (["--out", out.format(run=run)] if out else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in _error_line(result)
    assert {p: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated"])
def test_report_on_a_damaged_study_db_is_one_line_and_writes_nothing(study_toml, tmp_path, damage):
    """Before: an empty study.db became a fresh Optuna database, which the next search then accepted."""
    run = tmp_path / "t"
    run.mkdir()
    (run / "config.toml").write_bytes(study_toml.read_bytes())
    db = run / "study.db"
    if damage == "truncated":
        optuna.create_study(study_name="t", storage=f"sqlite:///{db}")
        db.write_bytes(db.read_bytes()[:3000])
    else:
        db.write_bytes(b"" if damage == "empty" else bytes(range(256)) * 20)
    before = db.read_bytes()
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 2 and "study.db is damaged or no Optuna database" in _error_line(result)
    assert db.read_bytes() == before and not (run / "report.html").exists()


def test_report_from_a_server_that_is_down_is_one_line(study_toml, tmp_path):
    (tmp_path / "config.toml").write_bytes(study_toml.read_bytes())
    result = runner.invoke(app, ["report", str(tmp_path), "--storage", "postgresql://u:secret@127.0.0.1:1/db"])
    assert result.exit_code == 2 and "check the URL and that the database server runs" in _error_line(result)
    assert "secret" not in result.output


def test_search_on_a_file_that_is_no_database_is_one_line(study_toml, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 20)
    args = ["search", "--study", str(study_toml), "--storage", f"sqlite:///{garbage}", "--out", str(tmp_path / "r")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "is no Optuna database (file is not a database)" in _error_line(result)
    assert garbage.read_bytes() == bytes(range(256)) * 20


def test_report_escapes_every_field_of_an_edited_run_folder_numbers_included(study_toml, tmp_path):
    from promptopt.core.paths import HOLDOUT_FILE, PROMPTS_JSON, RunPaths

    out = tmp_path / "runs"
    searched = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "2"])
    assert searched.exit_code == 0, searched.output
    run = RunPaths(out / "t")
    hostile = "<script>alert(1)</script>"
    rows = json.loads((run.export / PROMPTS_JSON).read_text())
    rows[0].update(rank=hostile, steps=hostile)
    (run.export / PROMPTS_JSON).write_text(json.dumps(rows))
    holdout = {"images": hostile, "seeds": {"seed_start": hostile}, "best_is_seed_prompt": True}
    (run.export / HOLDOUT_FILE).write_text(json.dumps(holdout))
    result = runner.invoke(app, ["report", str(run.root)])
    assert result.exit_code == 0, result.output
    page = (run.root / "report.html").read_text()
    assert "<script" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    (run.export / HOLDOUT_FILE).write_text("{damaged")
    result = runner.invoke(app, ["report", str(run.root)])
    assert result.exit_code == 2 and "holdout.json is damaged (not JSON)" in _error_line(result)


def test_report_of_a_study_not_exported_yet(study_toml, tmp_path):
    """A study searched with --no-export still gets a page, which says what is missing instead of failing; once
    exported, the search's summary names the report command."""
    out = tmp_path / "runs"
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "2", "--no-export"])
    assert result.exit_code == 0 and "report: " not in result.stderr
    result = runner.invoke(app, ["report", str(out / "t"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "Not exported yet" in page and "None: the study has no judge" in page and "2 complete trials" in page
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(out), "-n", "3"])
    assert result.exit_code == 0 and f"report: promptopt report {out / 't'}" in result.stderr
