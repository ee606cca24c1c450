"""Test-wide settings: offline hub, a private cache dir for built models and cached features."""

import os
import tempfile

import pytest

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
