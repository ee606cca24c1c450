"""Loading any diffusers text-to-image model: SDXL and SD3 folders, single-file checkpoints, schedulers,
device/dtype and memory options (tiny models built from configs)."""

import numpy as np
import pytest

from promptopt.generators.base import GeneratorConfig
from promptopt.generators.diffusers_generator import ModelNotFoundError, load_generator, resolve_device_dtype
from promptopt.generators.errors import GeneratorInputError
from promptopt.generators.schedulers import SCHEDULER_NAMES, SCHEDULERS, apply_scheduler

RENDER = {"guidance_scale": 3.0, "steps": 2}


def _cfg(model, **changes):
    return GeneratorConfig(model=str(model), height=32, width=32, device="cpu", batch_size=2, **changes)


def _px(image):
    return np.asarray(image, dtype=np.int16)


def _max_diff(a, b):
    return max(int(np.abs(_px(x) - _px(y)).max()) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def tiny(tiny_sd_dir, tmp_path_factory):
    return load_generator(_cfg(tiny_sd_dir), cache_dir=tmp_path_factory.mktemp("cache"))


def test_sdxl_folder_loads_as_sdxl_with_one_seed_per_image(tiny_sdxl_dir, tmp_path):
    generator = load_generator(_cfg(tiny_sdxl_dir), cache_dir=tmp_path)
    assert generator.identity["pipeline"] == "StableDiffusionXLPipeline"
    alone = generator.render(["a polyp"], [7], **RENDER)[0]
    batch = generator.render(["tube", "a polyp", "z-line"], [1, 7, 2], **RENDER)
    assert np.abs(_px(alone) - _px(batch[1])).max() <= 1
    assert np.abs(_px(batch[0]) - _px(batch[1])).max() > 10
    assert alone.size == (32, 32)


def test_sd3_folder_loads_renders_and_keeps_its_flow_matching_sampler(tiny_sd3_dir, tmp_path):
    generator = load_generator(_cfg(tiny_sd3_dir), cache_dir=tmp_path)
    assert generator.identity["pipeline"] == "StableDiffusion3Pipeline"
    assert generator.identity["scheduler_class"] == "FlowMatchEulerDiscreteScheduler"
    a = generator.render(["a polyp", "tube"], [3, 4], negative_prompt="blurry", **RENDER)
    b = generator.render(["tube"], [4], negative_prompt="blurry", **RENDER)
    assert _max_diff(a[1:], b) <= 1 and np.abs(_px(a[0]) - _px(a[1])).max() > 10
    with pytest.raises(GeneratorInputError, match="flow matching"):
        load_generator(_cfg(tiny_sd3_dir, scheduler="ddim"), cache_dir=tmp_path)


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_single_file_with_config_folder_renders_what_the_folder_renders(
    tiny, tiny_sd_dir, make_single_file, tmp_path, suffix
):
    checkpoint = make_single_file(tiny_sd_dir, tmp_path / f"tiny{suffix}")
    generator = load_generator(_cfg(checkpoint, single_file_config=str(tiny_sd_dir)), cache_dir=tmp_path)
    assert generator.identity["pipeline"] == "StableDiffusionPipeline"
    assert (
        len(generator.identity["model_hash"]) == 16 and generator.identity["model_hash"] != tiny.identity["model_hash"]
    )
    prompts, seeds = ["a polyp", "z-line"], [5, 6]
    assert _max_diff(generator.render(prompts, seeds, **RENDER), tiny.render(prompts, seeds, **RENDER)) == 0


def test_single_file_without_configs_offline_names_the_fix(tiny_sd_dir, make_single_file, tmp_path):
    checkpoint = make_single_file(tiny_sd_dir, tmp_path / "tiny.safetensors")
    with pytest.raises(ModelNotFoundError, match=r"needs its pipeline configs.*--model-config DIR") as info:
        load_generator(_cfg(checkpoint), cache_dir=tmp_path)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelNotFoundError, match="has no model_index.json"):
        load_generator(_cfg(checkpoint, single_file_config=str(tmp_path)), cache_dir=tmp_path)
    with pytest.raises(GeneratorInputError, match="not a single .safetensors/.ckpt file"):
        load_generator(_cfg(tiny_sd_dir, single_file_config=str(tiny_sd_dir)), cache_dir=tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="not a .safetensors or .ckpt checkpoint"):
        load_generator(_cfg(tmp_path / "weights.bin"), cache_dir=tmp_path)


def test_every_scheduler_keeps_the_model_noise_schedule(tiny):
    """from_config(pipe.scheduler.config): the sampler changes, the trained betas do not."""
    pipe = tiny.pipe
    own = pipe.scheduler
    try:
        for name, (class_name, extra) in SCHEDULERS.items():
            apply_scheduler(pipe, name, "tiny-random")
            assert type(pipe.scheduler).__name__ == class_name
            assert (pipe.scheduler.config.beta_end, pipe.scheduler.config.beta_schedule) == (0.012, "scaled_linear")
            assert all(pipe.scheduler.config[k] == v for k, v in extra.items())
    finally:
        pipe.scheduler = own


@pytest.mark.parametrize("name", ["euler-ancestral", "dpm++-sde"])
def test_stochastic_schedulers_keep_one_seed_per_image(tiny_sd_dir, tiny, tmp_path, name):
    """Samplers that draw fresh noise at every step draw it from the image's own generator."""
    generator = load_generator(_cfg(tiny_sd_dir, scheduler=name), cache_dir=tmp_path)
    assert generator.identity["scheduler"] == name
    alone = generator.render(["a polyp"], [7], **RENDER)
    batch = generator.render(["tube", "a polyp"], [1, 7], **RENDER)
    assert _max_diff(alone, batch[1:]) <= 1
    assert _max_diff(alone, tiny.render(["a polyp"], [7], **RENDER)) > 2  # another sampler, another image


def test_unknown_scheduler_lists_the_choices():
    with pytest.raises(ValueError, match="unknown generator.scheduler 'karras'") as info:
        GeneratorConfig(scheduler="karras")
    assert ", ".join(SCHEDULER_NAMES) in str(info.value)


def test_memory_options_are_applied_and_keep_the_images(tiny_sd_dir, tiny, tmp_path):
    generator = load_generator(_cfg(tiny_sd_dir, attention_slicing=True, vae_tiling=True), cache_dir=tmp_path)
    processors = generator.pipe.unet.attn_processors.values()
    assert any("Sliced" in type(p).__name__ for p in processors)
    assert generator.pipe.vae.use_tiling
    prompts, seeds = ["a polyp", "tube"], [1, 2]
    assert _max_diff(generator.render(prompts, seeds, **RENDER), tiny.render(prompts, seeds, **RENDER)) <= 1


def test_float16_on_cpu_and_compile_on_cpu_are_refused(tiny_sd_dir, tmp_path):
    import torch

    with pytest.raises(ValueError, match="float16 needs a GPU"):
        GeneratorConfig(device="cpu", dtype="float16")
    if not torch.cuda.is_available():
        with pytest.raises(GeneratorInputError, match="float16 needs a GPU"):
            resolve_device_dtype("auto", "float16")
        with pytest.raises(GeneratorInputError, match="compile needs a CUDA device"):
            load_generator(_cfg(tiny_sd_dir, compile=True), cache_dir=tmp_path)
