"""Test-wide settings (offline hub, a private cache dir for built models and cached features) and the tiny study
the search, report and bad-input tests run."""

import os
import tempfile

import numpy as np
import pytest
from PIL import Image

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("PROMPTOPT_CACHE", tempfile.mkdtemp(prefix="promptopt-test-cache-"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core machine: intra-op threads cost more than they give (for a module's tests,
    with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_judge_file(tmp_path_factory):
    """A judge of promptopt's schema, trained for one epoch on random 16×16 pixels (a real file, meaningless)."""
    import numpy as np

    from promptopt.judge.schema import OUTPUTS, SCHEMA
    from promptopt.scorers.judge import JudgeConfig
    from promptopt.scorers.judge_training import fit_judge

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(32, 16, 16, 3), dtype=np.uint8)
    y = (rng.random((32, len(OUTPUTS))) < 0.5).astype(np.float32)
    config = JudgeConfig(size=16, widths=(8, 16), dense=8, epochs=1, batch_size=16)
    path = tmp_path_factory.mktemp("judge") / "judge.safetensors"
    judge = fit_judge(pixels, y, np.ones(y.shape, bool), SCHEMA, config)
    judge.thresholds = np.full(len(OUTPUTS), 0.5)  # as `fit judge` stores them
    judge.save(path)
    return path


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
