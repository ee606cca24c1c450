"""`opg --tune` end to end on tiny models: a weak target is tuned, its adapter checked; one that passes every guard
is searched again and carried in the submission (plain diffusers loads it); one that fails a guard is not used.
Slow (a tune, two audits of every single-clause prompt and a search again): `.ci/run` runs it."""

import json

import pytest
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.tomlio import dumps

runner = CliRunner()
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture
def plan(tmp_path, make_study_dict, reference, tiny_judge_file):
    """One instrument target on a tiny study (tiny-random at 32×32, 2 steps) with hold-out seeds and a judge that
    never finds the tube (its threshold above 1): the target is weak whatever is drawn."""
    from promptopt.judge.schema import COLUMN
    from promptopt.scorers.judge import load_judge

    judge = load_judge(tiny_judge_file)
    judge.thresholds[COLUMN["tube"]] = 1.01
    judge.save(tmp_path / "judge.safetensors")
    data = make_study_dict(str(reference), category="instrument")
    data["scorers"]["judge"] = {"model": str(tmp_path / "judge.safetensors")}
    data["export"] = {**data["export"], "holdout_images": 4}
    (tmp_path / "instrument.toml").write_text(dumps(data))
    plan = {
        "targets": ["instrument: tube"],
        "n_trials": 2,
        "images_per_trial": 2,
        "studies": {"instrument": "instrument.toml"},
    }
    (tmp_path / "plan.toml").write_text(dumps({"plan": {**plan, "tune": True, "tune_below": 1.0}}))
    sim = tmp_path / "sim"
    assert runner.invoke(app, ["data", "sim", "--n", "40", "--size", "32", "--out", str(sim)]).exit_code == 0
    return tmp_path / "plan.toml", sim


TUNE = ["--tune-steps", "2", "--audit-images", "2", "--training-images", "0"]


def _run(plan, sim, out, *extra):
    args = ["opg", "--plan", str(plan), "--out", str(out), "--tune-data", str(sim), *TUNE, *extra]
    return runner.invoke(app, args)


def test_a_weak_target_is_tuned_checked_searched_again_and_submitted(plan, tmp_path, monkeypatch):
    import promptopt.loop.guards as guards

    monkeypatch.setattr(guards, "MAX_KID_RATIO", 1e9)  # two steps of training on a random model: realism is moot
    plan, sim = plan
    out = tmp_path / "opg"
    result = _run(plan, sim, out, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["summary"]
    held = json.loads((out / "studies" / "instrument-tube" / "export" / "holdout.json").read_text())
    assert held["best"]["hit_rate"] == 0.0  # weak
    assert row["tuned"] == "tuned" and row["study"] == "instrument-tube-tuned"
    assert row["untuned_best_hit_rate"] == held["best"]["hit_rate"]
    adapter = out / "tuned" / "instrument"
    checked = json.loads((adapter / "guards.json").read_text())
    assert checked["passed"] and [g["name"] for g in checked["guards"]] == ["no forgetting", "no copying", "realism"]
    card = (adapter / "README.md").read_text()
    assert card.startswith("---\nbase_model: tiny-random\n") and "| tube |" in card
    folder = out / "submission" / "instrument"
    model = json.loads((folder / "model.json").read_text())
    assert model["adapter"]["folder"] == "adapter" and model["adapter"]["targets"] == ["instrument-tube"]
    assert model["generator"]["loras"]  # the tuned study's generator names the adapter
    _plain_diffusers_loads(folder / "adapter")
    again = _run(plan, sim, out)
    assert again.exit_code == 0 and "tuning instrument" in again.output and "search " not in again.stderr
    reported = runner.invoke(app, ["report", str(out)])
    assert reported.exit_code == 0, reported.output
    index = (out / "report" / "index.html").read_text()
    assert "Tuned adapters (opg --tune)" in index and "no forgetting: passed" in index
    assert 'id="instrument-tube-tuned"' in (out / "report" / "instrument.html").read_text()


def _plain_diffusers_loads(folder) -> None:
    from diffusers import StableDiffusionPipeline

    from promptopt.core.paths import cache_dir
    from promptopt.generators.tiny import tiny_pipeline_dir

    pipe = StableDiffusionPipeline.from_pretrained(tiny_pipeline_dir(cache_dir()), local_files_only=True)
    pipe.load_lora_weights(folder)
    assert any("lora" in name for name, _ in pipe.unet.named_parameters())


def test_an_adapter_that_fails_a_guard_is_not_used(plan, tmp_path, monkeypatch):
    import promptopt.loop.guards as guards

    monkeypatch.setattr(guards, "MAX_KID_RATIO", 0.0)  # no tuned model can be this realistic
    plan, sim = plan
    out = tmp_path / "opg"
    result = _run(plan, sim, out, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["summary"]
    assert row["tuned"] == "guard failed: realism" and row["study"] == "instrument-tube"
    assert "adapter" not in json.loads((out / "submission" / "instrument" / "model.json").read_text())
    assert not (out / "studies" / "instrument-tube-tuned").exists()
