import numpy as np
import pytest

from promptopt.generators.base import GeneratorConfig
from promptopt.generators.diffusers_generator import ModelNotFoundError, load_generator, resolve_device_dtype
from promptopt.generators.tiny import build_tiny_pipeline, tiny_pipeline_dir


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return load_generator(
        GeneratorConfig(model="tiny-random", height=32, width=32, device="cpu", batch_size=2),
        cache_dir=tmp_path_factory.mktemp("cache"),
    )


def _px(image):
    return np.asarray(image, dtype=np.int16)


def test_image_depends_only_on_its_prompt_and_seed(generator):
    """Batch composition and position do not change an image: one torch.Generator per image."""
    kwargs = {"guidance_scale": 3.0, "steps": 2}
    alone = generator.render(["a polyp"], [7], **kwargs)[0]
    batch = generator.render(["tube", "a polyp", "z-line"], [1, 7, 2], **kwargs)
    assert np.abs(_px(alone) - _px(batch[1])).max() <= 1
    assert np.abs(_px(batch[0]) - _px(batch[1])).max() > 10


def test_render_is_reproducible_and_seed_sensitive(generator):
    kwargs = {"guidance_scale": 3.0, "steps": 2}
    a, b = generator.render(["a polyp", "a polyp"], [3, 3], **kwargs)
    c = generator.render(["a polyp"], [4], **kwargs)[0]
    assert (_px(a) == _px(b)).all()
    assert np.abs(_px(a) - _px(c)).max() > 10
    assert a.size == (32, 32)


def test_negative_prompt_and_guidance_change_the_image(generator):
    base = generator.render(["a polyp"], [0], guidance_scale=3.0, steps=2)[0]
    negative = generator.render(["a polyp"], [0], guidance_scale=3.0, steps=2, negative_prompt="blurry")[0]
    stronger = generator.render(["a polyp"], [0], guidance_scale=8.0, steps=2)[0]
    assert np.abs(_px(base) - _px(negative)).max() > 0
    assert np.abs(_px(base) - _px(stronger)).max() > 0


def test_one_seed_per_prompt(generator):
    with pytest.raises(ValueError, match="one seed per prompt"):
        generator.render(["a", "b"], [0], guidance_scale=3.0, steps=2)


def test_identity_records_model_and_hash(generator):
    assert generator.identity["model"] == "tiny-random"
    assert len(generator.identity["model_hash"]) == 16
    assert (generator.identity["device"], generator.identity["dtype"]) == ("cpu", "float32")


def test_tiny_pipeline_is_the_same_on_every_build(tmp_path):
    a, b = build_tiny_pipeline(), build_tiny_pipeline()
    for (name, pa), pb in zip(a.unet.named_parameters(), b.unet.parameters()):
        assert (pa == pb).all(), name
    folder = tiny_pipeline_dir(tmp_path)
    assert (folder / "model_index.json").is_file()
    assert tiny_pipeline_dir(tmp_path) == folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_local_folder_without_model_index_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model_index.json"):
        load_generator(GeneratorConfig(model=str(tmp_path)), cache_dir=tmp_path)


def test_missing_path_and_offline_hub_id(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_generator(GeneratorConfig(model="./models/sd"), cache_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE=1 forbids downloading"):
        load_generator(GeneratorConfig(model="acme/sd-gi"), cache_dir=tmp_path)


def test_auto_device_on_cpu_is_float32():
    import torch

    device, dtype = resolve_device_dtype("auto", "auto")
    if not torch.cuda.is_available():
        assert (device, dtype) == ("cpu", "float32")
    assert resolve_device_dtype("cpu", "bfloat16") == ("cpu", "bfloat16")


@pytest.mark.parametrize(("field", "value"), [("device", "tpu"), ("dtype", "int8"), ("height", 30), ("batch_size", 0)])
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        GeneratorConfig(**{field: value})


class OutOfMemoryAbove:
    """The real pipeline behind a memory limit: a call with more than `limit` prompts raises CUDA's
    OutOfMemoryError, as a GPU too small for the batch would."""

    def __init__(self, pipe, limit):
        self.pipe, self.limit, self.calls = pipe, limit, []

    def __call__(self, prompt, **kwargs):
        self.calls.append(len(prompt))
        if len(prompt) > self.limit:
            import torch

            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.pipe(prompt, **kwargs)


OOM_PROMPTS = ["a polyp", "tube", "z-line", "a polyp", "cecum", "pylorus", "a polyp", "tube"]


def test_out_of_memory_halves_the_batch_keeps_it_and_changes_no_image(generator):
    from promptopt.generators.diffusers_generator import DiffusersGenerator

    kwargs = {"guidance_scale": 3.0, "steps": 2}
    limited = OutOfMemoryAbove(generator.pipe, limit=2)
    small_gpu = DiffusersGenerator(limited, device="cuda", batch_size=8, height=32, width=32, identity={})
    with pytest.warns(RuntimeWarning, match="out of memory rendering 8 images") as caught:
        images = small_gpu.render(OOM_PROMPTS, list(range(8)), **kwargs)
    assert [str(w.message).rsplit(" ", 1)[-1] for w in caught] == ["4", "2"]
    assert limited.calls == [8, 4, 2, 2, 2, 2] and small_gpu.batch_size == 2
    unfailing = DiffusersGenerator(generator.pipe, device="cpu", batch_size=2, height=32, width=32, identity={})
    expected = unfailing.render(OOM_PROMPTS, list(range(8)), **kwargs)
    assert all((_px(a) == _px(b)).all() for a, b in zip(images, expected, strict=True))
    small_gpu.render(OOM_PROMPTS[:3], [0, 1, 2], **kwargs)  # the halved size sticks
    assert limited.calls[6:] == [2, 1]


def test_out_of_memory_at_one_image_is_reraised_with_advice(generator):
    import torch

    from promptopt.generators.diffusers_generator import DiffusersGenerator

    no_memory = DiffusersGenerator(
        OutOfMemoryAbove(generator.pipe, limit=0), device="cuda", batch_size=4, height=32, width=32, identity={}
    )
    with pytest.warns(RuntimeWarning), pytest.raises(torch.cuda.OutOfMemoryError, match="single 32x32 image") as info:
        no_memory.render(OOM_PROMPTS[:4], [0, 1, 2, 3], guidance_scale=3.0, steps=2)
    assert "attention_slicing" in str(info.value) and "Tried to allocate" in str(info.value.__cause__)
    assert no_memory.pipe.calls == [4, 2, 1]
