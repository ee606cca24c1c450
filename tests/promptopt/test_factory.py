import pytest

from promptopt.config import from_dict
from promptopt.errors import InputError
from promptopt.factory import build_scorers


def test_diversity_scorer_is_built_and_scores(make_study_dict, make_images_32):
    data = make_study_dict("/unused")
    data["scorers"] = {"diversity": {"metric": "cosine"}}
    data["objectives"] = [{"name": "spread", "terms": {"diversity": 1.0}}]
    (scorer,) = build_scorers(from_dict(data), realism=None)
    same = scorer.score([make_images_32[0]] * 3, ["p"] * 3)["diversity"]
    mixed = scorer.score(make_images_32, ["p"] * 3)["diversity"]
    assert same == pytest.approx(0.0, abs=1e-9) and mixed > same


def test_clip_scorer_with_a_missing_model_is_an_input_error(make_study_dict, tmp_path):
    data = make_study_dict("/unused")
    data["scorers"] = {"clip": {"model": str(tmp_path / "no-clip")}}
    data["objectives"] = [{"name": "align", "terms": {"clip_score": 1.0}}]
    with pytest.raises(InputError, match=r"\[scorers.clip\] model: .*no-clip"):
        build_scorers(from_dict(data), realism=None)


def test_objectives_may_use_clip_and_diversity_metrics(make_study_dict):
    data = make_study_dict("/unused")
    data["scorers"]["clip"] = {"model": "ViT-B-32/laion2b_s34b_b79k"}
    data["scorers"]["diversity"] = {}
    data["objectives"] = [{"name": "a", "terms": {"clip_score": 1.0}}, {"name": "b", "terms": {"diversity": 1.0}}]
    assert set(from_dict(data).scorers.metrics()) == {"intent", "kid", "clip_score", "diversity"}
