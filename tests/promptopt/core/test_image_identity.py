"""An image set's identity is its decoded pixels: encoders, names and folders do not count; pixels and order do."""

import numpy as np
from PIL import Image

from promptopt.core.image_identity import images_hash


def make_images(seed: int, n: int, size: int = 64) -> list[Image.Image]:
    """Smooth random colour fields, as real pictures are smooth (fine detail is where encoders differ)."""
    rng = np.random.default_rng(seed)
    small = [rng.integers(0, 256, size=(4, 4, 3)).astype(np.uint8) for _ in range(n)]
    return [Image.fromarray(s).resize((size, size), Image.BILINEAR) for s in small]


def _save(images, folder, fmt="png", **kwargs):
    folder.mkdir(parents=True)
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i}.{fmt}")
        image.save(paths[-1], **kwargs)
    return paths


def test_the_same_pixels_in_other_encodings_and_names_are_the_same_set(tmp_path):
    images = make_images(0, 3)
    fast = _save(images, tmp_path / "a", compress_level=1)
    small = _save(images, tmp_path / "b", compress_level=9, optimize=True)
    tiff = _save(images, tmp_path / "c", "tiff")
    assert fast[0].read_bytes() != small[0].read_bytes()
    assert images_hash(fast) == images_hash(small) == images_hash(tiff)
    renamed = [p.rename(p.with_name(f"x{p.name}")) for p in small]
    assert images_hash(renamed) == images_hash(fast)


def test_one_changed_pixel_or_another_order_is_another_set(tmp_path):
    images = make_images(0, 3)
    paths = _save(images, tmp_path / "a")
    key = images_hash(paths)
    assert images_hash(paths[::-1]) != key
    pixels = np.asarray(images[1]).copy()
    pixels[5, 7, 2] ^= 1
    Image.fromarray(pixels).save(paths[1])
    assert images_hash(paths) != key


def test_grey_and_palette_files_are_their_rgb_pixels(tmp_path):
    grey = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8))
    as_l = _save([grey], tmp_path / "l")
    as_rgb = _save([grey.convert("RGB")], tmp_path / "rgb")
    as_p = _save([grey.convert("RGB").quantize(256)], tmp_path / "p")
    assert images_hash(as_l) == images_hash(as_rgb) == images_hash(as_p)
