import dataclasses
import json
import time
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState

from promptopt.core.errors import InputError
from promptopt.core.interrupt import StopFlag
from promptopt.core.paths import RunPaths
from promptopt.search.loop import recover, run_search
from promptopt.search.storage import ask, heartbeat
from promptopt.search.study_open import check_generator, make_sampler, open_study


def _run(cfg, paths, build, grace_s=60, **kwargs):
    generator, scorers, mutator, _ = build(cfg)
    study = open_study(cfg, paths, grace_s=grace_s)
    return study, run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator, **kwargs)


def test_search_writes_one_folder_per_complete_trial_on_the_same_seeds(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    study, result = _run(small_cfg, paths, build)
    assert result.n_complete == 3 and not result.stopped_early
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted(p.name for p in paths.trials.iterdir()) == [f"{t.number:04d}" for t in complete]
    for trial in complete:
        record = json.loads((paths.trial(trial.number) / "scores.json").read_text())
        assert record["seeds"] == [0, 1]
        assert set(record["scores"]) == {"intent", "kid"}
        assert record["values"] == pytest.approx([record["scores"]["intent"] - record["scores"]["kid"]])
        assert trial.values == pytest.approx(record["values"])
        assert len(list((paths.trial(trial.number) / "images").glob("*.png"))) == 2
    assert paths.config.is_file() and paths.environment.is_file()
    assert "torch" in json.loads(paths.environment.read_text())["packages"]


def test_a_new_study_starts_from_the_plain_seed_prompt(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    study, _ = _run(small_cfg.with_study(n_trials=2), paths, build)
    _, _, mutator, _ = build(small_cfg)
    assert study.trials[0].user_attrs["candidate"] == dataclasses.asdict(mutator.baseline())
    _, _ = _run(small_cfg.with_study(n_trials=3), paths, build)  # a resumed study enqueues nothing
    assert len(study.trials) == 3 and study.trials[2].params != mutator.baseline_params()


def _killed_trial(study):
    """A trial as a worker killed mid-trial leaves it: RUNNING, its heartbeats stopped."""
    trial = ask(study)
    study._storage.record_heartbeat(trial._trial_id)
    return trial


def test_a_baseline_lost_to_a_kill_is_queued_again(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    _, _, mutator, _ = build(small_cfg)
    study = open_study(small_cfg, paths, grace_s=1)
    killed = _killed_trial(study)  # the baseline trial the creating worker queued, RUNNING when it was killed
    assert mutator.propose(killed) == mutator.baseline()
    time.sleep(2.5)  # past the grace period
    study, _ = _run(small_cfg.with_study(n_trials=2), paths, build, grace_s=1)
    assert study.trials[killed.number].state == TrialState.FAIL
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    baseline = [t for t in complete if t.user_attrs["candidate"] == dataclasses.asdict(mutator.baseline())]
    assert len(complete) == 2 and len(baseline) == 1
    assert baseline[0].system_attrs["failed_trial"] == killed.number and baseline[0].user_attrs["baseline"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"not a database", "is not an SQLite database"), (None, "database disk image is malformed")],
)
def test_a_damaged_study_db_is_refused_and_left_as_it_is(small_cfg, tmp_path, build, content, message):
    paths = RunPaths(tmp_path / "run")
    if content is None:  # a truncated copy of a real study
        _run(small_cfg.with_study(n_trials=1), paths, build)
        content = paths.db.read_bytes()[:5000]
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.db.write_bytes(content)
    with pytest.raises(InputError, match=message):
        open_study(small_cfg, paths)
    assert paths.db.read_bytes() == content


def test_rerun_with_a_larger_budget_resumes_the_same_study(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    _run(small_cfg, paths, build)
    study, result = _run(small_cfg.with_study(n_trials=5), paths, build)
    assert result.n_complete == 5 and len(result.new_trials) == 2
    assert len(optuna.get_all_study_names(paths.storage_url)) == 1
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 5
    assert len(list(paths.trials.iterdir())) == 5
    _, again = _run(small_cfg.with_study(n_trials=5), paths, build)
    assert again.new_trials == []


def test_resume_refuses_a_changed_search_space(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    _run(small_cfg.with_study(n_trials=1), paths, build)
    changed = dataclasses.replace(small_cfg, mutator=dataclasses.replace(small_cfg.mutator, steps=(3,)))
    with pytest.raises(InputError, match="changed: mutator.steps"):
        open_study(changed, paths)


def test_resume_refuses_a_generator_with_other_weights(small_cfg, tmp_path, build):
    """Same config, other weights (e.g. a retrained model folder under the same name): the study's trials and
    the scores repeated candidates reuse came from the first, so going on is refused; device and dtype may change."""
    paths = RunPaths(tmp_path / "run")
    generator, _, _, _ = build(small_cfg)
    study = open_study(small_cfg, paths)
    check_generator(study, generator, paths)
    elsewhere = SimpleNamespace(identity={**generator.identity, "device": "cuda", "dtype": "float16"})
    check_generator(open_study(small_cfg, paths), elsewhere, paths)
    retrained = SimpleNamespace(identity={**generator.identity, "model_hash": "0123456789abcdef"})
    with pytest.raises(InputError, match=r"another generator \(generator.model_hash: "):
        check_generator(open_study(small_cfg, paths), retrained, paths)


def test_recovery_retries_the_trial_of_a_killed_worker_and_leaves_a_live_ones(small_cfg, tmp_path, build):
    """Another worker starting meanwhile, or any worker between trials, fails only trials whose heartbeat stopped."""
    paths = RunPaths(tmp_path / "run")
    study, _ = _run(small_cfg.with_study(n_trials=1), paths, build, grace_s=2)
    live = ask(study)
    with heartbeat(study, live):
        killed = _killed_trial(study)
        killed.suggest_categorical("steps", [2])
        silent = ask(study)  # killed before its first heartbeat (or left by a promptopt from before heartbeats)
        for trial in (live, killed, silent):
            (paths.trial(trial.number) / "images").mkdir(parents=True)
        (paths.trials / ".0009.staging-x").mkdir()
        time.sleep(3.5)
        recover(study, paths)
        states = {t.number: t.state for t in study.trials}
        assert states[live.number] == TrialState.RUNNING
        assert states[killed.number] == states[silent.number] == TrialState.FAIL
        waiting = study.get_trials(states=(TrialState.WAITING,))
        assert sorted(t.system_attrs["failed_trial"] for t in waiting) == [killed.number, silent.number]
        assert [t.params for t in waiting if t.system_attrs["failed_trial"] == killed.number] == [{"steps": 2}]
        assert sorted(p.name for p in paths.trials.iterdir()) == ["0000", f"{live.number:04d}"]
        recover(study, paths)  # a second worker doing the same queues nothing more
        assert len(study.get_trials(states=(TrialState.WAITING,))) == 2
    study.tell(live, state=TrialState.FAIL)


def test_a_stop_request_between_trials_ends_the_search(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    stop = StopFlag()

    def on_trial(n_complete, record):
        if record is not None:
            stop.requested = True

    _, result = _run(small_cfg, paths, build, stop=stop, on_trial=on_trial)
    assert result.n_complete == 1 and result.stopped_early


def test_a_stop_request_ends_the_running_trial_at_its_next_render_batch(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    generator, scorers, mutator, _ = build(small_cfg)
    generator.batch_size = 1  # two seeds: two render batches a trial
    stop = StopFlag()
    calls = []
    render = generator.render

    def render_then_stop(*args, **kwargs):  # the stop arrives while the baseline's first batch renders
        calls.append(list(args[1]))
        stop.requested = True
        return render(*args, **kwargs)

    generator.render = render_then_stop
    study = open_study(small_cfg, paths)
    result = run_search(small_cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator, stop=stop)
    assert calls == [[0]]  # the second batch was never rendered
    assert result.n_complete == 0 and result.stopped_early and not any(paths.trials.iterdir())
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]  # queued again

    _, resumed = _run(small_cfg.with_study(n_trials=1), paths, build)
    assert resumed.n_complete == 1
    assert study.trials[1].user_attrs["candidate"] == dataclasses.asdict(mutator.baseline())


def test_a_failing_trial_is_marked_failed_and_leaves_no_folder(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    generator, scorers, mutator, _ = build(small_cfg)

    class Broken:
        name = "broken"
        metrics = {"kid": False}

        def score(self, images, prompts):
            raise RuntimeError("boom")

    study = open_study(small_cfg, paths)
    with pytest.raises(RuntimeError, match="boom"):
        run_search(small_cfg, paths, study, generator=generator, scorers=[Broken()], mutator=mutator)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert not any(paths.trials.iterdir())


def test_a_trial_failing_after_its_upload_leaves_no_orphaned_artifact(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    generator, scorers, mutator, _ = build(small_cfg)
    study = open_study(small_cfg, paths)
    tell = study.tell

    def failing_tell(trial, values=None, state=None):
        if values is not None:
            raise RuntimeError("the database went away")
        return tell(trial, values, state=state)

    study.tell = failing_tell
    with pytest.raises(RuntimeError, match="went away"):
        run_search(small_cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert not any(paths.trials.iterdir()) and not any(p.is_file() for p in paths.artifacts.rglob("*"))


def test_a_repeated_candidate_reuses_the_earlier_result(small_cfg, tmp_path, build):
    paths = RunPaths(tmp_path / "run")
    generator, scorers, mutator, _ = build(small_cfg)
    study = open_study(small_cfg, paths)
    params = {
        "seed_prompt": mutator.seeds[0],
        "polyp_types": "keep",
        "polyp_sizes": "keep",
        "abnormality_locations": "keep",
        "opener": "Generate an image",
        "synonym": "polyp",
        "descriptor": "",
        "negative_prompt": "",
        "guidance_scale": 3.0,
        "steps": 2,
    }
    study.enqueue_trial(params)
    study.enqueue_trial(params)
    cfg = small_cfg.with_study(n_trials=3)
    result = run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    _, first, second = result.new_trials  # after the baseline
    assert second.duplicate_of == first.number and second.scores == first.scores
    assert (paths.trial(second.number) / "images" / "01.png").read_bytes() == (
        paths.trial(first.number) / "images" / "01.png"
    ).read_bytes()


@pytest.mark.parametrize(("name", "kind"), [("tpe", "TPESampler"), ("random", "RandomSampler"), ("gp", "GPSampler")])
def test_the_study_names_its_sampler(small_cfg, name, kind):
    cfg = small_cfg.with_study(sampler=name)
    assert type(make_sampler(cfg, 3)).__name__ == kind
    assert small_cfg.study.sampler == "gp"  # the default: bench/search_efficiency.py measured it best


def test_an_unknown_sampler_is_refused(small_cfg):
    with pytest.raises(InputError, match="unknown sampler 'cmaes': choose one of gp, tpe, random"):
        small_cfg.with_study(sampler="cmaes")


def test_the_summary_says_why_the_first_exported_prompt_is_not_the_best_trial(small_cfg):
    """The export ranks finalists on validation seeds: when its first prompt is not Optuna's best trial, the
    summary names both and says why; when it is, it says so."""
    from optuna.distributions import FloatDistribution

    from promptopt.search.run import first_vs_best

    study = optuna.create_study(direction="maximize")
    for number, (prompt, value) in enumerate((("a polyp", 0.96), ("one polyp", 0.90))):
        cand = {"prompt": prompt, "negative_prompt": "", "guidance_scale": 7.5, "steps": 2}
        trial = optuna.trial.create_trial(
            params={"x": float(number)},
            distributions={"x": FloatDistribution(0, 1)},
            value=value,
            user_attrs={"candidate": cand},
        )
        study.add_trial(trial)
    rows = [
        {"trial": 1, "rank": 1, "prompt": "one polyp", "negative_prompt": "", "guidance_scale": 7.5, "steps": 2},
        {"trial": 0, "rank": 2, "prompt": "a polyp", "negative_prompt": "", "guidance_scale": 7.5, "steps": 2},
    ]
    text = first_vs_best(small_cfg, study, rows)
    assert text.startswith("exported 1st prompt: trial 1, not the best trial 0 (quality 0.9600")
    assert "fresh validation seeds" in text and text.endswith("trial 0 ranked 2 there")
    assert first_vs_best(small_cfg, study, rows[::-1]) == "exported 1st prompt: trial 0, the best trial's prompt"
