"""CLIP score with a tiny randomly initialised open_clip model built from a config (no weights download)."""

import json
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from promptopt.scorers.clip import (
    ClipScorer,
    PromptTruncatedWarning,
    clip_score,
    encode_images,
    encode_texts,
    load_clip,
    token_count,
    wrap_open_clip,
)
from promptopt.scorers.tiny_clip import TINY_CLIP_CFG as TINY_CFG
from promptopt.scorers.tiny_clip import TINY_CLIP_PREPROCESS as TINY_PREPROCESS

PROMPTS = [
    "a colonoscopy image of a polyp",
    "an endoscopic view of the pylorus",
    "a surgical instrument in the colon",
    "generate an image of the z-line",
]
LONG_PROMPT = "a large sessile polyp with irregular surface " * 12  # far more than 77 tokens


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A folder in open_clip's hf-hub layout holding the tiny model's config and safetensors weights."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny-clip")
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": TINY_CFG, "preprocess_cfg": TINY_PREPROCESS})
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = open_clip.create_model(f"local-dir:{folder}")  # no weights there yet: random init
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return folder, model


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    import open_clip

    folder, model = tiny_dir
    return wrap_open_clip(model, open_clip.get_tokenizer(f"local-dir:{folder}"), name="tiny")


def test_clip_score_formula():
    img = np.array([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    txt = np.array([[2.0, 0.0], [-1.0, 0.0], [4.0, 3.0]])
    np.testing.assert_allclose(clip_score(img, txt), [100.0, 0.0, 96.0])  # negative cosine clamps to 0
    with pytest.raises(ValueError, match="same shape"):
        clip_score(img, txt[:2])


class _TorchmetricsModel:
    """The interface torchmetrics' clip_score calls on a HF CLIPModel, over the tiny open_clip model."""

    config = SimpleNamespace()

    def __init__(self, clip):
        self.clip = clip

    def to(self, device):
        return self

    def get_image_features(self, pixel_values):
        return self.clip.model.encode_image(pixel_values)

    def get_text_features(self, input_ids, attention_mask):
        return self.clip.model.encode_text(input_ids)


class _TorchmetricsProcessor:
    def __init__(self, clip):
        self.clip = clip

    def __call__(self, images=None, text=None, **kwargs):
        import torch
        from torchvision.transforms.functional import to_pil_image

        if images is not None:
            return {"pixel_values": torch.stack([self.clip.preprocess(to_pil_image(im)) for im in images])}
        tokens = self.clip.tokenizer(text)
        return {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)}


def test_score_matches_torchmetrics(tiny, make_images):
    import torch
    from torchmetrics.functional.multimodal import clip_score as tm_clip_score

    images = make_images(1, len(PROMPTS))
    got = ClipScorer(tiny).score(images, PROMPTS)

    # hand-written reference of the formula with torch ops, from the same embeddings
    img = torch.from_numpy(encode_images(tiny, images)).double()
    txt = torch.from_numpy(encode_texts(tiny, PROMPTS)).double()
    cos = torch.nn.functional.cosine_similarity(img, txt, dim=-1)
    reference = (100 * cos).clamp(min=0)
    assert got["clip_score"] == pytest.approx(reference.mean().item(), abs=1e-9)
    assert got["clip_truncated"] == 0.0

    # torchmetrics itself, one pair per call (its batch call clamps the mean, ours clamps each pair)
    def factory():
        return _TorchmetricsModel(tiny), _TorchmetricsProcessor(tiny)

    tm = []
    for im, prompt in zip(images, PROMPTS):
        tensor = torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous()
        with torch.no_grad():
            tm.append(tm_clip_score(tensor, prompt, model_name_or_path=factory).item())
    np.testing.assert_allclose(tm, reference.numpy(), atol=1e-3)
    assert got["clip_score"] == pytest.approx(np.mean(tm), abs=1e-3)
    # with no negative pair here the two clampings agree, so torchmetrics' batch call matches too
    assert (cos > 0).all()
    tensors = [torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous() for im in images]
    with torch.no_grad():
        batch = tm_clip_score(tensors, PROMPTS, model_name_or_path=factory).item()
    assert got["clip_score"] == pytest.approx(batch, abs=1e-3)


def test_long_prompt_warns_truncates_and_is_recorded(tiny, make_images):
    assert token_count(tiny.tokenizer, LONG_PROMPT) > tiny.context_length
    assert token_count(tiny.tokenizer, PROMPTS[0]) <= tiny.context_length
    scorer = ClipScorer(tiny)
    images = make_images(2, 4)
    prompts = [LONG_PROMPT, LONG_PROMPT, PROMPTS[0], PROMPTS[1]]
    with pytest.warns(PromptTruncatedWarning, match="context length 77") as record:
        got = scorer.score(images, prompts)
    assert sum(issubclass(w.category, PromptTruncatedWarning) for w in record) == 1  # once per distinct prompt
    assert got["clip_truncated"] == 0.5
    assert np.isfinite(got["clip_score"])

    with warnings.catch_warnings():
        warnings.simplefilter("error", PromptTruncatedWarning)
        again = scorer.score(images, prompts)  # already warned about this prompt: no second warning
    assert again == got

    # truncated, not dropped: it scores like any other prompt with the same first 77 tokens
    longer = LONG_PROMPT + " and a second sentence that is cut off"
    with pytest.warns(PromptTruncatedWarning):
        np.testing.assert_array_equal(encode_texts(tiny, [LONG_PROMPT]), encode_texts(tiny, [longer]))
        scorer.score(images[:1], [longer])


def test_reload_from_safetensors_gives_identical_embeddings(tiny, tiny_dir, make_images, tmp_path):
    import open_clip

    folder, _ = tiny_dir
    images = make_images(3, 3)
    expected_img = encode_images(tiny, images)
    expected_txt = encode_texts(tiny, PROMPTS)

    loaded = load_clip(str(folder))
    assert loaded.name == str(folder) and loaded.context_length == 77
    np.testing.assert_array_equal(encode_images(loaded, images), expected_img)
    np.testing.assert_array_equal(encode_texts(loaded, PROMPTS), expected_txt)
    assert ClipScorer(loaded).score(images, PROMPTS[:3]) == ClipScorer(tiny).score(images, PROMPTS[:3])
    assert list(open_clip.get_model_preprocess_cfg(loaded.model)["std"]) == TINY_PREPROCESS["std"]

    # ARCH:FILE with the architecture registered in open_clip (default preprocessing, so compare text)
    (tmp_path / "promptopt-tiny-clip.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(tmp_path / "promptopt-tiny-clip.json")
    by_file = load_clip(f"promptopt-tiny-clip:{folder / 'open_clip_model.safetensors'}")
    np.testing.assert_array_equal(encode_texts(by_file, PROMPTS), expected_txt)


def test_pretrained_tag_offline_fails_fast_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for spec in ("ViT-B-32/laion2b_s34b_b79k", "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"):
        start = time.perf_counter()
        with pytest.raises(FileNotFoundError) as info:
            load_clip(spec, cache_dir=str(tmp_path))
        assert time.perf_counter() - start < 5
        message = str(info.value)
        assert "\n" not in message and "HF_HUB_OFFLINE=1" in message and spec in message


def test_unknown_tag_is_a_value_error():
    with pytest.raises(ValueError, match="known tags: .*laion2b_s34b_b79k"):
        load_clip("ViT-B-32/no_such_tag")


def test_missing_local_files_name_the_path(tmp_path, tiny_dir):
    missing = tmp_path / "nowhere" / "open_clip_model.safetensors"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load_clip(f"ViT-B-32:{missing}")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        load_clip(str(tmp_path / "nowhere"))

    no_weights = tmp_path / "config-only"
    no_weights.mkdir()
    (no_weights / "open_clip_config.json").write_text((tiny_dir[0] / "open_clip_config.json").read_text())
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_clip(str(no_weights))  # never a silently random model

    weights = tiny_dir[0] / "open_clip_model.safetensors"
    with pytest.raises(ValueError, match="ARCH:"):
        load_clip(str(weights))


def test_scorer_interface(tiny, make_images):
    scorer = ClipScorer(tiny)
    assert scorer.name == "clip" and scorer.metrics == {"clip_score": True}
    with pytest.raises(ValueError, match="one prompt per image"):
        scorer.score(make_images(0, 2), PROMPTS[:1])
