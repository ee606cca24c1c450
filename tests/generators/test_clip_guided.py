"""CLIP-guided sampling on the tiny Stable Diffusion pipeline with a tiny open_clip model."""

import numpy as np
import pytest

from promptopt.generators.clip_guided import ClipGuidedGenerator, ClipInput, scheduler_kind

PROMPTS = [
    "a colonoscopy image of a polyp",
    "an endoscopic view of the pylorus",
    "a surgical instrument in the colon",
    "generate an image of the z-line",
]
SEEDS = [0, 1, 2, 3]
RENDER = {"guidance_scale": 3.0, "steps": 6}
SCALE = 300.0  # raises the tiny CLIP's similarity by ~0.24 on these images (0.27 -> 0.51); 100 gives ~0.12


@pytest.fixture(scope="module")
def pipe():
    from promptopt.generators.tiny import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _with_scheduler(pipe, name):
    """The same components with another scheduler (a new pipeline object; the fixture stays untouched)."""
    import diffusers

    return type(pipe)(**{**pipe.components, "scheduler": getattr(diffusers, name).from_config(pipe.scheduler.config)})


def _px(image):
    return np.asarray(image, dtype=np.int16)


def _similarity(clip, images, prompts):
    """Per-image cosine similarity measured the scorer's way: PIL preprocessing of the final 8-bit images."""
    from promptopt.scorers.clip import encode_images, encode_texts

    a, b = encode_images(clip, images), encode_texts(clip, prompts)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


# DDIM is the tiny pipeline's own (x_t = sqrt(ᾱ)x0 + sqrt(1-ᾱ)ε); Euler is a sigma scheduler (x_t = x0 + σε);
# DDPM draws fresh noise from the per-image generators at every step.
@pytest.mark.parametrize("scheduler", ["DDIMScheduler", "EulerDiscreteScheduler", "DDPMScheduler"])
def test_scale_zero_reproduces_the_plain_pipeline(pipe, tiny_clip, scheduler):
    import torch

    pipe = _with_scheduler(pipe, scheduler)
    generators = [torch.Generator("cpu").manual_seed(s) for s in SEEDS]
    with torch.inference_mode():
        plain = pipe(
            PROMPTS,
            height=32,
            width=32,
            num_inference_steps=RENDER["steps"],
            guidance_scale=RENDER["guidance_scale"],
            generator=generators,
        ).images
    sampler = ClipGuidedGenerator(pipe, tiny_clip, clip_guidance_scale=0.0, height=32, width=32, batch_size=4)
    ours = sampler.render(PROMPTS, SEEDS, **RENDER)
    for a, b in zip(ours, plain):
        assert np.abs(_px(a) - _px(b)).max() <= 1


@pytest.fixture(scope="module")
def measured(pipe, tiny_clip, make_tiny_clip):
    """Factory, memoised: similarity under the tiny CLIP of PROMPTS x SEEDS rendered with (scheduler, guide, scale)."""
    guides = {"tiny": tiny_clip, "other": make_tiny_clip(seed=1)}  # "other": same architecture, other weights
    cache = {}

    def measure(scheduler, guide, scale):
        key = (scheduler, guide, scale)
        if key not in cache:
            sampler = ClipGuidedGenerator(
                _with_scheduler(pipe, scheduler),
                guides[guide],
                clip_guidance_scale=scale,
                height=32,
                width=32,
                batch_size=4,
            )
            cache[key] = _similarity(tiny_clip, sampler.render(PROMPTS, SEEDS, **RENDER), PROMPTS)
        return cache[key]

    return measure


@pytest.mark.parametrize("scheduler", ["DDIMScheduler", "EulerDiscreteScheduler"])
def test_guidance_raises_the_measured_clip_similarity(measured, scheduler):
    before, after = measured(scheduler, "tiny", 0.0), measured(scheduler, "tiny", SCALE)
    assert (after > before + 0.05).all(), (before, after)  # every image, not just on average
    assert after.mean() > before.mean() + 0.15, (before, after)


def test_the_gain_comes_from_the_guiding_models_gradient(measured):
    """Guided by another CLIP (other weights), the gain under this one disappears: not a generic image change."""
    before, after = measured("DDIMScheduler", "tiny", 0.0), measured("DDIMScheduler", "tiny", SCALE)
    other = measured("DDIMScheduler", "other", SCALE)
    assert other.mean() < before.mean() + 0.05 < after.mean() - 0.1, (before, other, after)


def test_image_depends_only_on_its_prompt_and_seed(pipe, tiny_clip):
    import torch

    sampler = ClipGuidedGenerator(pipe, tiny_clip, clip_guidance_scale=SCALE, height=32, width=32, batch_size=3)
    kwargs = {"guidance_scale": 3.0, "steps": 3}
    alone = sampler.render([PROMPTS[0]], [7], **kwargs)[0]
    batch = sampler.render([PROMPTS[1], PROMPTS[0], PROMPTS[2]], [1, 7, 2], **kwargs)
    assert np.abs(_px(alone) - _px(batch[1])).max() <= 1
    assert np.abs(_px(batch[0]) - _px(batch[1])).max() > 10
    with torch.inference_mode():  # a caller's inference_mode must not break the gradient step
        inside = sampler.render([PROMPTS[0]], [7], **kwargs)[0]
    assert (_px(inside) == _px(alone)).all()


def test_spherical_distance_is_half_the_squared_angle():
    import torch

    from promptopt.generators.clip_guided import spherical_distance

    a, b = torch.randn(5, 16, generator=torch.Generator().manual_seed(0)).double().chunk(2, dim=1)
    angle = torch.arccos(torch.nn.functional.cosine_similarity(a, b))
    torch.testing.assert_close(spherical_distance(3 * a, b), angle**2 / 2)  # scale-free: rows are normalised


def test_clip_input_matches_the_scorer_preprocessing(make_tiny_clip):
    """The differentiable map equals open_clip's PIL transform (resize, crop, normalise) up to 8-bit rounding."""
    import torch
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, size=(6, 5, 3)).astype(np.uint8)
    image = Image.fromarray(small).resize((40, 48), Image.BILINEAR)  # smooth, not square: resize then crop
    for mode in ("shortest", "squash"):
        clip = make_tiny_clip(preprocess={"resize_mode": mode})
        expected = clip.preprocess(image)
        got = ClipInput(clip.model)(to_tensor(image)[None])[0]
        assert got.shape == expected.shape == (3, 32, 32)
        assert torch.abs(got - expected).max() < 0.05  # std 0.25: 0.05 is ~3/255 in pixel units
    with pytest.raises(ValueError, match="resize_mode"):
        ClipInput(make_tiny_clip(preprocess={"resize_mode": "longest"}).model)


def test_identity_and_from_generator(make_tiny_generator, tiny_clip):
    base = make_tiny_generator(batch_size=2)
    sampler = ClipGuidedGenerator.from_generator(base, tiny_clip, clip_guidance_scale=100, guide_every=2)
    assert sampler.identity == {
        **base.identity,
        "sampling": "clip-guided",
        "clip_model": "tiny-clip-0",
        "clip_guidance_scale": "100.0",
        "clip_guide_every": "2",
    }
    assert (sampler.height, sampler.width, sampler.batch_size) == (32, 32, 2)
    # at scale 0 the wrapped generator's own images come back
    kwargs = {"guidance_scale": 3.0, "steps": 2}
    ours = ClipGuidedGenerator.from_generator(base, tiny_clip, clip_guidance_scale=0).render(["a polyp"], [5], **kwargs)
    assert np.abs(_px(ours[0]) - _px(base.render(["a polyp"], [5], **kwargs)[0])).max() <= 1


def test_unsupported_settings_are_refused(pipe, tiny_clip):
    with pytest.raises(ValueError, match="clip_guidance_scale must be"):
        ClipGuidedGenerator(pipe, tiny_clip, clip_guidance_scale=-1, height=32, width=32)
    with pytest.raises(ValueError, match="guide_every must be at least 1"):
        ClipGuidedGenerator(pipe, tiny_clip, clip_guidance_scale=1, height=32, width=32, guide_every=0)
    with pytest.raises(ValueError, match="does not support the scheduler HeunDiscreteScheduler"):
        ClipGuidedGenerator(
            _with_scheduler(pipe, "HeunDiscreteScheduler"), tiny_clip, clip_guidance_scale=1, height=32, width=32
        )
    from diffusers import StableDiffusionImg2ImgPipeline

    with pytest.raises(ValueError, match="needs a StableDiffusionPipeline .* got StableDiffusionImg2ImgPipeline"):
        ClipGuidedGenerator(
            StableDiffusionImg2ImgPipeline(**pipe.components), tiny_clip, clip_guidance_scale=1, height=32, width=32
        )
    v_pred = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type="v_prediction")
    with pytest.raises(ValueError, match="prediction_type='v_prediction'"):
        scheduler_kind(v_pred)
    sampler = ClipGuidedGenerator(pipe, tiny_clip, clip_guidance_scale=1, height=32, width=32)
    with pytest.raises(ValueError, match="one seed per prompt"):
        sampler.render(PROMPTS, SEEDS[:1], **RENDER)
