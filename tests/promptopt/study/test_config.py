import dataclasses
from pathlib import Path

import pytest
import tomllib

from promptopt.core.errors import InputError
from promptopt.core.tomlio import dumps, to_dict
from promptopt.study.config import from_dict, load_study

STUDIES = Path(__file__).resolve().parents[3] / "studies"


@pytest.mark.parametrize("name", ["polyp", "landmark", "instrument"])
def test_shipped_studies_load(name):
    cfg = load_study(STUDIES / f"{name}.toml")
    assert cfg.study.category == name
    assert cfg.generator.model == "gi-sim-tiny" and cfg.scorers.judge.model == "gi-sim"
    assert [o.name for o in cfg.objectives] == ["quality"]


def test_round_trip_through_toml(make_study_dict):
    cfg = from_dict(make_study_dict("/ref"))
    data = to_dict(cfg)
    assert tomllib.loads(dumps(data)) == data
    assert from_dict(tomllib.loads(dumps(data))) == cfg


def test_relative_reference_is_taken_from_the_toml_folder(tmp_path, make_study_dict):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.toml"
    path.write_text(dumps(make_study_dict("../refs")))
    assert load_study(path).scorers.realism.reference == str(tmp_path / "refs")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["study"].update(colour="red"), "unknown key study.colour"),
        (lambda d: d.update(extra={}), "unknown key extra"),
        (lambda d: d["study"].update(category="tumour"), "unknown category 'tumour'"),
        (lambda d: d["study"].update(n_trials=0), "n_trials must be at least 1"),
        (lambda d: d["study"].update(n_trials="5"), "study.n_trials must be int"),
        (lambda d: d["generator"].update(dtype="float8"), "generator.dtype must be one of"),
        (lambda d: d["mutator"].update(guidance_step=0.7), "multiple of guidance_step"),
        (lambda d: d["objectives"][0]["terms"].update(fid=1.0), "uses fid, which no configured scorer provides"),
        (lambda d: d.pop("objectives"), "names no [[objectives]]"),
        (lambda d: d["study"].pop("name"), "missing a required key: name"),
    ],
)
def test_bad_config_is_a_one_line_input_error(make_study_dict, mutate, message):
    data = make_study_dict("/ref")
    mutate(data)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        from_dict(data)
    assert "\n" not in str(info.value)


def test_missing_and_invalid_toml_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_study(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_study(bad)


def test_override_replaces_given_flags_only(make_study_dict):
    cfg = from_dict(make_study_dict("/ref"))
    changed = cfg.with_study(n_trials=7, seed=None)
    assert changed.study.n_trials == 7 and changed.study.seed == cfg.study.seed
    with pytest.raises(InputError, match="n_trials must be at least 1"):
        cfg.with_study(n_trials=-1)


def test_eval_seeds_are_fixed_by_the_seed(make_study_dict):
    cfg = from_dict(make_study_dict("/ref"))
    assert cfg.study.eval_seeds == (0, 1)
    assert cfg.with_study(seed=1).study.eval_seeds == (1_000_003, 1_000_004)


def test_search_identity_ignores_trial_budget_and_export(make_study_dict):
    cfg = from_dict(make_study_dict("/ref"))
    assert cfg.with_study(n_trials=99).search_identity() == cfg.search_identity()
    assert cfg.with_export(top_k=9).search_identity() == cfg.search_identity()
    assert cfg.with_study(images_per_trial=3).search_identity() != cfg.search_identity()


def test_generator_adapters_and_sampler_round_trip_through_toml(make_study_dict):
    data = make_study_dict("/ref")
    data["generator"].update(
        scheduler="dpm++",
        attention_slicing=True,
        loras=[{"path": "a.safetensors", "weight": 0.5}, {"path": "adapters/b", "name": "style"}],
        fuse_lora=True,
    )
    cfg = from_dict(data)
    assert [(a.path, a.weight) for a in cfg.generator.loras] == [("a.safetensors", 0.5), ("adapters/b", 1.0)]
    assert cfg.generator.adapter_names == ("lora0", "style")
    assert from_dict(tomllib.loads(dumps(to_dict(cfg)))) == cfg


@pytest.mark.parametrize(
    ("generator", "message"),
    [
        ({"loras": [{"weight": 1.0}]}, "[generator.loras[0]] is missing a required key: path"),
        ({"loras": [{"path": "a", "colour": 1}]}, "unknown key generator.loras[0].colour"),
        ({"loras": [{"path": "a", "weight": "1"}]}, "generator.loras[0].weight must be float"),
        ({"scheduler": "karras"}, "unknown generator.scheduler 'karras': choose one of default, ddim"),
        ({"fuse_lora": True}, "fuse_lora needs at least one adapter"),
        ({"device": "cpu", "dtype": "float16"}, "float16 needs a GPU"),
    ],
)
def test_bad_generator_settings_are_one_line_input_errors(make_study_dict, generator, message):
    data = make_study_dict("/ref")
    data["generator"].update(generator)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        from_dict(data)
    assert "\n" not in str(info.value)


def test_search_identity_keeps_what_changes_images_only(make_study_dict):
    """Memory and speed options may change on resume; the newer generator keys appear only when set, so a study
    started before they existed still resumes."""
    cfg = from_dict(make_study_dict("/ref"))
    assert set(cfg.search_identity()["generator"]) == {"model", "height", "width", "safety_checker"}
    fast = dataclasses.replace(
        cfg, generator=dataclasses.replace(cfg.generator, attention_slicing=True, vae_tiling=True, batch_size=1)
    )
    assert fast.search_identity() == cfg.search_identity()
    other = dataclasses.replace(cfg, generator=dataclasses.replace(cfg.generator, scheduler="unipc"))
    assert other.search_identity()["generator"]["scheduler"] == "unipc"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"top_k": 0}, "export.top_k (--top-k) must be at least 1, got 0"),
        ({"images_per_prompt": -1}, "export.images_per_prompt (--images-per-prompt) must be 0 or more, got -1"),
        ({"validation_images": -2}, "export.validation_images (--validation-images) must be 0 or more, got -2"),
        ({"holdout_images": -3}, "export.holdout_images (--holdout-images) must be 0 or more, got -3"),
        ({"validation_images": 1}, "(--validation-images) must be 0 (no validation) or at least 2"),
    ],
)
def test_each_export_budget_error_names_its_value(small_cfg, change, message):
    with pytest.raises(InputError) as err:
        small_cfg.with_export(**change)
    assert message in str(err.value)
