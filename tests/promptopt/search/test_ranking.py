from types import SimpleNamespace

from promptopt.search.ranking import pareto_levels, rank_trials


def _trial(number, values, prompt):
    return SimpleNamespace(number=number, values=values, user_attrs={"candidate": {"prompt": prompt}})


def test_pareto_levels_respect_directions():
    points = [(1.0, 5.0), (2.0, 4.0), (0.5, 6.0), (2.0, 6.0)]
    assert pareto_levels(points, ["maximize", "minimize"]) == [1, 0, 2, 1]
    assert pareto_levels(points, ["maximize", "maximize"]) == [1, 1, 1, 0]


def test_rank_trials_sorts_single_objective_and_drops_repeated_prompts():
    trials = [_trial(0, [0.2], "a"), _trial(1, [0.9], "b"), _trial(2, [0.5], "a"), _trial(3, [0.9], "c")]
    assert [t.number for t in rank_trials(trials, ["maximize"])] == [1, 3, 2]


def test_rank_trials_minimize_keeps_best_of_duplicates():
    trials = [_trial(0, [0.2], "a"), _trial(1, [0.9], "b"), _trial(2, [0.5], "a")]
    assert [t.number for t in rank_trials(trials, ["minimize"])] == [0, 1]
