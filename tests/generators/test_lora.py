"""LoRA adapters made with peft on the tiny UNet: loading, blending weights, fusing, provenance, and misfits."""

import hashlib
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from promptopt.generators.base import GeneratorConfig, LoraAdapter
from promptopt.generators.diffusers_generator import ModelNotFoundError, load_generator
from promptopt.generators.errors import GeneratorInputError

PROMPTS, SEEDS = ["a polyp", "z-line"], [3, 4]
RENDER = {"guidance_scale": 3.0, "steps": 2}


@pytest.fixture(scope="module")
def adapters(make_lora, tmp_path_factory):
    root = tmp_path_factory.mktemp("loras")
    return {
        "a": make_lora(root / "a", seed=1),
        "b": make_lora(root / "b", seed=2),
        "wide": make_lora(root / "wide", seed=3, cross_attention_dim=64),  # a base model with 64-d text embeddings
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def render(cache):
    """render(*loras, fuse=False) -> the tiny model's images for PROMPTS x SEEDS with those adapters."""

    def _render(*loras, fuse=False):
        cfg = GeneratorConfig(
            model="tiny-random", height=32, width=32, device="cpu", batch_size=2, loras=tuple(loras), fuse_lora=fuse
        )
        generator = load_generator(cfg, cache_dir=cache)
        return generator, [np.asarray(im, dtype=np.int16) for im in generator.render(PROMPTS, SEEDS, **RENDER)]

    return _render


@pytest.fixture(scope="module")
def base_images(render):
    return render()[1]


def _diff(a, b):
    return max(int(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def test_an_adapter_changes_the_images_and_weight_zero_is_the_base(render, base_images, adapters):
    _, with_a = render(LoraAdapter(str(adapters["a"])))
    assert _diff(with_a, base_images) > 5
    _, zero = render(LoraAdapter(str(adapters["a"]), weight=0.0))
    assert _diff(zero, base_images) == 0


def test_fused_equals_unfused(render, adapters):
    lora = LoraAdapter(str(adapters["a"]), weight=0.7)
    _, unfused = render(lora)
    fused_generator, fused = render(lora, fuse=True)
    assert _diff(fused, unfused) <= 1
    assert fused_generator.pipe.get_list_adapters() == {}  # merged into the weights, adapter layers gone
    assert fused_generator.identity["fused"] is True


def test_two_adapters_blend_with_their_weights(render, adapters):
    a, b = LoraAdapter(str(adapters["a"]), name="a"), LoraAdapter(str(adapters["b"]), name="b")
    _, only_a = render(a)
    _, only_b = render(b)
    generator, both = render(a, b)
    assert min(_diff(both, only_a), _diff(both, only_b)) > 2
    _, a_and_b_off = render(a, LoraAdapter(str(adapters["b"]), weight=0.0, name="b"))
    assert _diff(a_and_b_off, only_a) == 0
    assert sorted(generator.pipe.get_list_adapters()["unet"]) == ["a", "b"]


def test_identity_records_each_adapter_file_hash_and_weight(render, adapters):
    folder = adapters["a"].parent  # a folder as save_lora_weights writes it is accepted too
    generator, _ = render(LoraAdapter(str(folder), weight=0.5), LoraAdapter(str(adapters["b"]), weight=1.5))
    expected = [
        {
            "name": "lora0",
            "file": adapters["a"].name,
            "sha256": hashlib.sha256(adapters["a"].read_bytes()).hexdigest()[:16],
            "weight": 0.5,
        },
        {
            "name": "lora1",
            "file": adapters["b"].name,
            "sha256": hashlib.sha256(adapters["b"].read_bytes()).hexdigest()[:16],
            "weight": 1.5,
        },
    ]
    identity = generator.identity
    assert identity["loras"] == expected and identity["fused"] is False and identity["scheduler"] == "default"
    assert json.loads(json.dumps(identity)) == identity


def _with_extra_keys(path, out):
    state = load_file(path)
    state["unet.down_blocks.0.resnets.0.not_a_module.lora.down.weight"] = torch.zeros(4, 32)
    state["unet.down_blocks.0.resnets.0.not_a_module.lora.up.weight"] = torch.zeros(32, 4)
    save_file(state, out)
    return out


def _for_another_architecture(path, out):
    save_file({k.replace("unet.", "transformer.", 1): v for k, v in load_file(path).items()}, out)
    return out


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda adapters, tmp: adapters["wide"], "its weights have other shapes"),
        (
            lambda adapters, tmp: _with_extra_keys(adapters["a"], tmp / "extra.safetensors"),
            "2 of its weights match no module",
        ),
        (
            lambda adapters, tmp: _for_another_architecture(adapters["a"], tmp / "dit.safetensors"),
            "none of its weights match",
        ),
    ],
    ids=["shapes", "extra-keys", "other-architecture"],
)
def test_a_lora_that_does_not_fit_is_one_clear_error(adapters, cache, tmp_path, make, reason):
    path = make(adapters, tmp_path)
    cfg = GeneratorConfig(model="tiny-random", height=32, width=32, device="cpu", loras=(LoraAdapter(str(path)),))
    with pytest.raises(GeneratorInputError, match=f"LoRA {path} does not fit base model tiny-random") as info:
        load_generator(cfg, cache_dir=cache)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_missing_lora_file_and_bad_adapter_settings(cache, tmp_path):
    cfg = GeneratorConfig(
        model="tiny-random", height=32, width=32, device="cpu", loras=(LoraAdapter(str(tmp_path / "nope.safetensors")),)
    )
    with pytest.raises(ModelNotFoundError, match="nope.safetensors does not exist"):
        load_generator(cfg, cache_dir=cache)
    with pytest.raises(ValueError, match="fuse_lora needs at least one adapter"):
        GeneratorConfig(fuse_lora=True)
    with pytest.raises(ValueError, match="adapter names must be distinct"):
        GeneratorConfig(loras=(LoraAdapter("x", name="lora1"), LoraAdapter("y")))
    with pytest.raises(ValueError, match="finite"):
        LoraAdapter("x", weight=float("nan"))
