import pytest

from promptopt.core.errors import InputError
from promptopt.study.config import from_dict
from promptopt.study.factory import build_scorers


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


@pytest.mark.parametrize("sampling", ["rerank", "clip-guided"])
def test_sampling_wraps_the_generator_with_the_named_clip_model(make_study_dict, tmp_path, sampling):
    from promptopt.scorers.tiny_clip import write_tiny_clip
    from promptopt.study.factory import build_generator

    clip = write_tiny_clip(tmp_path / "clip")
    data = make_study_dict("/unused")
    data["generator"] |= {"sampling": sampling, "clip_model": str(clip), "rerank_candidates": 2}
    generator = build_generator(from_dict(data))
    assert generator.identity["sampling"] == sampling
    assert generator.device == "cpu"
    images = generator.render(["a polyp", "a tube"], [0, 1], guidance_scale=3.0, steps=2)
    assert [im.size for im in images] == [(32, 32), (32, 32)]


def test_sampling_needs_a_loadable_clip_model(make_study_dict, tmp_path):
    from promptopt.study.factory import build_generator

    data = make_study_dict("/unused")
    data["generator"] |= {"sampling": "rerank"}
    with pytest.raises(InputError, match="needs generator.clip_model"):
        from_dict(data)
    data["generator"]["clip_model"] = str(tmp_path / "no-such-clip")
    with pytest.raises(InputError, match=r"\[generator\] clip_model"):
        build_generator(from_dict(data))


def test_judge_consistency_is_a_study_metric(make_study_dict, make_images_32, tiny_judge_file, tmp_path):
    """A judge fitted and saved is scored through the study config, on the study's target."""
    data = make_study_dict("/unused", target={"polyp_types": ["ip"]})
    data["scorers"] = {"judge": {"model": str(tiny_judge_file)}}
    data["objectives"] = [{"name": "hits", "terms": {"target_consistency": 1.0}}]
    (scorer,) = build_scorers(from_dict(data), realism=None)
    scores = scorer.score(make_images_32, ["Generate an image containing a polyp."] * 3)
    assert 0.0 <= scores["target_consistency"] <= 1.0 and 0.0 <= scores["hit_rate"] <= 1.0
    assert {"c_polyp", "c_polyp_types_ip"} <= set(scores)
    data["scorers"] = {"judge": {"model": str(tiny_judge_file.with_name("none.safetensors"))}}
    with pytest.raises(InputError, match="fit one with `promptopt fit judge"):
        build_scorers(from_dict(data), realism=None)
    data["scorers"] = {"aligner": {"model": str(tmp_path / "none.safetensors")}}
    data["objectives"] = [{"name": "align", "terms": {"aligner_score": 1.0}}]
    with pytest.raises(InputError, match="fit one with `promptopt fit aligner"):
        build_scorers(from_dict(data), realism=None)
