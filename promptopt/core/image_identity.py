"""What an image set is, whatever encoder wrote its files: a hash of the decoded pixels.

The bytes of a PNG or JPEG depend on the encoder build (zlib's output changed between Pillow 11 and 12), so a hash
of file bytes names the same images differently on two machines. The identity here hashes each image as every
scorer sees it (`promptopt.core.images.load_images`: decoded, converted to RGB): its size and its pixel bytes. Two files
that decode to the same RGB pixels are the same image; file names do not count, order does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from promptopt.core.images import open_rgb


def pixel_digest(path: Path) -> bytes:
    """sha256 of the decoded RGB image: width, height and pixel bytes."""
    rgb = open_rgb(path)
    digest = hashlib.sha256(f"RGB:{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.digest()


def images_hash(paths: Sequence[Path]) -> str:
    """24 hex digits naming the images in order (each image's pixel digest, so image boundaries count)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(pixel_digest(Path(path)))
    return digest.hexdigest()[:24]
