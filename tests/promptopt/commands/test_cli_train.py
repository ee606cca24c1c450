"""`promptopt train` on GI-sim images at 32×32: random init with MiniLM, LoRA with resume, bad input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from promptopt.cli import app

runner = CliRunner()
INIT_TOML = """
text_encoder = "minilm"
block_out_channels = [32, 64]
[vae]
block_out_channels = [32, 64]
"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def gi_sim(tmp_path_factory):
    from promptopt.sim.writer import write_dataset

    folder = tmp_path_factory.mktemp("gi-sim") / "data"
    write_dataset(folder, 16, 32, 0, image_format="png")
    return folder


def _invoke(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def _json(result):
    assert result.exit_code in (0, 130), result.output
    return json.loads(result.stdout)


def _denoising_losses(unets, pipe, dataset):
    """Mean ε-MSE of each UNet over every image at 4 fixed timesteps with fixed noise: a low-variance estimate."""
    from promptopt.generators.training.data import load_pixels
    from promptopt.generators.training.encode import encode_tokens, tokenize

    pixels = torch.stack([load_pixels(item.image, 32) for item in dataset.items])
    with torch.no_grad():
        latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
        embeds = encode_tokens(
            pipe.text_encoder, tokenize(pipe.tokenizer, [i.prompts[0] for i in dataset.items]), "cpu"
        )
        found = []
        for unet in unets:
            losses = []
            for t in (100, 350, 600, 850):
                noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(t))
                timesteps = torch.full((len(latents),), t)
                noisy = pipe.scheduler.add_noise(latents, noise, timesteps)
                losses.append(torch.mean((unet.eval()(noisy, timesteps, embeds).sample - noise) ** 2).item())
            found.append(sum(losses) / len(losses))
    return found


def test_random_init_with_minilm_learns_and_saves_a_loadable_pipeline(gi_sim, tmp_path):
    from diffusers import DDPMScheduler, DiffusionPipeline

    from promptopt.datasets.layouts import load_dataset
    from promptopt.generators.training.models import load_models
    from promptopt.train.setup import build_run_config

    init = tmp_path / "init.toml"
    init.write_text(INIT_TOML)
    out = tmp_path / "out"
    args = [
        "--init",
        init,
        "--data",
        gi_sim,
        "--out",
        out,
        "--resolution",
        32,
        "--batch-size",
        4,
        "--max-train-steps",
        30,
        "--learning-rate",
        2e-3,
        "--checkpointing-steps",
        0,
        "--json",
    ]
    summary = _json(_invoke(*args))
    assert summary["method"] == "full" and summary["step"] == 30 and summary["images"] == 16
    with (out / "training_log.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == list(range(1, 31))
    assert (out / "training_plot.png").stat().st_size > 0

    from promptopt.generators.bundled_text import bundled_components

    assert not (out / "text_encoder").exists() and not (out / "tokenizer").exists()  # no copy of bundled MiniLM
    pipe = DiffusionPipeline.from_pretrained(out, local_files_only=True, **bundled_components(out))
    assert type(pipe.text_encoder).__name__ == "BertModel" and pipe.unet.config.cross_attention_dim == 384
    pipe.set_progress_bar_config(disable=True)
    image = pipe(
        "an image with a polyp",
        num_inference_steps=2,
        height=32,
        width=32,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images[0]
    assert image.shape == (32, 32, 3) and image.std() > 0

    run = build_run_config(out / "train_config.toml", None, {})
    initial = load_models(run.train, None).unet
    pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    before, after = _denoising_losses([initial, pipe.unet], pipe, load_dataset(gi_sim))
    assert after < 0.75 * before, (before, after)


def test_lora_resume_latest_continues_from_the_checkpoint(gi_sim, tmp_path):
    out = tmp_path / "lora"
    common = [
        "--base",
        "tiny-random",
        "--data",
        gi_sim,
        "--out",
        out,
        "--resolution",
        32,
        "--batch-size",
        2,
        "--checkpointing-steps",
        2,
        "--json",
    ]
    first = _json(_invoke(*common, "--max-train-steps", 2))
    assert first["step"] == 2 and (out / "checkpoints" / "checkpoint-2" / "optimizer.pt").is_file()

    refused = _invoke(*common, "--max-train-steps", 4)
    assert refused.exit_code == 2 and "holds a different run" in refused.output and "max_train_steps" in refused.output

    second = _json(_invoke(*common, "--max-train-steps", 4, "--resume", "latest"))
    assert second["resumed_from"] == 2 and second["step"] == 4
    assert (out / "pytorch_lora_weights.safetensors").is_file()
    with (out / "training_log.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]
    assert "max_train_steps = 4" in (out / "train_config.toml").read_text()


def _bad_inputs(gi_sim, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metadata.jsonl").write_text("")
    broken = tmp_path / "run" / "checkpoints" / "checkpoint-3"
    broken.mkdir(parents=True)
    base = ["--base", "tiny-random", "--out", tmp_path / "run", "--resolution", 32]
    (tmp_path / "init.toml").write_text(INIT_TOML)
    cases = [
        ([*base, "--data", tmp_path / "missing"], "no such file or folder"),
        ([*base, "--data", empty], "lists no images"),
        ([*base, "--data", gi_sim, "--resume", broken], "is incomplete (missing state.json)"),
        (
            ["--base", "tiny-random", "--out", tmp_path / "fresh", "--data", gi_sim, "--resume", "latest"],
            "holds no checkpoint yet",
        ),
        ([*base, "--data", gi_sim, "--resolution", 30], "resolution must be a positive multiple of 8"),
        (
            [*base, "--data", gi_sim, "--device", "cpu", "--mixed-precision", "fp16"],
            "fp16 mixed precision needs a CUDA device; use bf16 or no",
        ),
        ([*base, "--data", gi_sim, "--lr-scheduler", "warmup"], "lr_scheduler must be one of"),
        (
            [*base, "--data", gi_sim, "--method", "textual-inversion"],
            "method must be one of full, lora, dreambooth-lora",
        ),
        (
            ["--base", tmp_path / "no-model", "--out", tmp_path / "run", "--data", gi_sim],
            "does not exist: check the path given to --base",
        ),
        (["--init", tmp_path / "none.toml", "--out", tmp_path / "run", "--data", gi_sim], "--init"),
        (["--out", tmp_path / "run", "--data", gi_sim], "no model: give base"),
        ([*base, "--init", tmp_path / "init.toml", "--data", gi_sim], "not both"),
    ]
    if not torch.cuda.is_available():
        cases.append(
            ([*base, "--data", gi_sim, "--mixed-precision", "fp16"], "fp16 mixed precision needs a CUDA device")
        )
    return cases


def test_bad_input_is_one_line_and_exit_2(gi_sim, tmp_path):
    for args, message in _bad_inputs(gi_sim, tmp_path):
        result = _invoke(*args)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, (args, result.output)
        assert lines[0].startswith("error: ") and message in lines[0], (args, lines[0])


def test_a_generators_value_error_is_bad_input_too(gi_sim, tmp_path):
    """A [lora] target module the UNet lacks is found by peft after the model loads; still one line, exit 2."""
    config = tmp_path / "train.toml"
    config.write_text('[lora]\ntarget_modules = ["no_such_projection"]\n')
    result = _invoke(
        "--config",
        config,
        "--base",
        "tiny-random",
        "--data",
        gi_sim,
        "--out",
        tmp_path / "run",
        "--resolution",
        32,
        "--json",
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith("error: ") and "no_such_projection" in result.output


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_130(gi_sim, tmp_path):
    out = tmp_path / "interrupted"
    args = [
        "train",
        "--base",
        "tiny-random",
        "--data",
        str(gi_sim),
        "--out",
        str(out),
        "--resolution",
        "32",
        "--max-train-steps",
        "100000",
        "--checkpointing-steps",
        "0",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "promptopt.cli", *args], env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.monotonic() + 120
    while not (out / "train_config.toml").is_file() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(10)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    assert len(list((out / "checkpoints").glob("checkpoint-*"))) == 1


def test_vae_method_trains_an_autoencoder_that_a_later_init_run_uses(gi_sim, tmp_path):
    from diffusers import AutoencoderKL, DiffusionPipeline

    init = tmp_path / "vae.toml"
    init.write_text("[vae]\nblock_out_channels = [32, 32]\n")
    vae_out = tmp_path / "vae"
    common = ["--data", gi_sim, "--resolution", 32, "--batch-size", 4, "--checkpointing-steps", 0, "--json"]
    summary = _json(
        _invoke(
            "--method",
            "vae",
            "--init",
            init,
            "--out",
            vae_out,
            "--max-train-steps",
            10,
            "--learning-rate",
            1e-3,
            "--validation-steps",
            5,
            *common,
        )
    )
    assert summary["method"] == "vae" and summary["step"] == 10 and summary["weights"] == "config.json"
    assert "val_recon_mse" in summary["last_validation"] and (vae_out / "validation" / "step-10.png").is_file()
    vae = AutoencoderKL.from_pretrained(vae_out, local_files_only=True)
    assert vae.config.scaling_factor != 1.0

    unet_init = tmp_path / "unet.toml"
    unet_init.write_text(
        f'text_encoder = "tiny-clip"\nblock_out_channels = [32, 64]\n[vae]\npretrained = "{vae_out}"\n'
    )
    pipe_out = tmp_path / "pipe"
    summary = _json(_invoke("--init", unet_init, "--out", pipe_out, "--max-train-steps", 2, *common))
    assert summary["method"] == "full" and summary["step"] == 2
    pipe = DiffusionPipeline.from_pretrained(pipe_out, local_files_only=True)
    assert pipe.vae.config.scaling_factor == vae.config.scaling_factor
    saved, trained = pipe.vae.state_dict(), vae.state_dict()
    assert all(torch.equal(saved[k], trained[k]) for k in trained)  # the trained VAE, frozen
