"""Training on the tiny-random pipeline at 32×32: LoRA reload, exact resume, full fine-tune, DreamBooth, precision."""

import numpy as np
import pytest
import torch
from PIL import Image

from promptopt.generators.training.checkpoint import load_checkpoint
from promptopt.generators.training.config import DreamBoothConfig, LoraTrainConfig, TrainConfig
from promptopt.generators.training.data import TrainExample
from promptopt.generators.training.loss import snr_loss_weights
from promptopt.generators.training.train import resolve_train_device, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from promptopt.generators.tiny import tiny_pipeline_dir

    return tiny_pipeline_dir(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-images")
    rng = np.random.default_rng(1)
    found = []
    for i in range(6):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)).resize((32, 32), Image.BILINEAR).save(path)
        found.append(TrainExample(path, (f"a polyp number {i}", "an endoscopic image"), ("polyp", "instrument")[i % 2]))
    return found


def _cfg(base, **changes):
    defaults = {
        "base": str(base),
        "resolution": 32,
        "train_batch_size": 2,
        "max_train_steps": 3,
        "learning_rate": 1e-2,
        "checkpointing_steps": 0,
        "device": "cpu",
    }
    return TrainConfig(**{**defaults, **changes})


def _render(pipe, prompts=("a polyp", "a tube"), seeds=(0, 1)):
    generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
    with torch.no_grad():
        return pipe(
            list(prompts),
            num_inference_steps=2,
            guidance_scale=3.0,
            height=32,
            width=32,
            generator=generators,
            output_type="np",
        ).images


def _fresh(base):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(base, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize(
    "modules", [("to_q", "to_k", "to_v", "to_out.0"), ("to_q", "to_k", "to_v", "to_out.0", "conv1", "conv2")]
)
def test_saved_lora_reloads_in_plain_diffusers(base, examples, tmp_path, modules):
    """UNet and text-encoder adapters, alpha != rank, on attention (and convolutions): load_lora_weights gives the
    in-memory images exactly."""
    lora = LoraTrainConfig(rank=4, alpha=8.0, train_text_encoder=True, target_modules=modules)
    result = train(_cfg(base, method="lora", lora=lora), examples, tmp_path, base_folder=base)
    assert (tmp_path / "pytorch_lora_weights.safetensors").is_file()
    in_memory = _render(result.models.pipeline())
    pipe = _fresh(base)
    before = _render(pipe)
    pipe.load_lora_weights(tmp_path)
    after = _render(pipe)
    assert np.abs(after - in_memory).max() < 1e-4
    assert np.abs(after - before).max() > 1e-2


def _lora_state(result):
    return {k: v.detach().clone() for k, v in result.models.unet.named_parameters() if "lora" in k}


def test_resume_continues_exactly_like_an_uninterrupted_run(base, examples, tmp_path):
    """Dropout (global RNG), gradient accumulation, warmup + cosine LR, EMA, SNR weighting, noise offset, flips,
    combined captions (encoded per batch) with caption dropout: 6 steps straight equal 3 steps, a stop (which keeps its checkpoint), and 3 resumed steps."""
    cfg = _cfg(
        base,
        method="lora",
        max_train_steps=6,
        gradient_accumulation_steps=2,
        lr_scheduler="cosine",
        lr_warmup_steps=2,
        ema=True,
        ema_decay=0.9,
        snr_gamma=5.0,
        noise_offset=0.05,
        random_flip=True,
        lora=LoraTrainConfig(dropout=0.2),
        checkpointing_steps=3,
        caption="combine",
        caption_dropout=0.3,
    )
    straight = train(cfg, examples, tmp_path / "straight", base_folder=base)
    steps: list[int] = []
    split = tmp_path / "split"
    first = train(
        cfg,
        examples,
        split,
        base_folder=base,
        on_step=lambda r: steps.append(r.step),
        should_stop=lambda: steps[-1] >= 3,
    )
    assert first.stopped and first.step == 3 and steps == [1, 2, 3]
    assert not (split / "pytorch_lora_weights.safetensors").exists()
    resumed = train(cfg, examples, split, base_folder=base, resume="latest")
    assert resumed.resumed_from == 3 and resumed.step == 6 and not resumed.stopped
    assert [r["loss"] for r in resumed.log] == [r["loss"] for r in straight.log]
    a, b = _lora_state(straight), _lora_state(resumed)
    assert a.keys() == b.keys() and len(a) > 0
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    for step in (3, 6):  # the optimizer (Adam moments), LR scheduler and EMA states match at the checkpoints too
        x, y = (load_checkpoint(run / "checkpoints" / f"checkpoint-{step}") for run in (tmp_path / "straight", split))
        for name in ("optimizer", "ema"):
            assert _max_difference(x.objects[name], y.objects[name]) < 1e-6, name
        assert x.objects["lr_scheduler"] == y.objects["lr_scheduler"]


def _max_difference(a, b) -> float:
    """Largest absolute difference between two nested state dicts (tensors compared, other leaves must be equal)."""
    if isinstance(a, torch.Tensor):
        return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return max((_max_difference(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        return max((_max_difference(x, y) for x, y in zip(a, b)), default=0.0)
    assert a == b
    return 0.0


def test_full_finetune_saves_and_reloads_bit_identically(base, examples, tmp_path):
    cfg = _cfg(
        base, method="full", prediction_type="v_prediction", snr_gamma=5.0, ema=True, ema_decay=0.5, learning_rate=1e-3
    )
    result = train(cfg, examples, tmp_path, base_folder=base)
    pipe = _fresh(tmp_path)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    trained = dict(result.models.unet.state_dict())
    reloaded = pipe.unet.state_dict()
    assert trained.keys() == reloaded.keys()
    assert all(torch.equal(trained[k], reloaded[k]) for k in trained)
    original = _fresh(base).unet.state_dict()
    assert any(not torch.equal(original[k], reloaded[k]) for k in original)
    np.testing.assert_array_equal(_render(pipe), _render(result.models.pipeline()))


def test_gradient_checkpointing_changes_memory_not_results(base, examples, tmp_path):
    plain = train(_cfg(base, method="full", max_train_steps=2), examples, tmp_path / "a", base_folder=base)
    cfg = _cfg(base, method="full", max_train_steps=2, gradient_checkpointing=True)
    checkpointed = train(cfg, examples, tmp_path / "b", base_folder=base)
    assert checkpointed.models.unet.is_gradient_checkpointing
    a, b = plain.models.unet.state_dict(), checkpointed.models.unet.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


def test_dreambooth_with_prior_preservation_renders_then_reuses_class_images(base, examples, tmp_path):
    dreambooth = DreamBoothConfig(num_class_images=2, class_inference_steps=2, class_guidance_scale=3.0)
    cfg = _cfg(base, method="dreambooth-lora", max_train_steps=2, dreambooth=dreambooth)
    train(cfg, examples, tmp_path, base_folder=base)
    polyp = sorted((tmp_path / "class_images" / "polyp").glob("*.png"))
    assert [p.name for p in polyp] == ["00000.png", "00001.png"]
    assert len(list((tmp_path / "class_images" / "instrument").glob("*.png"))) == 2
    assert (tmp_path / "pytorch_lora_weights.safetensors").is_file()
    expected = _render(_fresh(base), prompts=["an endoscopic image of polyp"] * 2, seeds=(0, 1))
    saved = np.stack([np.asarray(Image.open(p), dtype=np.float32) / 255 for p in polyp])
    assert np.abs(saved - expected).max() <= 1 / 255 + 1e-6  # the base model's renders of the class prompt
    stamps = [p.stat().st_mtime_ns for p in polyp]
    train(cfg, examples, tmp_path, base_folder=base)
    assert [p.stat().st_mtime_ns for p in polyp] == stamps  # reused, not rendered again


def test_dreambooth_needs_a_category_per_image(base, examples, tmp_path):
    unlabelled = [TrainExample(examples[0].image, examples[0].prompts)]
    with pytest.raises(ValueError, match="needs a category per training image"):
        train(_cfg(base, method="dreambooth-lora"), unlabelled, tmp_path, base_folder=base)


def test_bf16_keeps_trainable_weights_in_float32(base, examples, tmp_path):
    result = train(
        _cfg(base, method="lora", mixed_precision="bf16", max_train_steps=1), examples, tmp_path, base_folder=base
    )
    dtypes = {(("lora" in n), p.dtype) for n, p in result.models.unet.named_parameters()}
    assert dtypes == {(True, torch.float32), (False, torch.bfloat16)}
    assert np.isfinite(result.log[0]["loss"])


def test_fp16_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="fp16 mixed precision needs a CUDA device; use bf16 or no"):
        resolve_train_device("auto", "fp16")


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_snr_weights_follow_min_snr_gamma(prediction_type):
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type=prediction_type
    )
    timesteps = torch.tensor([0, 10, 100, 500, 999])
    alphas = scheduler.alphas_cumprod.double().numpy()[timesteps.numpy()]
    snr = alphas / (1 - alphas)
    expected = np.minimum(snr, 5.0) / (snr if prediction_type == "epsilon" else snr + 1)
    np.testing.assert_allclose(snr_loss_weights(scheduler, timesteps, 5.0).numpy(), expected, rtol=1e-5)


@pytest.fixture(scope="module")
def gi_sim_examples(tmp_path_factory):
    from promptopt.datasets.layouts import load_dataset
    from promptopt.sim.writer import write_dataset

    folder = tmp_path_factory.mktemp("gi-sim-vae") / "data"
    write_dataset(folder, 8, 32, 0, image_format="png")
    return [TrainExample(item.image, item.prompts) for item in load_dataset(folder).items]


def _vae_cfg(**changes):
    from promptopt.generators.training.config import ModelInitConfig, VaeInitConfig

    model = ModelInitConfig(vae=VaeInitConfig(block_out_channels=(32, 32)))
    defaults = {
        "method": "vae",
        "model": model,
        "resolution": 32,
        "train_batch_size": 4,
        "max_train_steps": 30,
        "learning_rate": 1e-3,
        "checkpointing_steps": 0,
        "device": "cpu",
    }
    return TrainConfig(**{**defaults, **changes})


def test_vae_learns_and_saves_an_autoencoder_that_reloads_identically(gi_sim_examples, tmp_path):
    from diffusers import AutoencoderKL

    from promptopt.generators.training.config import ValidationConfig
    from promptopt.generators.training.data import CaptionDataset, load_pixels
    from promptopt.generators.training.encode import Latents

    result = train(_vae_cfg(validation=ValidationConfig(steps=15)), gi_sim_examples, tmp_path)
    losses = [row["loss"] for row in result.log]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses
    validated = [row for row in result.log if "val_recon_mse" in row]
    assert [row["step"] for row in validated] == [15, 30]
    assert validated[1]["val_recon_mse"] < validated[0]["val_recon_mse"]
    grid = Image.open(tmp_path / "validation" / "step-30.png")
    assert grid.size == (2 * 32, 4 * 32)  # original | reconstruction, one row per fixed image

    vae = AutoencoderKL.from_pretrained(tmp_path, local_files_only=True).eval()
    trained = result.models.vae.eval()
    pixels = torch.stack([load_pixels(e.image, 32) for e in gi_sim_examples[:3]])
    with torch.no_grad():
        expected = trained.decode(trained.encode(pixels).latent_dist.mean).sample
        reloaded = vae.decode(vae.encode(pixels).latent_dist.mean).sample
    assert torch.equal(expected, reloaded)
    dataset = CaptionDataset(gi_sim_examples, resolution=32, seed=0)  # scaling factor: 1 / std of the latents
    estimate = Latents(trained, dataset, torch.device("cpu"), autocast=lambda: torch.autocast("cpu", enabled=False))
    assert vae.config.scaling_factor == pytest.approx(estimate.estimate_scaling_factor(), rel=1e-5)
    assert vae.config.scaling_factor != 1.0


def test_vae_resume_continues_exactly_like_an_uninterrupted_run(gi_sim_examples, tmp_path):
    cfg = _vae_cfg(
        max_train_steps=6,
        train_batch_size=2,
        gradient_accumulation_steps=2,
        lr_scheduler="cosine",
        lr_warmup_steps=2,
        ema=True,
        ema_decay=0.9,
        random_flip=True,
        vae_loss="mse",
        vae_kl_weight=1e-3,
        checkpointing_steps=3,
    )
    straight = train(cfg, gi_sim_examples, tmp_path / "straight")
    steps: list[int] = []
    split = tmp_path / "split"
    first = train(
        cfg, gi_sim_examples, split, on_step=lambda r: steps.append(r.step), should_stop=lambda: steps[-1] >= 3
    )
    assert first.stopped and first.step == 3 and not (split / "config.json").exists()
    resumed = train(cfg, gi_sim_examples, split, resume="latest")
    assert resumed.resumed_from == 3 and resumed.step == 6
    assert [r["loss"] for r in resumed.log] == [r["loss"] for r in straight.log]
    a, b = straight.models.vae.state_dict(), resumed.models.vae.state_dict()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    for step in (3, 6):
        x, y = (load_checkpoint(run / "checkpoints" / f"checkpoint-{step}") for run in (tmp_path / "straight", split))
        assert all(k.startswith("vae.") for k in x.weights)
        for name in ("optimizer", "ema"):
            assert _max_difference(x.objects[name], y.objects[name]) < 1e-6, name


def test_minilm_pipeline_saved_in_fp16_without_its_text_encoder_renders_through_the_loader(gi_sim_examples, tmp_path):
    """A MiniLM-conditioned model keeps no copy of the bundled encoder; fp16 files reload as the fp32 model."""
    from safetensors.torch import load_file

    from promptopt.generators.base import GeneratorConfig
    from promptopt.generators.bundled_text import MARKER
    from promptopt.generators.diffusers_generator import load_generator
    from promptopt.generators.training.config import ModelInitConfig, VaeInitConfig

    model = ModelInitConfig(block_out_channels=(32, 64), vae=VaeInitConfig(block_out_channels=(32, 32)))
    cfg = TrainConfig(
        method="full",
        model=model,
        resolution=32,
        train_batch_size=2,
        max_train_steps=1,
        checkpointing_steps=0,
        device="cpu",
        save_precision="fp16",
    )
    result = train(cfg, gi_sim_examples, tmp_path)
    assert (tmp_path / MARKER).is_file() and not (tmp_path / "text_encoder").exists()
    weights = load_file(tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in weights.values()} == {torch.float16}
    trained = result.models.unet.state_dict()
    assert all(torch.equal(weights[k], trained[k].half()) for k in trained)
    generator = load_generator(
        GeneratorConfig(model=str(tmp_path), device="cpu", height=32, width=32), cache_dir=tmp_path
    )
    assert type(generator.pipe.text_encoder).__name__ == "BertModel"
    assert generator.pipe.unet.dtype == torch.float32
    images = generator.render(["Generate an image containing a polyp."] * 2, [0, 1], guidance_scale=5.0, steps=2)
    assert [im.size for im in images] == [(32, 32)] * 2


def test_minilm_pipeline_fine_tunes_as_a_base_and_stays_without_its_text_encoder(gi_sim_examples, tmp_path):
    """gi-sim-tiny and other MiniLM-conditioned folders are valid `base` models for full and LoRA fine-tuning."""
    from diffusers import StableDiffusionPipeline

    from promptopt.generators.bundled_text import MARKER, bundled_components
    from promptopt.generators.training.config import ModelInitConfig, VaeInitConfig

    model = ModelInitConfig(block_out_channels=(32, 64), vae=VaeInitConfig(block_out_channels=(32, 32)))
    first = tmp_path / "first"
    train(
        TrainConfig(
            method="full",
            model=model,
            resolution=32,
            train_batch_size=2,
            max_train_steps=1,
            checkpointing_steps=0,
            device="cpu",
        ),
        gi_sim_examples,
        first,
    )
    for method in ("full", "lora"):
        out = tmp_path / method
        result = train(_cfg(first, method=method, max_train_steps=2), gi_sim_examples, out, base_folder=first)
        assert type(result.models.text_encoder).__name__ == "BertModel"
        assert [row["step"] for row in result.log] == [1, 2]
    assert (tmp_path / "full" / MARKER).is_file() and not (tmp_path / "full" / "text_encoder").exists()
    assert not any("_name_or_path" in c.read_text() for c in (tmp_path / "full").rglob("config.json"))
    tuned = StableDiffusionPipeline.from_pretrained(tmp_path / "full", **bundled_components(tmp_path / "full"))
    before = StableDiffusionPipeline.from_pretrained(first, **bundled_components(first))
    changed = [not torch.equal(a, b) for a, b in zip(tuned.unet.parameters(), before.unet.parameters())]
    assert any(changed)
    lora = StableDiffusionPipeline.from_pretrained(first, **bundled_components(first))
    lora.load_lora_weights(tmp_path / "lora")
