"""Captioned training images and deterministic batches.

The batch of micro-step s is a pure function of (seed, s): which images (an epoch-wise permutation seeded by
(seed, epoch)), its caption (seeded by (seed, sample)), whether it is flipped. Captions: `random` picks one of
the image's prompts, `first` the first, `combine` joins 1 to `caption_max_prompts` distinct prompts in random
order (captions that name several attributes at once); with probability `caption_dropout` the caption is ""
(the unconditional prompt classifier-free guidance needs). Resuming at step s
therefore sees exactly the batches an uninterrupted run would. Pixels go through one path: PIL bicubic
resize of the shorter side to the resolution, centre crop, [-1, 1]. Horizontal flips are off by default
because prompts name positions ("upper-left").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CAPTION_STREAM, FLIP_STREAM, PERMUTATION_STREAM, DROPOUT_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class TrainExample:
    """One training image with its captions; `category` names its DreamBooth instance token."""

    image: Path
    prompts: tuple[str, ...]
    category: str = ""


@dataclass(frozen=True)
class BatchPlan:
    indices: tuple[int, ...]
    captions: tuple[str, ...]
    flips: tuple[bool, ...]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (NumPy's SeedSequence mixing), for a torch or NumPy generator."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def load_pixels(path: Path, resolution: int, flip: bool = False) -> Any:
    """(3, R, R) float tensor in [-1, 1]: shorter side resized to R (PIL bicubic), centre crop, optional flip."""
    import torch

    with Image.open(path) as opened:
        image = opened.convert("RGB")
    scale = resolution / min(image.size)
    size = (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    image = image.crop((left, top, left + resolution, top + resolution))
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


class CaptionDataset:
    """Training examples and the batch plan of every micro-step."""

    def __init__(
        self,
        examples: Sequence[TrainExample],
        *,
        resolution: int,
        seed: int,
        caption: str = "random",
        caption_max_prompts: int = 3,
        caption_dropout: float = 0.0,
        random_flip: bool = False,
    ):
        if not examples:
            raise ValueError("the training set is empty: give a dataset with at least one image")
        for example in examples:
            if not example.prompts:
                raise ValueError(f"training image {example.image} has no caption: give each image a prompt")
        self.examples = tuple(examples)
        self.resolution = resolution
        self.seed = seed
        self.caption = caption
        self.caption_max_prompts = caption_max_prompts
        self.caption_dropout = caption_dropout
        self.random_flip = random_flip
        self._permutations: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:
            self._permutations = {
                epoch: np.random.default_rng(derive_seed(self.seed, PERMUTATION_STREAM, epoch)).permutation(len(self))
            }
        return self._permutations[epoch]

    def plan(self, micro_step: int, batch_size: int) -> BatchPlan:
        """The images, captions and flips of micro-step `micro_step`; sample k overall is micro_step·B + j."""
        indices, captions, flips = [], [], []
        for sample in range(micro_step * batch_size, (micro_step + 1) * batch_size):
            epoch, position = divmod(sample, len(self))
            index = int(self._permutation(epoch)[position])
            flip = self.random_flip and bool(
                np.random.default_rng(derive_seed(self.seed, FLIP_STREAM, sample)).random() < 0.5
            )
            indices.append(index)
            captions.append(self._caption(index, sample))
            flips.append(flip)
        return BatchPlan(tuple(indices), tuple(captions), tuple(flips))

    def _caption(self, index: int, sample: int) -> str:
        if self.caption_dropout and (
            np.random.default_rng(derive_seed(self.seed, DROPOUT_STREAM, sample)).random() < self.caption_dropout
        ):
            return ""
        prompts = self.examples[index].prompts
        if self.caption == "first" or len(prompts) == 1:
            return prompts[0]
        rng = np.random.default_rng(derive_seed(self.seed, CAPTION_STREAM, sample))
        if self.caption == "random":
            return prompts[int(rng.integers(len(prompts)))]
        count = int(rng.integers(1, min(self.caption_max_prompts, len(prompts)) + 1))
        return " ".join(prompts[int(i)] for i in rng.permutation(len(prompts))[:count])

    def pixels(self, index: int, flip: bool) -> Any:
        return load_pixels(self.examples[index].image, self.resolution, flip)
