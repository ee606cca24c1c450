import numpy as np
import pytest

from promptopt.core.errors import InputError
from promptopt.core.image_identity import images_hash
from promptopt.scorers.intent import IntentScorer, cosine_to, load_minilm
from promptopt.scorers.realism import RealismScorer, reference_features, set_realism


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_intent_prefers_on_topic_prompts(minilm):
    scorer = IntentScorer(minilm, "an endoscopic image showing a polyp in the colon")
    on = scorer.score([None, None], ["Generate an image containing a colorectal polyp."] * 2)["intent"]
    off = scorer.score([None], ["Generate an image containing text."])["intent"]
    assert on > off + 0.2
    assert scorer.metrics == {"intent": True}


def test_intent_is_the_cosine_of_normalised_embeddings(minilm):
    emb = minilm.encode(["target", "text"], convert_to_numpy=True)
    expected = float(emb[0] @ emb[1] / np.linalg.norm(emb[0]) / np.linalg.norm(emb[1]))
    assert cosine_to(minilm, ["text"], "target")[0] == pytest.approx(expected, abs=1e-5)


def test_reference_features_are_cached_by_content(tmp_path, make_images):
    folder = tmp_path / "ref"
    folder.mkdir()
    for i, image in enumerate(make_images(0, 4)):
        image.save(folder / f"{i}.png")
    calls = []

    def features(images):
        calls.append(len(images))
        return np.array([np.asarray(im, dtype=float).mean(axis=(0, 1)) for im in images])

    cache = tmp_path / "cache"
    first = reference_features(folder, features, backbone="mean-rgb", cache_dir=cache)
    second = reference_features(folder, features, backbone="mean-rgb", cache_dir=cache)
    assert calls == [4] and (first == second).all()
    key = images_hash(sorted(folder.glob("*.png")))
    make_images(9, 1)[0].save(folder / "0.png")
    assert images_hash(sorted(folder.glob("*.png"))) != key
    reference_features(folder, features, backbone="mean-rgb", cache_dir=cache)
    assert calls == [4, 4]


def test_reference_needs_two_images(tmp_path):
    with pytest.raises(InputError, match="holds 0 images"):
        reference_features(tmp_path, lambda ims: np.zeros((len(ims), 2)), backbone="x", cache_dir=None)


def test_realism_scorer_ranks_the_closer_batch_better(inception, make_images):
    reference = inception(make_images(0, 12))
    scorer = RealismScorer(reference, inception, subset_size=8)
    near = scorer.score(make_images(1, 4), ["p"] * 4)["kid"]
    far = scorer.score(make_images(2, 4, tint=(120, -80, -80)), ["p"] * 4)["kid"]
    assert near < far
    assert scorer.metrics == {"kid": False}


def test_set_realism_reports_sample_sizes(inception, make_images):
    out = set_realism(inception(make_images(0, 5)), inception(make_images(1, 4)))
    assert out["n_real"] == 5 and out["n_fake"] == 4 and out["fid"] > 0
