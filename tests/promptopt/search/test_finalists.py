"""Finalists re-scored on fresh validation seeds, stored and reused, and the export ranked by them."""

import json

import pytest

from promptopt.core.paths import RunPaths
from promptopt.search.export import export_study, finalist_trials
from promptopt.search.finalists import rank_validated, validate_finalists
from promptopt.search.loop import run_search
from promptopt.search.mutator import Candidate
from promptopt.search.seeds import export_seeds, holdout_seeds, validation_seeds
from promptopt.search.study_open import open_study
from promptopt.search.trials import TrialRecord
from promptopt.study.config import from_dict


class CountingGenerator:
    """Passes renders through to a real generator and counts them."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.identity = inner.identity

    def render(self, *args, **kwargs):
        self.calls += 1
        return self.inner.render(*args, **kwargs)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, build, make_study_dict, reference):
    cfg = from_dict(make_study_dict(str(reference), n_trials=4))
    cfg = cfg.with_export(validation_images=3, top_k=3)
    paths = RunPaths(tmp_path_factory.mktemp("finalists") / "run")
    generator, scorers, mutator, realism = build(cfg)
    study = open_study(cfg, paths)
    run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    return cfg, paths, study, generator, scorers, realism


def test_validation_seeds_are_disjoint_from_every_other_seed_set(make_study_dict, reference):
    for seed in (0, 1, 5):
        data = make_study_dict(str(reference), seed=seed, images_per_trial=8)
        data["export"].update(validation_images=64, holdout_images=64, images_per_prompt=64)
        cfg = from_dict(data)
        sets = [set(cfg.study.eval_seeds), set(export_seeds(cfg)), set(validation_seeds(cfg)), set(holdout_seeds(cfg))]
        assert [len(s) for s in sets] == [8, 64, 64, 64]
        assert len(set().union(*sets)) == 8 + 3 * 64


def test_finalists_are_scored_on_the_validation_seeds_stored_and_reused(finished):
    cfg, paths, study, generator, scorers, _ = finished
    finalists = finalist_trials(cfg, study)
    counting = CountingGenerator(generator)
    validated = validate_finalists(cfg, paths.validation, finalists, generator=counting, scorers=scorers)
    assert counting.calls == len(finalists)
    assert sorted(v.number for v in validated) == sorted(t.number for t in finalists)
    for v in validated:
        record = json.loads((paths.validation / f"{v.number:04d}" / "scores.json").read_text())
        assert record["seeds"] == list(validation_seeds(cfg)) and record["scores"] == v.scores
        assert v.values == pytest.approx((v.scores["intent"] - v.scores["kid"],))
        assert len(list((paths.validation / f"{v.number:04d}" / "images").glob("*.png"))) == 3
        # the scores are those of the candidate's own images on those seeds
        trial_images = counting.inner.render(
            [v.candidate.prompt] * 3,
            list(validation_seeds(cfg)),
            negative_prompt=v.candidate.negative_prompt or None,
            guidance_scale=v.candidate.guidance_scale,
            steps=v.candidate.steps,
        )
        expected = {}
        for scorer in scorers:
            expected.update(scorer.score(trial_images, [v.candidate.prompt] * 3))
        assert v.scores == pytest.approx(expected)
    values = [v.values[0] for v in validated]
    assert values == sorted(values, reverse=True)
    again = validate_finalists(cfg, paths.validation, finalists, generator=counting, scorers=scorers)
    assert again == validated and counting.calls == len(finalists)


def test_stored_validation_of_another_candidate_is_not_reused(finished, tmp_path):
    cfg, paths, study, generator, scorers, _ = finished
    finalists = finalist_trials(cfg, study)[:1]
    folder = tmp_path / "validation"
    validate_finalists(cfg, folder, finalists, generator=generator, scorers=scorers)
    record_path = folder / f"{finalists[0].number:04d}" / "scores.json"
    record = json.loads(record_path.read_text())
    record["candidate"]["guidance_scale"] += 1.0
    record_path.write_text(json.dumps(record))
    counting = CountingGenerator(generator)
    validate_finalists(cfg, folder, finalists, generator=counting, scorers=scorers)
    assert counting.calls == 1


def test_rank_validated_uses_validation_values_and_pareto_levels():
    def v(trial, *values):
        return TrialRecord(trial, Candidate(f"p{trial}", "", 5.0, 10), {}, values)

    single = [v(0, 0.5), v(1, 0.9), v(2, 0.9), v(3, 0.1)]
    assert [x.number for x in rank_validated(single, ["maximize"])] == [1, 2, 0, 3]
    assert [x.number for x in rank_validated(single, ["minimize"])] == [3, 0, 1, 2]
    two = [v(0, 0.5, 0.1), v(1, 0.9, 0.5), v(2, 0.4, 0.6)]  # trial 2 is dominated by trial 0
    assert [x.number for x in rank_validated(two, ["maximize", "minimize"])] == [1, 0, 2]


def test_export_ranks_finalists_by_validation_and_keeps_both_scores(finished):
    cfg, paths, study, generator, scorers, realism = finished
    result = export_study(cfg, paths, study, generator=generator, realism=realism, scorers=scorers)
    rows = result.rows
    assert {r["trial"] for r in rows} == {t.number for t in finalist_trials(cfg, study)}
    validation = [r["validation_objective_quality"] for r in rows]
    assert validation == sorted(validation, reverse=True)
    for row in rows:
        trial = study.trials[row["trial"]]
        assert row["objective_quality"] == pytest.approx(trial.values[0])
        assert {"validation_score_intent", "validation_score_kid", "score_intent", "score_kid"} <= set(row)
    summary = json.loads((paths.export / "summary.json").read_text())
    assert summary["validation_seeds"] == list(validation_seeds(cfg))
    without = export_study(cfg.with_export(validation_images=0), paths, study, generator=None, scorers=scorers)
    assert not any(k.startswith("validation_") for k in without.rows[0])
