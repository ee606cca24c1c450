import numpy as np
import pytest
from PIL import Image

from promptopt.study.config import from_dict


@pytest.fixture
def small_cfg(reference, make_study_dict):
    return from_dict(make_study_dict(str(reference)))


@pytest.fixture
def study_toml(tmp_path, reference, make_study_dict):
    from promptopt.core.tomlio import dumps

    path = tmp_path / "study.toml"
    path.write_text(dumps(make_study_dict(str(reference))))
    return path


@pytest.fixture(scope="session")
def build(make_study_dict):
    """Generator, scorers, mutator and realism assets for a config, from models loaded once per session."""
    from promptopt.scorers.inception import InceptionFeatures
    from promptopt.scorers.intent import IntentScorer, load_minilm
    from promptopt.scorers.realism import RealismScorer, reference_features
    from promptopt.search.mutator import build_mutator
    from promptopt.study.factory import RealismAssets, build_generator, reference_folder

    generator = build_generator(from_dict(make_study_dict("/unused")))
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
