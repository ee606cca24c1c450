"""Rerank sampling around the tiny diffusers generator, scored by a tiny open_clip model's similarity."""

import hashlib

import numpy as np
import pytest

from promptopt.generators.rerank import RerankGenerator, candidate_seed, clip_similarity, keep_best

PROMPTS = ["a colonoscopy image of a polyp", "an endoscopic view of the pylorus"]
SEEDS = [11, 12]
RENDER = {"guidance_scale": 3.0, "steps": 2}


@pytest.fixture(scope="module")
def base(make_tiny_generator):
    # batch size 1: every candidate is rendered alone, exactly as the brute-force reference renders it
    return make_tiny_generator(batch_size=1)


def _px(image):
    return np.asarray(image, dtype=np.int16)


def _reference_similarity(clip, image, prompt):
    """CLIP cosine similarity computed independently of clip_similarity, with torch ops."""
    import torch

    from promptopt.scorers.clip import encode_images, encode_texts

    img = torch.from_numpy(encode_images(clip, [image])).double()
    txt = torch.from_numpy(encode_texts(clip, [prompt])).double()
    return torch.nn.functional.cosine_similarity(img, txt).item()


def test_keep_best_matches_brute_force_sort_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.integers(0, 4, size=rng.integers(1, 12)).astype(float)  # many ties
        expected = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        for k in range(1, len(scores) + 1):
            assert keep_best(scores, k) == expected[:k]
    assert keep_best([0.1, 0.5, 0.5, -2.0], 3) == [1, 2, 0]


@pytest.mark.parametrize(
    ("scores", "k", "match"),
    [
        ([0.1, 0.2], 0, "k must be between 1"),
        ([0.1, 0.2], 3, "k must be between 1"),
        ([], 1, "non-empty"),
        ([0.1, float("nan")], 1, "finite"),
    ],
)
def test_keep_best_rejects_bad_input(scores, k, match):
    with pytest.raises(ValueError, match=match):
        keep_best(scores, k)


def test_candidate_seeds_are_the_documented_pure_function():
    assert candidate_seed(42, 0) == 42  # candidate 0 is the plain generator's own image
    digest = hashlib.sha256(b"promptopt-rerank:42:3").digest()
    assert candidate_seed(42, 3) == int.from_bytes(digest[:8], "big") >> 1
    seeds = {candidate_seed(s, j) for s in range(20) for j in range(1, 20)}
    assert len(seeds) == 20 * 19 and all(0 <= s < 2**63 for s in seeds)
    assert not seeds & set(range(20))
    with pytest.raises(ValueError, match="j must be >= 0"):
        candidate_seed(1, -1)


def test_rerank_keeps_exactly_the_k_best_by_clip(base, tiny_clip):
    n, k = 5, 2
    rerank = RerankGenerator(base, clip_similarity(tiny_clip), scorer_name="clip:tiny", candidates=n, keep=k)
    kept = rerank.render_kept(PROMPTS, SEEDS, **RENDER)

    assert len(kept) == len(PROMPTS)
    for prompt, seed, picks in zip(PROMPTS, SEEDS, kept):
        # brute force: render every candidate alone, score it independently, argsort
        seeds = [candidate_seed(seed, j) for j in range(n)]
        images = [base.render([prompt], [s], **RENDER)[0] for s in seeds]
        scores = np.array([_reference_similarity(tiny_clip, im, prompt) for im in images])
        order = np.argsort(-scores, kind="stable")[:k]
        assert np.diff(np.sort(scores)).min() > 1e-4  # distinct scores, so the ranking is unambiguous

        assert [p.candidate for p in picks] == order.tolist()
        assert [p.seed for p in picks] == [seeds[j] for j in order]
        np.testing.assert_allclose([p.score for p in picks], scores[order], atol=1e-5)
        for pick, j in zip(picks, order):
            assert (_px(pick.image) == _px(images[j])).all()  # a pick re-renders from its recorded seed
        assert picks[0].score >= scores[0]  # never worse than the plain generator on the same seed

    # render(): one image per (prompt, seed), the best pick; deterministic across calls
    best = rerank.render(PROMPTS, SEEDS, **RENDER)
    assert len(best) == len(PROMPTS)
    for image, picks in zip(best, kept):
        assert (_px(image) == _px(picks[0].image)).all()


def test_identity_records_candidates_keep_and_scorer(base, tiny_clip):
    rerank = RerankGenerator(base, clip_similarity(tiny_clip), scorer_name="clip:tiny", candidates=3, keep=2)
    assert rerank.identity == {
        **base.identity,
        "sampling": "rerank",
        "rerank_candidates": "3",
        "rerank_keep": "2",
        "rerank_scorer": "clip:tiny",
    }


def test_bad_configuration_and_score_function_are_refused(base):
    with pytest.raises(ValueError, match="keep must be between 1 and candidates"):
        RerankGenerator(base, lambda images, prompt: np.zeros(len(images)), scorer_name="x", candidates=2, keep=3)
    with pytest.raises(ValueError, match="candidates must be at least 1"):
        RerankGenerator(base, lambda images, prompt: np.zeros(len(images)), scorer_name="x", candidates=0)
    one_score = RerankGenerator(base, lambda images, prompt: np.zeros(1), scorer_name="x", candidates=2)
    with pytest.raises(ValueError, match="one score per image"):
        one_score.render(PROMPTS[:1], SEEDS[:1], **RENDER)
    with pytest.raises(ValueError, match="one seed per prompt"):
        one_score.render(PROMPTS, SEEDS[:1], **RENDER)
