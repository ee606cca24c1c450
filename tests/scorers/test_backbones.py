"""Feature backbones: tiny randomly initialised DINOv2 and open_clip models built from configs and saved to disk."""

import json

import numpy as np
import pytest
import torch

from promptopt.scorers.backbones import Dinov2Features, OpenClipFeatures, load_backbone
from promptopt.scorers.realism import reference_features

TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "head_width": 16, "layers": 2},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def _save_dinov2(folder, seed: int):
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=8, image_size=32
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Dinov2Model(config).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def dinov2_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dinov2")
    return folder, _save_dinov2(folder, seed=0)


def _save_clip(folder, seed: int):
    import open_clip
    from safetensors.torch import save_file

    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": TINY_CLIP_CFG, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.25] * 3}})
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(f"local-dir:{folder}")  # no weights there yet: random init
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("clip-a"), tmp_path_factory.mktemp("clip-b")
    _save_clip(first, seed=0)
    _save_clip(second, seed=1)
    return first, second


def test_dinov2_features_are_the_cls_token_of_transformers_preprocessing(dinov2_dir, make_images):
    """Our resize path + ImageNet normalisation equals transformers' own (PIL) image processor, and the
    features are the model's layer-normed CLS token."""
    from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    folder, model = dinov2_dir
    backbone = load_backbone(f"dinov2:{folder}")
    assert isinstance(backbone, Dinov2Features) and backbone.size == 32
    images = make_images(0, 3, size=64)  # downsampled to 32 by the resize path
    ours = backbone(images)

    processor = BitImageProcessorPil(
        size={"height": 32, "width": 32},
        do_center_crop=False,
        image_mean=IMAGENET_DEFAULT_MEAN,
        image_std=IMAGENET_DEFAULT_STD,
    )
    pixels = processor(images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        theirs = model(pixel_values=pixels).pooler_output.double().numpy()
    assert ours.shape == (3, 32) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_dinov2_input_size_follows_the_preprocessor_crop(tmp_path, dinov2_dir):
    folder, _ = dinov2_dir
    copy = tmp_path / "with-processor"
    copy.mkdir()
    for file in folder.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    (copy / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": 48, "width": 48}}))
    assert load_backbone(f"dinov2:{copy}").size == 48


def test_open_clip_features_equal_the_image_tower_on_its_own_preprocessing(clip_dirs, make_images):
    """For square images open_clip's transform (bicubic resize, centre crop, normalise) and our resize path agree."""
    from promptopt.scorers.clip import encode_images, load_clip

    folder, _ = clip_dirs
    backbone = load_backbone(f"open_clip:{folder}")
    assert isinstance(backbone, OpenClipFeatures) and backbone.size == 32
    images = make_images(1, 4, size=64)
    np.testing.assert_allclose(backbone(images), encode_images(load_clip(str(folder)), images), rtol=1e-4, atol=1e-5)


def test_names_key_the_cache_by_weights(clip_dirs, dinov2_dir, tmp_path, make_images):
    first, second = clip_dirs
    a, a_again, b = (load_backbone(f"open_clip:{f}") for f in (first, first, second))
    assert a.name == a_again.name != b.name
    assert a.name.startswith("open_clip-")
    folder, _ = dinov2_dir
    other = tmp_path / folder.name
    _save_dinov2(other, seed=1)  # same folder name, other weights
    assert load_backbone(f"dinov2:{folder}").name != load_backbone(f"dinov2:{other}").name

    reference = tmp_path / "ref"
    reference.mkdir()
    for i, image in enumerate(make_images(2, 4)):
        image.save(reference / f"{i}.png")
    cache = tmp_path / "cache"
    feats_a = reference_features(reference, a, backbone=a.name, cache_dir=cache)
    feats_b = reference_features(reference, b, backbone=b.name, cache_dir=cache)
    assert len(list((cache / "features").iterdir())) == 2 and not np.allclose(feats_a, feats_b)


def test_inception_is_the_default(inception):
    assert load_backbone("inception").name == inception.name


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("resnet50", ValueError, "unknown feature backbone 'resnet50'"),
        ("dinov2:", ValueError, "unknown feature backbone"),
        ("dinov2:/nowhere/dinov2-base", FileNotFoundError, "no config.json"),
        ("open_clip:/nowhere/clip", FileNotFoundError, "no such folder"),
    ],
)
def test_bad_specs_and_missing_weights_are_one_line(spec, error, message):
    with pytest.raises(error, match=message) as info:
        load_backbone(spec)
    assert "\n" not in str(info.value)


def test_dinov2_folder_without_weights(tmp_path):
    from transformers import Dinov2Config

    config = Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    config.save_pretrained(tmp_path)  # a config without weights
    with pytest.raises(FileNotFoundError, match="cannot be loaded") as info:
        load_backbone(f"dinov2:{tmp_path}")
    assert "\n" not in str(info.value)
