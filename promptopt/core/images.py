"""The one resize path for every image metric: PIL bicubic with antialiasing, the same for real and generated."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from promptopt.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def to_array(image: Image.Image, size: int) -> np.ndarray:
    """RGB uint8 array of shape (size, size, 3); PIL's bicubic filter antialiases when it downsamples."""
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def stack(images: Iterable[Image.Image], size: int) -> np.ndarray:
    """Images as one uint8 NHWC array at `size`×`size`."""
    return np.stack([to_array(im, size) for im in images])


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder` or below it, sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class UnreadableImageError(InputError):
    """An image file that cannot be decoded (corrupt, truncated or not an image); the message names the file."""


def open_rgb(path: Path) -> Image.Image:
    """The image at `path`, decoded fully and converted to RGB (what every scorer sees), or UnreadableImageError."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise _unreadable(path, err) from None


def _unreadable(path: Path, err: Exception) -> UnreadableImageError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UnreadableImageError(f"image {path} cannot be read ({reason}): replace or remove it")


def check_readable(paths: Sequence[Path]) -> None:
    """Every file opens as an image (its header and, for PNG, its chunks' checksums: no pixels decoded), so that a
    damaged file is found before any model loads; UnreadableImageError names the first that does not."""
    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except (OSError, SyntaxError, ValueError) as err:
            raise _unreadable(path, err) from None


def load_images(paths: Sequence[Path]) -> list[Image.Image]:
    """Open images fully (so their files may close)."""
    return [open_rgb(path) for path in paths]
