import numpy as np
import pytest
from PIL import Image

from promptopt.sim import SimConfig, simulate
from promptopt.sim.reference import REFERENCE_SEED, gi_sim_reference, shows


@pytest.mark.parametrize("category", ["polyp", "landmark", "instrument"])
def test_reference_holds_the_first_images_that_show_the_category(tmp_path, category):
    folder = gi_sim_reference(category, 3, 32, tmp_path)
    files = sorted(folder.glob("*.png"))
    assert len(files) == 3
    expected = []
    index = 0
    while len(expected) < 3:
        image, labels = simulate(REFERENCE_SEED, index, 32, SimConfig())
        if shows(labels, category):
            expected.append(np.asarray(image))
        index += 1
    for path, pixels in zip(files, expected):
        assert (np.asarray(Image.open(path).convert("RGB")) == pixels).all()
    assert gi_sim_reference(category, 3, 32, tmp_path) == folder


def test_reference_sets_differ_by_category_and_size(tmp_path):
    paths = {gi_sim_reference(c, 2, s, tmp_path) for c in ("polyp", "landmark") for s in (32, 64)}
    assert len(paths) == 4
