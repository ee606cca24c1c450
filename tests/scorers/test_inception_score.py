"""Inception Score against torchmetrics' InceptionScore, fed the same logits and the same shuffle."""

import math
import warnings

import numpy as np
import pytest
import torch

from promptopt.scorers.inception_score import (
    IS_NETWORK_INPUT_SIZE,
    LogitsNetwork,
    class_distribution,
    inception_score,
    softmax,
    torch_chunks,
)


def _torchmetrics_is(metric, n: int, seed: int) -> tuple[list[float], np.ndarray]:
    """torchmetrics' IS (mean, std) and the row order its compute() shuffled into: torch.randperm(n) on the
    global RNG, seeded here inside fork_rng so that the test leaves the global state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        order = torch.randperm(n).numpy()
        torch.manual_seed(seed)
        values = [float(v) for v in metric.compute()]
    return values, order


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save")
@pytest.mark.parametrize(("n", "splits"), [(50, 10), (53, 10), (25, 10), (40, 3)])
def test_equals_torchmetrics_on_the_same_logits_and_order(n, splits):
    # 53 and 25 rows: torch.chunk gives fewer, unequal chunks (9 of 6 and 9 of 3), which must be reproduced
    from torchmetrics.image.inception import InceptionScore

    logits = torch.from_numpy(np.random.default_rng(n).normal(scale=3.0, size=(n, 12)))
    metric = InceptionScore(feature=torch.nn.Identity(), splits=splits)  # the "images" are the logits
    metric.update(logits)
    (theirs_mean, theirs_std), order = _torchmetrics_is(metric, n, seed=n)
    ours_mean, ours_std = inception_score(softmax(logits.numpy())[order], splits=splits)
    assert ours_mean == pytest.approx(theirs_mean, rel=1e-10)
    assert ours_std == pytest.approx(theirs_std, rel=1e-8)
    assert len(torch_chunks(n, splits)) == len(logits.chunk(splits))


def test_closed_forms():
    # identical predictions: p(y|x) = p(y), KL = 0, IS = 1
    same = np.tile([0.2, 0.3, 0.5], (20, 1))
    assert inception_score(same, splits=2)[0] == pytest.approx(1.0)
    # confident and spread evenly over C classes within each split: IS = C
    one_hot = np.eye(4)[np.arange(40) % 4]
    mean, std = inception_score(one_hot, splits=5)
    assert mean == pytest.approx(4.0) and std == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(inception_score(one_hot, splits=1)[1])  # one split: no spread, as torchmetrics (NaN)


@pytest.mark.parametrize(
    ("probs", "splits", "message"),
    [
        (np.full((10, 3), 0.5), 2, "summing to 1"),
        (np.full((10, 1), 1.0), 2, "C >= 2"),
        (np.full((3, 2), 0.5), 4, "splits <= N"),
    ],
)
def test_rejects_bad_input(probs, splits, message):
    with pytest.raises(ValueError, match=message):
        inception_score(probs, splits=splits)


def test_class_distribution_normalises_multilabel_probabilities():
    q = np.array([[0.9, 0.9, 0.0], [0.2, 0.6, 0.2], [0.0, 0.0, 0.0]])
    p = class_distribution(q)
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(class_distribution(p), p)  # a distribution is left as it is
    with pytest.raises(ValueError, match="logits"):
        class_distribution(np.array([[2.0, -1.0]]))


class _TinyLogits(torch.nn.Module):
    """uint8 NCHW images → 7 logits, as a torchmetrics feature module receives them."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=13, stride=13)
        self.head = torch.nn.Linear(8, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x.float() / 127.5 - 1.0).relu().mean(dim=(2, 3))) * 5.0


@pytest.fixture(scope="module")
def tiny_network(tmp_path_factory):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        module = _TinyLogits().eval()
    path = tmp_path_factory.mktemp("is-net") / "tiny.pt"
    example = torch.zeros(1, 3, IS_NETWORK_INPUT_SIZE, IS_NETWORK_INPUT_SIZE, dtype=torch.uint8)
    with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; TorchScript files still load
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(module, example).save(str(path))
    return path, module


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save")
def test_network_file_gives_torchmetrics_is_with_the_same_module(tiny_network, make_images):
    """End to end: our resize path + TorchScript logits + IS equals torchmetrics with that module as `feature`."""
    from torchmetrics.image.inception import InceptionScore

    from promptopt.core.images import stack

    path, module = tiny_network
    images = make_images(3, 24)
    probs = LogitsNetwork(path)(images)
    assert probs.shape == (24, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)

    pixels = torch.from_numpy(stack(images, IS_NETWORK_INPUT_SIZE)).permute(0, 3, 1, 2)
    metric = InceptionScore(feature=module, splits=4)
    metric.update(pixels)
    theirs, order = _torchmetrics_is(metric, 24, seed=1)
    ours = inception_score(probs[order], splits=4)
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_network_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="TorchScript"):
        LogitsNetwork(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a TorchScript file") as info:
        LogitsNetwork(junk)
    assert "\n" not in str(info.value)
