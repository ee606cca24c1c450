import re

import numpy as np
import pytest
import torch
from PIL import Image

from promptopt.generators.training.data import CaptionDataset, TrainExample, load_pixels


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    found = []
    for i in range(6):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (32, 40, 3)).astype(np.uint8)).save(path)
        found.append(TrainExample(path, tuple(f"prompt {i}.{k}" for k in range(i % 3 + 1))))
    return found


def _dataset(examples, **kwargs):
    return CaptionDataset(examples, **{"resolution": 16, "seed": 0, **kwargs})


def test_batch_plan_is_a_pure_function_of_seed_and_step(examples):
    a, b = _dataset(examples), _dataset(examples)
    steps = [7, 0, 3, 7, 12]
    assert [a.plan(s, 4) for s in steps] == [b.plan(s, 4) for s in reversed(steps)][::-1]
    assert _dataset(examples, seed=1).plan(0, 4) != a.plan(0, 4)


def test_each_epoch_sees_every_image_once_with_one_of_its_captions(examples):
    data = _dataset(examples)
    for epoch in range(3):
        plans = [data.plan(epoch * 3 + s, 2) for s in range(3)]
        indices = [i for p in plans for i in p.indices]
        assert sorted(indices) == list(range(6))
        for plan in plans:
            for index, caption, flip in zip(plan.indices, plan.captions, plan.flips):
                assert caption in examples[index].prompts and flip is False
    captions = {c for s in range(60) for c in data.plan(s, 2).captions}
    assert captions == {p for e in examples for p in e.prompts}  # random captions reach every prompt


def test_first_caption_and_flips(examples):
    first = _dataset(examples, caption="first")
    assert all(c.endswith(".0") for s in range(6) for c in first.plan(s, 2).captions)
    flips = [f for s in range(30) for f in _dataset(examples, random_flip=True).plan(s, 2).flips]
    assert 10 < sum(flips) < 50


def test_combined_captions_and_caption_dropout(examples):
    data = _dataset(examples, caption="combine", caption_max_prompts=2, caption_dropout=0.25)
    plans = [data.plan(s, 3) for s in range(80)]
    counts = {0: 0, 1: 0, 2: 0}
    for plan in plans:
        for index, caption in zip(plan.indices, plan.captions):
            parts = re.findall(r"prompt \d+\.\d+", caption)
            assert " ".join(parts) == caption and len(set(parts)) == len(parts)
            assert all(p in examples[index].prompts for p in parts)
            counts[len(parts)] += 1
    assert 0.15 < counts[0] / 240 < 0.35  # dropped to "" about a quarter of the time
    assert counts[1] > 20 and counts[2] > 20  # never more than caption_max_prompts, both lengths drawn
    again = _dataset(examples, caption="combine", caption_max_prompts=2, caption_dropout=0.25)
    assert plans == [again.plan(s, 3) for s in range(80)]


def test_pixels_follow_the_pil_bicubic_centre_crop_path(examples):
    path = examples[0].image
    expected = Image.open(path).convert("RGB").resize((20, 16), Image.BICUBIC).crop((2, 0, 18, 16))
    reference = torch.from_numpy(np.asarray(expected, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
    pixels = load_pixels(path, 16)
    assert pixels.shape == (3, 16, 16) and torch.equal(pixels, reference)
    assert torch.equal(load_pixels(path, 16, flip=True), reference.flip(-1))
    assert pixels.min() >= -1 and pixels.max() <= 1


def test_empty_or_uncaptioned_sets_are_refused(examples, tmp_path):
    with pytest.raises(ValueError, match="training set is empty"):
        _dataset([])
    with pytest.raises(ValueError, match="has no caption"):
        _dataset([TrainExample(tmp_path / "x.png", ())])


def test_cached_latents_sample_like_the_vae_posterior(examples):
    """Sampling from the cached (mean, std) equals diffusers' own posterior sample with the same generator."""
    from diffusers import AutoencoderKL

    from promptopt.generators.training.encode import Latents

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        vae = AutoencoderKL(block_out_channels=(32,), latent_channels=4, norm_num_groups=32, sample_size=16).eval()
    vae.register_to_config(scaling_factor=0.5)
    data = _dataset(examples)
    latents = Latents(vae, data, torch.device("cpu"), autocast=_no_autocast)
    plan = data.plan(1, 3)
    ours = latents.sample(plan, torch.Generator().manual_seed(5))
    pixels = torch.stack([data.pixels(i, f) for i, f in zip(plan.indices, plan.flips)])
    with torch.no_grad():
        reference = vae.encode(pixels).latent_dist.sample(torch.Generator().manual_seed(5)) * 0.5
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_cached_text_embeddings_equal_the_pipeline_prompt_encoding():
    from promptopt.generators.tiny import build_tiny_pipeline
    from promptopt.generators.training.encode import TextEmbeddings

    pipe = build_tiny_pipeline()
    captions = ["a polyp in the lower-left", "an image with a tube", "a polyp in the lower-left"]
    texts = TextEmbeddings(
        pipe.tokenizer, pipe.text_encoder, torch.device("cpu"), trainable=False, autocast=_no_autocast
    )
    with torch.no_grad():
        reference = pipe.encode_prompt(captions, "cpu", 1, False)[0]
    torch.testing.assert_close(texts(captions), reference, atol=1e-5, rtol=1e-5)


def _no_autocast():
    return torch.autocast("cpu", enabled=False)
