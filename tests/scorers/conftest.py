import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def inception():
    from promptopt.scorers.inception import InceptionFeatures

    return InceptionFeatures()


def _make_images(seed: int, n: int, size: int = 64, tint: tuple[int, int, int] = (0, 0, 0)) -> list[Image.Image]:
    """Smooth random colour fields (not white noise), so features behave like those of real pictures."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, size=(4, 4, 3)).astype(np.int16) + np.array(tint, dtype=np.int16)
        out.append(Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize((size, size), Image.BILINEAR))
    return out


@pytest.fixture
def make_images():
    return _make_images
