"""gi-sim-tiny, the shipped default model: loads offline from the package without a copy of its text encoder,
renders deterministically at the default size, and answers a prompt (its card has the full measurements)."""

import numpy as np
import pytest

from promptopt.generators.base import DEFAULT_MODEL, GeneratorConfig
from promptopt.generators.bundled_text import MARKER
from promptopt.generators.shipped import GI_SIM_TINY, gi_sim_tiny_dir

MAX_BYTES = 20 * 2**20


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    from promptopt.generators.diffusers_generator import load_generator

    return load_generator(GeneratorConfig(device="cpu"), cache_dir=tmp_path_factory.mktemp("cache"))


def test_the_default_model_is_the_shipped_folder_without_a_text_encoder_copy():
    folder = gi_sim_tiny_dir()
    assert DEFAULT_MODEL == GI_SIM_TINY and (folder / MARKER).is_file()
    assert not (folder / "text_encoder").exists() and not (folder / "tokenizer").exists()
    weights = sum(p.stat().st_size for p in folder.rglob("*.safetensors"))
    assert weights <= MAX_BYTES, f"{weights / 2**20:.1f} MB of weights"


def test_renders_deterministically_at_the_default_size(generator):
    assert type(generator.pipe).__name__ == "StableDiffusionPipeline"
    assert type(generator.pipe.text_encoder).__name__ == "BertModel"
    prompts = ["Generate an image containing a polyp."] * 2
    first = generator.render(prompts, [0, 1], guidance_scale=7.5, steps=4)
    again = generator.render(prompts, [0, 1], guidance_scale=7.5, steps=4)
    assert [im.size for im in first] == [(64, 64)] * 2
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again))
    assert not np.array_equal(np.asarray(first[0]), np.asarray(first[1]))


@pytest.mark.parametrize(
    "attribute, positive, negative",
    [
        ("polyp", "Generate an image containing a polyp.", "Generate an image with no polyps."),
        (
            "box_artefact",
            "Generate an image containing a green/black box artefact.",
            "Generate an image not containing a green/black box artefact.",
        ),
    ],
)
def test_a_prompt_gives_its_attribute_more_often_than_its_negation(generator, attribute, positive, negative):
    from promptopt.judge.schema import COLUMN
    from promptopt.judge.scorer import open_judge

    judge = open_judge("gi-sim", "the shipped judge")
    seeds = list(range(8))
    rates = {}
    for prompt in (positive, negative):
        images = generator.render([prompt] * 8, seeds, guidance_scale=7.5, steps=10)
        rates[prompt] = float((judge.predict(images)[:, COLUMN[attribute]] >= 0.5).mean())
    assert rates[positive] >= rates[negative] + 0.375, rates


@pytest.mark.parametrize(
    "name, base",
    [
        ("vae.toml", None),
        ("train.toml", None),
        ("train-continue.toml", "stage-1"),
        ("train-single.toml", "stage-2"),
        ("train-box.toml", "stage-3"),
    ],
)
def test_the_training_configs_in_the_folder_are_valid_train_configs(name, base):
    """The card's commands: each config, with the --base its command passes, builds a TrainConfig on GI-sim."""
    from promptopt.train.setup import build_run_config

    run = build_run_config(gi_sim_tiny_dir() / name, None, {"base": base})
    assert run.data.path == "gi-sim" and run.data.gi_sim_images == 3000
    assert run.train.method == ("vae" if name == "vae.toml" else "full")
