"""`promptopt train`: fine-tune (full, LoRA, DreamBooth-LoRA) or train from random init a text-to-image model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.output import print_json
from promptopt.commands.train_view import TrainView, console

# flag name → dotted key of the training config (`data.*` is the command's own [data] section)
FLAG_KEYS = {
    "method": "method", "base": "base", "resolution": "resolution", "max_train_steps": "max_train_steps",
    "batch_size": "train_batch_size", "gradient_accumulation_steps": "gradient_accumulation_steps",
    "learning_rate": "learning_rate", "lr_scheduler": "lr_scheduler", "lr_warmup_steps": "lr_warmup_steps",
    "mixed_precision": "mixed_precision", "gradient_checkpointing": "gradient_checkpointing",
    "snr_gamma": "snr_gamma", "noise_offset": "noise_offset", "prediction_type": "prediction_type", "ema": "ema",
    "checkpointing_steps": "checkpointing_steps", "checkpoints_total_limit": "checkpoints_total_limit",
    "seed": "seed", "device": "device", "cpu_threads": "cpu_threads", "caption": "caption",
    "caption_dropout": "caption_dropout", "rank": "lora.rank", "lora_alpha": "lora.alpha",
    "train_text_encoder": "lora.train_text_encoder", "instance_token": "dreambooth.token",
    "prior_preservation": "dreambooth.prior_preservation", "num_class_images": "dreambooth.num_class_images",
    "validation_steps": "validation.steps", "validation_prompt": "validation.prompts",
    "validation_seed": "validation.seeds", "data": "data.path", "gi_sim_images": "data.gi_sim_images",
    "category": "data.categories",
}  # fmt: skip


def train(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Output folder: weights, checkpoints/, validation/, log and plot."),
    data: Optional[str] = typer.Option(None, "--data", help="Dataset folder / CSV / metadata.jsonl, or gi-sim."),
    method: Optional[str] = typer.Option(None, "--method", help="full, lora (default), dreambooth-lora, vae."),
    base: Optional[str] = typer.Option(
        None, "--base", help="Model to fine-tune: gi-sim-tiny, tiny-random, a pipeline folder, or a cached hub id."
    ),
    init: Optional[Path] = typer.Option(
        None, "--init", help="TOML of a [model] to train from random init instead of --base."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Training TOML (e.g. a run's train_config.toml); flags override it."
    ),
    resume: Optional[str] = typer.Option(None, "--resume", help="latest, or a checkpoint-<step> folder."),
    max_train_steps: Optional[int] = typer.Option(None, "--max-train-steps", help="Optimizer steps in total."),
    resolution: Optional[int] = typer.Option(None, "--resolution", help="Training image size (a multiple of 8)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per micro-batch."),
    gradient_accumulation_steps: Optional[int] = typer.Option(None, "--gradient-accumulation-steps"),
    learning_rate: Optional[float] = typer.Option(None, "--learning-rate"),
    lr_scheduler: Optional[str] = typer.Option(None, "--lr-scheduler", help="constant, linear, cosine, …"),
    lr_warmup_steps: Optional[int] = typer.Option(None, "--lr-warmup-steps"),
    mixed_precision: Optional[str] = typer.Option(None, "--mixed-precision", help="no, bf16, or fp16 (CUDA only)."),
    gradient_checkpointing: Optional[bool] = typer.Option(None, "--gradient-checkpointing/--no-gradient-checkpointing"),
    snr_gamma: Optional[float] = typer.Option(None, "--snr-gamma", help="Min-SNR loss weighting (e.g. 5.0)."),
    noise_offset: Optional[float] = typer.Option(None, "--noise-offset"),
    prediction_type: Optional[str] = typer.Option(None, "--prediction-type", help="epsilon or v_prediction."),
    ema: Optional[bool] = typer.Option(None, "--ema/--no-ema", help="Keep (and save) an EMA of the weights."),
    checkpointing_steps: Optional[int] = typer.Option(None, "--checkpointing-steps", help="0: no checkpoints."),
    checkpoints_total_limit: Optional[int] = typer.Option(None, "--checkpoints-total-limit", help="0: keep all."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    cpu_threads: Optional[int] = typer.Option(
        None,
        "--cpu-threads",
        help="Torch threads on the CPU (default 0: torch's default; 1 helps on a busy shared machine).",
    ),
    caption: Optional[str] = typer.Option(
        None,
        "--caption",
        help="random (a random prompt per step), first, or combine (1 to caption_max_prompts joined).",
    ),
    caption_dropout: Optional[float] = typer.Option(
        None, "--caption-dropout", help='Probability of the empty caption "" (classifier-free guidance).'
    ),
    rank: Optional[int] = typer.Option(None, "--rank", help="LoRA rank."),
    lora_alpha: Optional[float] = typer.Option(None, "--lora-alpha"),
    train_text_encoder: Optional[bool] = typer.Option(None, "--train-text-encoder/--no-train-text-encoder"),
    instance_token: Optional[str] = typer.Option(None, "--instance-token", help="DreamBooth rare token."),
    prior_preservation: Optional[bool] = typer.Option(None, "--prior-preservation/--no-prior-preservation"),
    num_class_images: Optional[int] = typer.Option(None, "--num-class-images"),
    validation_steps: Optional[int] = typer.Option(
        None, "--validation-steps", help="Validate every N steps (0: never)."
    ),
    validation_prompt: Optional[list[str]] = typer.Option(None, "--validation-prompt", help="Repeatable."),
    validation_seed: Optional[list[int]] = typer.Option(None, "--validation-seed", min=0, help="Repeatable."),
    gi_sim_images: Optional[int] = typer.Option(None, "--gi-sim-images", help="Images of --data gi-sim."),
    category: Optional[list[str]] = typer.Option(
        None, "--category", help="DreamBooth categories, in order (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as JSON on stdout."),
) -> None:
    """Train a text-to-image model on captioned images.

    The model goes to --out: LoRA methods write pytorch_lora_weights.safetensors (load with pipe.load_lora_weights(out)); full fine-tuning
    and --init write a whole pipeline (DiffusionPipeline.from_pretrained(out)); --method vae --init writes an
    AutoencoderKL (AutoencoderKL.from_pretrained(out); use it as [model.vae] pretrained = "OUT"). Checkpoints go to
    out/checkpoints/; --resume latest continues exactly where one left off. Ctrl-C saves a checkpoint after the
    current step and exits with code 130.
    """
    from promptopt.train.run import train_model
    from promptopt.train.setup import build_run_config

    given = ctx.params  # the parsed options; empty repeatable ones count as not given
    flags = {
        key: (given[name] or None) if isinstance(given[name], list | tuple) else given[name]
        for name, key in FLAG_KEYS.items()
    }
    run = build_run_config(config, init, flags)
    check_writable(out)
    try:
        with TrainView(run.train.max_train_steps, quiet=as_json) as view:
            summary = train_model(run, out, resume=resume, on_step=view.on_step, on_status=view.on_status)
    except KeyboardInterrupt:
        typer.echo("aborted: the current step is lost; resume from the last checkpoint with --resume latest", err=True)
        raise typer.Exit(130) from None
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
    if summary["stopped"]:
        raise typer.Exit(130)


def _print_summary(summary: dict[str, object]) -> None:
    state = "stopped early (a checkpoint holds the state: rerun with --resume latest)" if summary["stopped"] else "done"
    loss = summary["final_loss"]
    console.print(
        f"train: {state}, step {summary['step']}, loss {loss:.4f} (mean of the last 10 steps)"
        if loss is not None
        else f"train: {state}"
    )
    if summary["left_out"]:
        console.print(f"{summary['left_out']} images show no chosen category and were left out")
    if summary["weights"]:
        console.print(f"weights: {Path(str(summary['out'])) / str(summary['weights'])}")
    console.print(f"log: {Path(str(summary['out'])) / 'training_log.csv'} (plot: training_plot.png)")
