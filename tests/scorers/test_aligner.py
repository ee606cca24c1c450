"""The LiT-style aligner: retrieval protocol and chance, multi-positive training, save/load, the scorer, and
retrieval far above chance on a small GI-sim set (real Inception features and MiniLM embeddings)."""

import itertools

import numpy as np
import pytest

from promptopt.scorers.aligner import (
    AlignerFitConfig,
    AlignerScorer,
    chance_hit,
    encode_texts,
    fit_aligner,
    hits_at_k,
    load_aligner,
    retrieval,
)

GI_SIM_IMAGES = 200  # the same set in every test file, so its features are computed once per session
FAST = AlignerFitConfig(epochs=60)


@pytest.fixture(scope="module")
def minilm():
    from promptopt.scorers.intent import load_minilm

    return load_minilm()


@pytest.fixture(scope="module")
def gi_sim(inception):
    from promptopt.core.paths import cache_dir
    from promptopt.evaluate.probes import dataset_features, load_items
    from promptopt.sim.writer import gi_sim_dataset

    return dataset_features(load_items(gi_sim_dataset(GI_SIM_IMAGES, 64, 0, cache_dir())), inception)


@pytest.fixture(scope="module")
def fitted(gi_sim, minilm):
    from promptopt.evaluate.probes import fit_aligner_on

    return fit_aligner_on(gi_sim, minilm, holdout=0.25, config=FAST)


def test_chance_is_the_hit_rate_of_every_random_ranking():
    for n, right, k in [(6, 1, 1), (6, 2, 3), (7, 3, 2), (5, 5, 1), (4, 1, 9)]:
        rankings = list(itertools.permutations(range(n)))
        hits = sum(any(c < right for c in ranking[:k]) for ranking in rankings)
        assert chance_hit(n, right, k) == pytest.approx(hits / len(rankings))


def test_hits_and_retrieval_on_a_known_example():
    positives = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    similarity = np.array([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]])
    assert hits_at_k(similarity, positives, 1).tolist() == [False, False]
    assert hits_at_k(similarity, positives, 2).tolist() == [True, True]
    out = retrieval(similarity, positives, ks=(1, 2), text_prior=np.array([0, 5, 1]))
    assert out["image_to_text_r1"] == 0.0 and out["image_to_text_r2"] == 1.0
    assert out["image_to_text_r1_chance"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert out["image_to_text_r1_prior"] == 0.5  # the prior ranks prompt 1 first for every image
    # text→image: prompt 0 ranks image 1 first (miss); prompts 1 and 2 rank image 0 / image 1 first
    assert out["text_to_image_r1"] == pytest.approx(1 / 3)
    assert out["text_to_image_r1_chance"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one positive"):
        retrieval(similarity, np.zeros((2, 3), bool))


def test_every_image_ranks_its_own_prompts_first_shared_ones_included():
    """Multi-positive loss: a prompt all images have is a positive for each, so no image pushes it below a
    prompt it lacks (a one-positive-per-image InfoNCE would treat it as a negative half the time)."""
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], 20)
    images = (rng.normal(size=(40, 16)) + 3 * group[:, None] * np.eye(16)[0]).astype(np.float32)
    texts = rng.normal(size=(3, 8)).astype(np.float32)
    positives = np.stack([np.ones(40, bool), group == 0, group == 1], axis=1)
    model = fit_aligner(images, texts, positives, backbone="b", config=AlignerFitConfig(dim=8, epochs=100, lr=1e-2))
    sim = model.embed_images(images) @ model.embed_texts(texts).T
    lacking = np.where(group == 0, 2, 1)
    lacked = sim[np.arange(40), lacking]
    assert (sim[:, 0] > lacked).all()
    assert (sim[np.arange(40), 1 + group] > lacked).all()


def test_gi_sim_retrieval_is_far_above_chance(fitted):
    _, m = fitted
    assert m["n_images"] == 50 and m["n_texts"] > 30
    for k in (1, 5):
        assert m[f"image_to_text_r{k}"] > m[f"image_to_text_r{k}_chance"] + 0.3, m
    # generic prompts make the text-frequency prior strong at image→text (its R@5 is 1.0 here); R@1 beats it
    assert m["image_to_text_r1"] > m["image_to_text_r1_prior"], m
    assert m["text_to_image_r5"] > m["text_to_image_r5_chance"] + 0.15, m
    assert m["text_to_image_auroc"] > 0.7, m
    assert m["pair_cosine"] > m["other_cosine"] + 0.1, m


def test_save_load_round_trip_and_determinism(fitted, gi_sim, minilm, tmp_path):
    from promptopt.evaluate.probes import fit_aligner_on

    model, metrics = fitted
    model.save(tmp_path / "al.safetensors")
    loaded = load_aligner(tmp_path / "al.json")
    assert (loaded.backbone, loaded.text_encoder) == (gi_sim.backbone, "all-MiniLM-L6-v2")
    np.testing.assert_array_equal(loaded.embed_images(gi_sim.features), model.embed_images(gi_sim.features))
    texts = np.random.default_rng(0).normal(size=(3, 384))
    np.testing.assert_array_equal(loaded.embed_texts(texts), model.embed_texts(texts))
    assert loaded.meta["metrics"] == metrics and 0.01 <= loaded.meta["temperature"] <= 1.0
    again, _ = fit_aligner_on(gi_sim, minilm, holdout=0.25, config=AlignerFitConfig(epochs=3))
    twice, _ = fit_aligner_on(gi_sim, minilm, holdout=0.25, config=AlignerFitConfig(epochs=3))
    np.testing.assert_array_equal(again.embed_images(gi_sim.features), twice.embed_images(gi_sim.features))
    from promptopt.scorers.classifier import load_classifier

    with pytest.raises(ValueError, match="holds a 'aligner', not a 'classifier'"):
        load_classifier(tmp_path / "al.safetensors")


class CachedFeatures:
    """The session's real Inception features of the GI-sim images, looked up by file name instead of a second
    forward pass (the classifier's scorer test runs the network itself)."""

    def __init__(self, fs):
        self.name = fs.backbone
        self.features = fs.features
        self.rows = {str(item.image): i for i, item in enumerate(fs.items)}

    def __call__(self, images):
        return self.features[[self.rows[image.filename] for image in images]]


def test_scorer_prefers_an_images_own_prompts(fitted, gi_sim, minilm):
    from PIL import Image

    model, _ = fitted
    polyp_prompt, empty_prompt = "Generate an image containing a polyp.", "Generate an image with no polyps."
    images = [Image.open(it.image) for it in gi_sim.items if polyp_prompt in it.prompts][:8]
    scorer = AlignerScorer(model, CachedFeatures(gi_sim), minilm)
    assert scorer.name == "aligner" and scorer.metrics == {"aligner_score": True}
    own = scorer.score(images, [polyp_prompt] * 8)["aligner_score"]
    wrong = scorer.score(images, [empty_prompt] * 8)["aligner_score"]
    assert own > wrong + 0.2
    pairs = model.embed_images(gi_sim.features[[scorer.features.rows[im.filename] for im in images]])
    text = model.embed_texts(encode_texts(minilm, [polyp_prompt]))
    assert own == pytest.approx(float((pairs @ text.T).mean()), abs=1e-9)
    with pytest.raises(ValueError, match="one prompt per image"):
        scorer.score(images, [polyp_prompt])
    with pytest.raises(ValueError, match="fitted on 'inception"):
        AlignerScorer(model, type("Other", (), {"name": "dinov2-x"})(), minilm)


def test_config_validation():
    with pytest.raises(ValueError, match="dim must be at least 1"):
        AlignerFitConfig(dim=0)
    with pytest.raises(ValueError, match="temperature must be between"):
        AlignerFitConfig(temperature=2.0)
