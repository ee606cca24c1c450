"""The scorers shipped for the GI-sim world load, and the shipped features are those of their reference sets,
found by the sets' recipe on any machine: however the PNGs were encoded."""

import numpy as np
import pytest
from PIL import Image

from promptopt.core.image_identity import images_hash
from promptopt.core.images import image_files, load_images
from promptopt.scorers.assets import shipped_features, shipped_model
from promptopt.scorers.features_cache import cache_name
from promptopt.scorers.realism import reference_features
from promptopt.sim.reference import gi_sim_reference

REFERENCE_SETS = [("polyp", 200), ("landmark", 200), ("instrument", 200), (None, 500)]


def test_shipped_judge_and_aligner_load(inception):
    from promptopt.judge.schema import SCHEMA
    from promptopt.scorers.aligner import load_aligner
    from promptopt.scorers.judge import load_judge

    judge = load_judge(shipped_model("judge"), SCHEMA)
    assert judge.meta["autoencoder"]["model"] == "gi-sim-tiny" and judge.meta["data"]["complete_labels"]
    assert shipped_model("judge").stat().st_size < 10 * 2**20
    assert load_aligner(shipped_model("aligner")).backbone == inception.name


def _no_features(images):
    raise AssertionError("an image was featurised although the shipped features fit")


@pytest.mark.parametrize(("category", "n"), REFERENCE_SETS)
def test_shipped_features_are_the_reference_sets_features(category, n, inception, tmp_path):
    folder = gi_sim_reference(category, n, 64, tmp_path)
    files = image_files(folder)
    shipped = shipped_features(cache_name(inception.name, folder.name))
    assert shipped is not None, "the GI-sim recipe changed: rebuild with bench/gi_sim_tiny_card.py --part features"
    stored = np.load(shipped)
    assert stored.shape == (n, 2048) and stored.dtype == np.float32
    fresh = inception(load_images(files[:3]))
    assert np.abs(stored[:3] - fresh).max() < 1e-3
    used = reference_features(folder, _no_features, backbone=inception.name, cache_dir=tmp_path, identity=folder.name)
    assert used.dtype == np.float64 and np.array_equal(used, stored)


@pytest.mark.parametrize("level", [1, 9])
def test_re_encoded_reference_keeps_its_identity_and_the_shipped_features(level, inception, tmp_path):
    folder = gi_sim_reference("polyp", 200, 64, tmp_path / "cache")
    files = image_files(folder)
    before = [f.read_bytes() for f in files[:20]]
    pixels = images_hash(files)
    for path in files:
        with Image.open(path) as im:
            im.load()
            im.save(path, compress_level=level)
    assert [f.read_bytes() for f in files[:20]] != before  # other bytes ...
    assert images_hash(files) == pixels  # ... the same images
    used = reference_features(folder, _no_features, backbone=inception.name, cache_dir=tmp_path, identity=folder.name)
    assert used.shape == (200, 2048)
