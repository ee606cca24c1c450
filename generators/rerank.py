"""Rerank sampling: render N candidates per (prompt, seed), keep the ones a scorer aligns best with the prompt.

The scorer is a plain callable `score_fn(images, prompt) -> np.ndarray` (one alignment score per image,
higher is better), so this module does not care whether it is CLIP similarity (`clip_similarity` below),
an offline aligner, or anything else the caller wires in.

Candidate seeds are a pure function of (seed, j), `candidate_seed`, so a pick can be re-rendered from its
recorded seed alone with the wrapped generator, and candidate 0 is the seed itself: reranking never scores
worse than the plain generator on the same seed, and N = 1 reproduces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from promptopt.generators.base import Generator
    from promptopt.scorers.clip import ClipModel

ScoreFn = Callable[[Sequence["Image.Image"], str], np.ndarray]

SEED_BITS = 63  # derived seeds fit a signed 64-bit integer (torch, SQLite, JSON readers)


def candidate_seed(seed: int, j: int) -> int:
    """The seed of candidate `j` for base seed `seed`.

    Candidate 0 is `seed` itself; candidate j >= 1 is the first 8 bytes of
    sha256(f"promptopt-rerank:{seed}:{j}") read big-endian and shifted right by one bit (63 bits).
    Hashing, rather than `seed * N + j`, keeps the seeds independent of N and of each other's base seed.
    """
    if j < 0:
        raise ValueError(f"candidate index j must be >= 0, got {j}")
    if j == 0:
        return int(seed)
    digest = hashlib.sha256(f"promptopt-rerank:{int(seed)}:{j}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def keep_best(scores: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """Indices of the k highest scores, best first; equal scores keep their index order (lower index first)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"scores must be a non-empty 1-d sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"scores must be finite, got {values.tolist()}; check the score function")
    if not 1 <= k <= values.size:
        raise ValueError(f"k must be between 1 and the number of scores ({values.size}), got {k}")
    return [int(i) for i in np.argsort(-values, kind="stable")[:k]]


@dataclass(frozen=True)
class Pick:
    """One kept candidate: `seed` re-renders `image` with the wrapped generator; `candidate` is j."""

    image: Image.Image
    seed: int
    candidate: int
    score: float


class RerankGenerator:
    """Best-of-N sampling around any Generator.

    `render` returns one image per (prompt, seed), the best of `candidates` (the Generator protocol);
    `render_kept` returns the `keep` best of `candidates` per (prompt, seed) with their seeds and scores.
    """

    def __init__(
        self,
        base: Generator,
        score_fn: ScoreFn,
        *,
        scorer_name: str,
        candidates: int = 4,
        keep: int = 1,
    ):
        if candidates < 1:
            raise ValueError(f"rerank candidates must be at least 1, got {candidates}")
        if not 1 <= keep <= candidates:
            raise ValueError(f"rerank keep must be between 1 and candidates ({candidates}), got {keep}")
        if not scorer_name:
            raise ValueError("rerank scorer_name must name the score function (it is recorded in identity)")
        self.base = base
        self.device = base.device
        self.score_fn = score_fn
        self.candidates = candidates
        self.keep = keep
        self.identity = {
            **base.identity,
            "sampling": "rerank",
            "rerank_candidates": str(candidates),
            "rerank_keep": str(keep),
            "rerank_scorer": scorer_name,
        }

    def render_kept(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        negative_prompt: str | None = None,
        guidance_scale: float,
        steps: int,
    ) -> list[list[Pick]]:
        """For each (prompt, seed): the `keep` best candidates, best first."""
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds; pass one seed per prompt")
        n = self.candidates
        all_seeds = [candidate_seed(s, j) for s in seeds for j in range(n)]
        all_prompts = [p for p in prompts for _ in range(n)]
        images = self.base.render(
            all_prompts, all_seeds, negative_prompt=negative_prompt, guidance_scale=guidance_scale, steps=steps
        )
        kept = []
        for i, prompt in enumerate(prompts):
            group = images[i * n : (i + 1) * n]
            scores = np.asarray(self.score_fn(group, prompt), dtype=np.float64)
            if scores.shape != (n,):
                raise ValueError(f"score_fn returned shape {scores.shape} for {n} images; return one score per image")
            kept.append(
                [Pick(group[j], all_seeds[i * n + j], j, float(scores[j])) for j in keep_best(scores, self.keep)]
            )
        return kept

    def render(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        negative_prompt: str | None = None,
        guidance_scale: float,
        steps: int,
    ) -> list[Image.Image]:
        """One image per (prompt, seed): the best-scoring of its candidates."""
        kept = self.render_kept(
            prompts, seeds, negative_prompt=negative_prompt, guidance_scale=guidance_scale, steps=steps
        )
        return [picks[0].image for picks in kept]


def clip_similarity(clip: ClipModel) -> ScoreFn:
    """A score function: cosine similarity between each image and the prompt under `clip`.

    Raw cosine, not the clamped CLIP score, so candidates that are all anti-aligned still rank.
    """
    from promptopt.scorers.clip import encode_images, encode_texts

    def score(images: Sequence[Image.Image], prompt: str) -> np.ndarray:
        image_embeds = encode_images(clip, images).astype(np.float64)
        text_embed = encode_texts(clip, [prompt])[0].astype(np.float64)
        image_embeds /= np.linalg.norm(image_embeds, axis=1, keepdims=True)
        return image_embeds @ (text_embed / np.linalg.norm(text_embed))

    return score
