import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import pdist

import promptopt.scorers.prdc as prdc_module
from promptopt.scorers.diversity import DiversityScorer, mean_pairwise_distance, prompt_set_diversity, within_and_across


def test_mean_pairwise_distance_by_hand():
    # A 3-4-5 triangle: pair distances 5, 4, 3.
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])) == pytest.approx(4.0)


def test_cosine_distance_by_hand():
    # Cosine similarities 0, 1/√2, 1/√2.
    features = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    expected = 1.0 - np.sqrt(2.0) / 3.0
    assert mean_pairwise_distance(features, metric="cosine") == pytest.approx(expected, abs=1e-15)
    assert prompt_set_diversity(features) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_equals_scipy_pdist_in_blocks(metric, monkeypatch):
    features = np.random.default_rng(0).normal(size=(40, 6))
    monkeypatch.setattr(prdc_module, "MAX_BLOCK", 50)
    assert mean_pairwise_distance(features, metric=metric) == pytest.approx(pdist(features, metric).mean(), rel=1e-12)


def test_identical_prompts_have_zero_diversity():
    assert prompt_set_diversity(np.tile([[0.3, -1.0, 2.0]], (4, 1))) == pytest.approx(0.0, abs=1e-15)


def test_within_and_across_by_hand():
    features = np.array([[0.0], [2.0], [10.0], [11.0]])
    out = within_and_across(features, ["a", "a", "b", "b"])
    # within: (2 + 1) / 2; across: (2 + 10 + 11 + 8 + 9 + 1) / 6.
    assert out == {"within": pytest.approx(1.5), "across": pytest.approx(41 / 6)}


def test_within_needs_two_rows_per_group():
    with pytest.raises(ValueError, match="fewer: \\['b'\\]"):
        within_and_across(np.zeros((3, 2)), ["a", "a", "b"])
    with pytest.raises(ValueError, match="one per row"):
        within_and_across(np.zeros((3, 2)), ["a", "a"])


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="at least 2 rows"):
        mean_pairwise_distance(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="all-zero"):
        mean_pairwise_distance(np.array([[0.0, 0.0], [1.0, 0.0]]), metric="cosine")


def test_scorer_uses_the_feature_callable():
    def mean_rgb(images):
        return np.array([np.asarray(im, dtype=float).mean(axis=(0, 1)) for im in images])

    images = [Image.new("RGB", (4, 4), (v, 0, 0)) for v in (0, 30, 40)]
    scorer = DiversityScorer(mean_rgb)
    assert scorer.score(images, ["p"] * 3) == {"diversity": pytest.approx((30 + 40 + 10) / 3)}
    assert scorer.name == "diversity" and scorer.metrics == {"diversity": True}
