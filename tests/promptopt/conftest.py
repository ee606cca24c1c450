import numpy as np
import pytest
from PIL import Image

from promptopt.study.config import from_dict


def write_reference(folder, n: int = 6, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 256, size=(4, 4, 3)).astype(np.uint8)
        Image.fromarray(small).resize((32, 32), Image.BILINEAR).save(folder / f"ref{i}.png")


def study_dict(reference: str, **study) -> dict:
    """A small study: tiny-random at 32×32, two images and two denoising steps per trial."""
    return {
        "study": {"name": "t", "category": "polyp", "n_trials": 3, "seed": 0, "images_per_trial": 2, **study},
        "generator": {"model": "tiny-random", "height": 32, "width": 32, "device": "cpu"},
        "mutator": {"seed_prompts": 4, "guidance_min": 2.0, "guidance_max": 4.0, "guidance_step": 1.0, "steps": [2]},
        "scorers": {"intent": {}, "realism": {"reference": reference, "subset_size": 10}},
        "objectives": [{"name": "quality", "terms": {"intent": 1.0, "kid": -1.0}}],
        "export": {"top_k": 2, "images_per_prompt": 2, "validation_images": 2},
    }


@pytest.fixture(scope="session")
def make_study_dict():
    return study_dict


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    write_reference(folder)
    return folder


@pytest.fixture
def small_cfg(reference):
    return from_dict(study_dict(str(reference)))


@pytest.fixture
def study_toml(tmp_path, reference):
    from promptopt.core.tomlio import dumps

    path = tmp_path / "study.toml"
    path.write_text(dumps(study_dict(str(reference))))
    return path


@pytest.fixture(scope="session")
def build():
    """Generator, scorers, mutator and realism assets for a config, from models loaded once per session."""
    from promptopt.scorers.inception import InceptionFeatures
    from promptopt.scorers.intent import IntentScorer, load_minilm
    from promptopt.scorers.realism import RealismScorer, reference_features
    from promptopt.search.mutator import build_mutator
    from promptopt.study.factory import RealismAssets, build_generator, reference_folder

    generator = build_generator(from_dict(study_dict("/unused")))
    minilm, inception = load_minilm(), InceptionFeatures()

    def _build(cfg):
        ref = reference_features(reference_folder(cfg), inception, backbone=inception.name, cache_dir=None)
        scorers = [
            IntentScorer(minilm, "an endoscopic image of a polyp"),
            RealismScorer(ref, inception, subset_size=10),
        ]
        return generator, scorers, build_mutator(cfg), RealismAssets(ref, inception)

    return _build


@pytest.fixture(scope="session")
def make_images_32():
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)).resize((32, 32)) for _ in range(3)]
