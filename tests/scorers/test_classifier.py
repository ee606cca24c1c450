"""The attribute probe (TSTR's downstream classifier): metrics against sklearn, masking of unknown labels, save/load, and the done-when
check on a small GI-sim set with real InceptionV3 features (cached on disk for the whole test session)."""

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from promptopt.scorers.classifier import (
    NoTrainableAttributeError,
    ProbeConfig,
    attribute_metrics,
    binary_scores,
    fit_classifier,
    load_classifier,
)
from promptopt.scorers.fitting import auroc

GI_SIM_IMAGES = 200  # the same set in every test file, so its features are computed once per session
FAST = ProbeConfig(epochs=60)


@pytest.fixture(scope="module")
def gi_sim(inception):
    from promptopt.core.paths import cache_dir
    from promptopt.evaluate.probes import dataset_features, load_items
    from promptopt.sim.writer import gi_sim_dataset

    return dataset_features(load_items(gi_sim_dataset(GI_SIM_IMAGES, 64, 0, cache_dir())), inception)


@pytest.fixture(scope="module")
def fitted(gi_sim):
    from promptopt.evaluate.probes import fit_classifier_on

    return fit_classifier_on(gi_sim, holdout=0.25, config=FAST)


def test_auroc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.random(50) < 0.3
        labels[:2] = [True, False]
        scores = rng.integers(0, 5, 50) + labels * rng.random(50)  # many ties
        assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    with pytest.raises(ValueError, match="both classes"):
        auroc(np.ones(3), np.ones(3))


def test_binary_scores_equal_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(20):
        labels, predicted = rng.random(30) < 0.4, rng.random(30) < 0.3
        got = binary_scores(predicted, labels)
        assert got["recall"] == pytest.approx(recall_score(labels, predicted, zero_division=0))
        assert got["precision"] == pytest.approx(precision_score(labels, predicted, zero_division=0))
        assert got["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0))
    assert binary_scores(np.zeros(4, bool), np.zeros(4, bool)) == {"recall": 0.0, "precision": 0.0, "f1": 0.0}


def test_gi_sim_polyp_instrument_box_are_learnt(gi_sim, fitted):
    """Done-when on a small set: held-out AUROC > 0.9 for polyp, instrument and box artefact."""
    model, metrics = fitted
    for name in ("polyp", "instrument", "box_artefact"):
        assert metrics["attributes"][name]["auroc"] > 0.9, (name, metrics["attributes"][name])
    assert model.backbone == gi_sim.backbone and model.meta["n_held_out"] == 50


def test_held_out_auroc_is_sklearns_on_the_known_labels(gi_sim, fitted):
    from promptopt.datasets.labels import ATTRIBUTES
    from promptopt.evaluate.probes import split

    model, metrics = fitted
    y, known = gi_sim.targets()
    _, held_out = split(len(gi_sim.items), 0.25, FAST.seed)
    proba = model.predict_proba(gi_sim.features[held_out])
    for name, m in metrics["attributes"].items():
        rows = known[held_out, ATTRIBUTES.index(name)]
        truth = y[held_out, ATTRIBUTES.index(name)][rows]
        assert m["auroc"] == pytest.approx(roc_auc_score(truth, proba[rows, model.attributes.index(name)]), abs=1e-12)
        assert (m["n_present"], m["n_absent"]) == (int(truth.sum()), int(len(truth) - truth.sum()))
    assert all("one class" in why for why in metrics["skipped"].values())


def test_unknown_labels_are_masked_out(gi_sim):
    """Whatever sits under the mask changes neither the fit nor the metrics; treating unknown as absent would."""
    from promptopt.datasets.labels import ATTRIBUTES

    y, known = gi_sim.targets()
    assert (~known).any()
    scrambled = np.where(known, y, np.random.default_rng(0).integers(0, 2, y.shape)).astype(np.float32)
    x = gi_sim.features
    a = fit_classifier(x, y, known, ATTRIBUTES, backbone="b", config=FAST)
    b = fit_classifier(x, scrambled, known, ATTRIBUTES, backbone="b", config=FAST)
    assert a.attributes == b.attributes
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert attribute_metrics(a, x, y, known, ATTRIBUTES) == attribute_metrics(a, x, scrambled, known, ATTRIBUTES)
    unknown_as_absent = fit_classifier(x, y, np.ones_like(known), ATTRIBUTES, backbone="b", config=FAST)
    most_unknown = max(a.attributes, key=lambda name: (~known[:, ATTRIBUTES.index(name)]).sum())
    masked = a.predict_proba(x)[:, a.attributes.index(most_unknown)]
    unmasked = unknown_as_absent.predict_proba(x)[:, unknown_as_absent.attributes.index(most_unknown)]
    assert not np.allclose(masked, unmasked, atol=1e-3)


def test_attributes_without_both_classes_are_not_fitted():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, np.ones(40, bool)], axis=1).astype(np.float32)
    known = np.ones_like(y, dtype=bool)
    model = fit_classifier(x, y, known, ["a", "always"], backbone="b", config=FAST)
    assert model.attributes == ("a",)
    assert "40 known present and 0 known absent" in model.meta["not_fitted"]["always"]
    with pytest.raises(NoTrainableAttributeError, match="no attribute has both classes"):
        fit_classifier(x, y, np.zeros_like(known), ["a", "always"], backbone="b", config=FAST)


def test_training_is_deterministic_per_seed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 16)).astype(np.float32)
    y = (x[:, :2] > 0).astype(np.float32)
    known = np.ones_like(y, dtype=bool)
    mlp = [
        fit_classifier(x, y, known, ["a", "b"], backbone="b", config=ProbeConfig(epochs=20, hidden=8, seed=s))
        for s in (0, 0, 1)
    ]
    np.testing.assert_array_equal(mlp[0].predict_proba(x), mlp[1].predict_proba(x))
    assert not np.array_equal(mlp[0].predict_proba(x), mlp[2].predict_proba(x))


def test_save_load_round_trip(fitted, gi_sim, tmp_path):
    model, metrics = fitted
    model.save(tmp_path / "clf.safetensors")
    loaded = load_classifier(tmp_path / "clf.safetensors")
    assert loaded.attributes == model.attributes and loaded.backbone == model.backbone
    np.testing.assert_array_equal(loaded.predict_proba(gi_sim.features), model.predict_proba(gi_sim.features))
    assert loaded.meta["metrics"] == metrics and len(loaded.meta["data_hash"]) == 20
    assert loaded.meta["data"]["images"] == GI_SIM_IMAGES
    with pytest.raises(ValueError, match="expected \\(n, 2048\\)"):
        loaded.predict_proba(np.zeros((2, 5)))
    with pytest.raises(FileNotFoundError, match="fit a classifier first"):
        load_classifier(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="must end in .safetensors"):
        load_classifier(tmp_path / "clf.bin")


def test_probe_config_validation():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        ProbeConfig(epochs=0)
    with pytest.raises(ValueError, match="hidden must be 0"):
        ProbeConfig(hidden=-1)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        ProbeConfig(weight_decay=-1.0)


def test_features_are_cached_by_content_and_backbone(tmp_path, make_images):
    """A second pass reads the cache; a re-encoded copy (other names, other PNG bytes) hits it; a changed image or
    backbone misses it."""
    from promptopt.scorers.features_cache import image_features

    calls = []

    def mean_colour(images):
        calls.append(len(images))
        return np.stack([np.asarray(im, dtype=np.float64).mean(axis=(0, 1)) for im in images])

    paths = []
    for i, image in enumerate(make_images(0, 5, size=16)):
        image.save(tmp_path / f"a{i}.png")
        paths.append(tmp_path / f"a{i}.png")
    first = image_features(paths, mean_colour, backbone="rgb", cache_dir=tmp_path / "cache", chunk=2)
    assert calls == [2, 2, 1] and first.dtype == np.float32 and first.shape == (5, 3)
    copies = [tmp_path / f"b{i}.png" for i in range(5)]
    for src, dst in zip(paths, copies):
        with Image.open(src) as im:
            im.save(dst, compress_level=9, optimize=True)
        assert dst.read_bytes() != src.read_bytes()
    np.testing.assert_array_equal(
        image_features(copies, mean_colour, backbone="rgb", cache_dir=tmp_path / "cache"), first
    )
    assert calls == [2, 2, 1]
    image_features(paths, mean_colour, backbone="other", cache_dir=tmp_path / "cache")
    make_images(1, 1, size=16)[0].save(copies[0])
    changed = image_features(copies, mean_colour, backbone="rgb", cache_dir=tmp_path / "cache")
    assert calls == [2, 2, 1, 5, 5] and not np.array_equal(changed[0], first[0])
    np.testing.assert_array_equal(changed[1:], first[1:])
