"""Inception Score (IS) from class probabilities, and the class-probability sources it can use.

`inception_score` is torchmetrics' `InceptionScore.compute` on probabilities instead of logits (tested equal):
the rows, in the order given, are cut into `splits` consecutive chunks the way `torch.chunk` cuts them
(chunk size ceil(N / splits), so there may be fewer chunks than `splits`); each chunk scores
exp(mean_i KL(p(y|x_i) ‖ p̄(y))) with p̄ the chunk's mean distribution; the result is the mean and the
standard deviation (N − 1 denominator) of the chunk scores. torchmetrics shuffles the rows with the global
torch RNG first; here the caller shuffles (with a seeded generator) so that the score is reproducible.

Two sources of class probabilities:
- `LogitsNetwork`: a user-supplied TorchScript classifier (the standard IS needs ImageNet class logits, which
  the bundled FID network does not have). It receives what torchmetrics' feature modules receive: uint8
  NCHW images, here at 299×299 after the one resize path, and returns (N, C) logits; probabilities are
  their softmax, as in torchmetrics.
- `class_distribution`: the domain-classifier IS over a multi-label attribute classifier. Its per-attribute
  probabilities are independent (sigmoid) and need not sum to 1, so they are normalised per image,
  p(a | x) = q_a(x) / Σ_b q_b(x), i.e. "which of the attributes the classifier sees is this image about";
  rows that are already distributions (a softmax classifier) are unchanged. It is a different number from
  the ImageNet IS and is always reported under another name.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from promptopt.core.images import stack

IS_NETWORK_INPUT_SIZE = 299


def torch_chunks(n: int, splits: int) -> list[slice]:
    """The row ranges `torch.chunk(x, splits)` gives for n rows: chunks of ceil(n / splits) rows."""
    size = math.ceil(n / splits)
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS mean and standard deviation over `splits` consecutive chunks of `probs` (N, C), rows in given order.

    The standard deviation is NaN when the rows form a single chunk (as torchmetrics returns it).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"inception_score needs (N, C) class probabilities with C >= 2, got shape {p.shape}")
    if splits < 1 or len(p) < splits:
        raise ValueError(f"inception_score needs 1 <= splits <= N, got splits={splits} for N={len(p)}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(
            "inception_score needs rows of probabilities (non-negative, summing to 1); softmax logits first"
        )
    scores = []
    for rows in torch_chunks(len(p), splits):
        chunk = p[rows]
        marginal = chunk.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(chunk > 0, chunk * (np.log(chunk) - np.log(marginal)), 0.0)
        scores.append(math.exp(kl.sum(axis=1).mean()))
    values = np.array(scores)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def class_distribution(attribute_probs: np.ndarray) -> np.ndarray:
    """Per-image distribution over a multi-label classifier's attributes: q_a / Σ_b q_b (module docstring).

    An image where the classifier sees no attribute at all (Σ q = 0) gets the uniform distribution.
    """
    q = np.asarray(attribute_probs, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] < 2:
        raise ValueError(f"class_distribution needs (N, A) attribute probabilities with A >= 2, got {q.shape}")
    if (q < 0).any() or (q > 1).any():
        raise ValueError("attribute probabilities must lie in [0, 1]; pass the classifier's probabilities, not logits")
    totals = q.sum(axis=1, keepdims=True)
    uniform = np.full_like(q, 1.0 / q.shape[1])
    return np.where(totals > 0, q / np.where(totals > 0, totals, 1.0), uniform)


class LogitsNetwork:
    """A TorchScript classifier file: images → (N, C) softmax probabilities of its logits."""

    def __init__(self, path: Path, device: str = "cpu", batch_size: int = 32):
        import torch

        if not Path(path).is_file():
            raise FileNotFoundError(
                f"IS network {path} not found: pass a TorchScript file (torch.jit.save) that maps uint8 NCHW "
                f"{IS_NETWORK_INPUT_SIZE}x{IS_NETWORK_INPUT_SIZE} images to class logits"
            )
        try:
            with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export; it still loads
                warnings.simplefilter("ignore", FutureWarning)
                self.model: Any = torch.jit.load(str(path), map_location="cpu").eval().to(device)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(
                f"IS network {path} is not a TorchScript file ({first}); save it with torch.jit.save"
            ) from None
        self.name = Path(path).name
        self.device = device
        self.batch_size = batch_size

    def logits(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        out = []
        pixels = stack(images, IS_NETWORK_INPUT_SIZE)
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                batch = torch.from_numpy(pixels[start : start + self.batch_size]).permute(0, 3, 1, 2).to(self.device)
                logits = self.model(batch)
                if logits.ndim != 2:
                    raise ValueError(
                        f"IS network {self.name} returned shape {tuple(logits.shape)}; it must return (N, C) logits"
                    )
                out.append(logits.double().cpu().numpy())
        return np.concatenate(out)

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        return softmax(self.logits(images))
