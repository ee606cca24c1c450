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

