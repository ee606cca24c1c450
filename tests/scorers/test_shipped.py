"""The scorers shipped for the GI-sim world load, and the shipped features are those of their reference sets."""

import numpy as np
import pytest

from promptopt.sim.reference import gi_sim_reference
from scorers.images import image_files, load_images
from scorers.realism import folder_hash, reference_features
from scorers.shipped import shipped_features, shipped_model

REFERENCE_SETS = [("polyp", 200), ("landmark", 200), ("instrument", 200), (None, 500)]


def test_shipped_classifier_and_aligner_load_on_inception_features(inception):
    from scorers.aligner import load_aligner
    from scorers.classifier import load_classifier

    classifier = load_classifier(shipped_model("classifier"))
    assert {"polyp", "instrument", "box_artefact", "z-line"} <= set(classifier.attributes)
    assert classifier.backbone == inception.name
    assert load_aligner(shipped_model("aligner")).backbone == inception.name


@pytest.mark.parametrize(("category", "n"), REFERENCE_SETS)
def test_shipped_features_are_the_reference_sets_features(category, n, inception, tmp_path):
    folder = gi_sim_reference(category, n, 64, tmp_path)
    files = image_files(folder)
    shipped = shipped_features(f"{inception.name}-{folder_hash(files, folder)}.npy")
    assert shipped is not None, "the GI-sim reference images changed: rebuild with bench/gi_sim_tiny_card.py --part features"
    stored = np.load(shipped)
    assert stored.shape == (n, 2048) and stored.dtype == np.float32
    fresh = inception(load_images(files[:3]))
    assert np.abs(stored[:3] - fresh).max() < 1e-3
    calls = []
    used = reference_features(folder, lambda ims: calls.append(ims), backbone=inception.name, cache_dir=tmp_path)
    assert not calls and used.dtype == np.float64 and np.array_equal(used, stored)  # no image is featurised when the shipped file fits
