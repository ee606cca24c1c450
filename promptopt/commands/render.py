"""`promptopt render`: render a prompt list with any diffusers model into a resumable imagefolder dataset."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

import typer

from promptopt.core.errors import InputError
from promptopt.datasets.prompt_files import DEFAULT_GUIDANCE, DEFAULT_STEPS


def parse_lora(value: str) -> dict[str, Any]:
    """`PATH` or `PATH:WEIGHT` (the weight is what follows the last colon when it is a number)."""
    path, _, weight = value.rpartition(":")
    try:
        return {"path": path, "weight": float(weight)} if path else {"path": value}
    except ValueError:
        return {"path": value}


def generator_config(study: Path | None, loras: list[str], **flags: Any) -> Any:
    """The study's [generator] (or the defaults) with the flags that were given; --lora replaces its adapters."""
    from promptopt.generators.base import GeneratorConfig, LoraAdapter

    base = GeneratorConfig()
    if study is not None:
        from promptopt.study.config import load_study

        base = load_study(study).generator
    changes = {k: v for k, v in flags.items() if v is not None}
    if loras:
        changes["loras"] = tuple(LoraAdapter(**parse_lora(value)) for value in loras)
    return dataclasses.replace(base, **changes)


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` → (I, N); InputError for anything else (the range is checked by RenderJob)."""
    i, sep, n = text.partition("/")
    if not (sep and i.strip().isdigit() and n.strip().isdigit()):
        raise InputError(f"--shard {text!r}: write I/N, for example 1/4 for the first of four shards")
    return int(i), int(n)


def render(
    prompts: Path = typer.Option(
        ...,
        "--prompts",
        help=".txt (one prompt a line), .csv with a 'prompt' column, .json (a list, or opg_prompts.json) or .jsonl.",
    ),
    out: Path = typer.Option(..., "--out", help="Output imagefolder: images/, metadata.jsonl, render_config.json."),
    n_per_prompt: int = typer.Option(1, "--n-per-prompt", "-k", help="Images per prompt."),
    seed: int = typer.Option(0, "--seed", min=0, help="Image j of prompt i uses a seed derived from (seed, i, j)."),
    steps: Optional[int] = typer.Option(
        None, "--steps", help=f"Denoising steps (default: the file's, else {DEFAULT_STEPS})."
    ),
    guidance: Optional[float] = typer.Option(
        None, "--guidance", help=f"Guidance scale (default: the file's, else {DEFAULT_GUIDANCE})."
    ),
    negative_prompt: Optional[str] = typer.Option(None, "--negative-prompt", help="Negative prompt for every image."),
    study: Optional[Path] = typer.Option(None, "--study", help="Take the generator settings from this study TOML."),
    model: Optional[str] = typer.Option(
        None, "--model", help="gi-sim-tiny (the default), tiny-random, a pipeline folder, .safetensors/.ckpt or hub id."
    ),
    model_config: Optional[str] = typer.Option(
        None, "--model-config", help="For a single-file --model: a diffusers pipeline folder with its configs."
    ),
    lora: list[str] = typer.Option([], "--lora", help="LoRA adapter PATH[:WEIGHT]; repeat for several."),
    fuse_lora: Optional[bool] = typer.Option(
        None, "--fuse-lora/--no-fuse-lora", help="Merge the adapters into the weights."
    ),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="default, ddim, euler, dpm++, unipc, …"),
    height: Optional[int] = typer.Option(None, "--height", help="Image height (a multiple of 8)."),
    width: Optional[int] = typer.Option(None, "--width", help="Image width (a multiple of 8)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per pipeline call."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="auto, float32, float16 or bfloat16."),
    attention_slicing: Optional[bool] = typer.Option(None, "--attention-slicing/--no-attention-slicing"),
    vae_tiling: Optional[bool] = typer.Option(None, "--vae-tiling/--no-vae-tiling"),
    compile_unet: Optional[bool] = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the denoiser (CUDA)."
    ),
    sampling: Optional[str] = typer.Option(
        None, "--sampling", help="plain, rerank (best of N by --clip-model) or clip-guided."
    ),
    clip_model: Optional[str] = typer.Option(None, "--clip-model", help="CLIP model spec for rerank / clip-guided."),
    shard: Optional[str] = typer.Option(
        None,
        "--shard",
        help="I/N: render only shard I of N (every N-th image), e.g. one per GPU; merge the "
        "shards' folders with promptopt data merge.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Render K images per prompt into an imagefolder dataset.

    Run the same command again to resume, or with a larger -k or more prompts to add images."""
    from promptopt.commands.folders import check_writable
    from promptopt.datasets.prompt_files import read_prompts, resolve_prompts
    from promptopt.render.imagefolder import RenderJob, check_settings

    cfg = generator_config(
        study,
        lora,
        model=model,
        single_file_config=model_config,
        fuse_lora=fuse_lora,
        scheduler=scheduler,
        height=height,
        width=width,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        attention_slicing=attention_slicing,
        vae_tiling=vae_tiling,
        compile=compile_unet,
        sampling=sampling,
        clip_model=clip_model,
    )
    specs = resolve_prompts(
        read_prompts(prompts), negative_prompt=negative_prompt, guidance_scale=guidance, steps=steps
    )
    job = RenderJob(specs, n_per_prompt, seed, cfg, parse_shard(shard) if shard else (1, 1))
    check_writable(out)
    check_settings(out, job)
    summary = _render(job, out, prompts_file=str(prompts))
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))


def _bar(console: Any) -> Any:
    """The render bar: images done, images/s, time elapsed and left; the summary line replaces it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]render"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} images/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console, transient=True)


def _render(job: Any, out: Path, *, prompts_file: str) -> dict[str, Any]:
    """Render with a spinner while the generator loads, a bar over the images, and a line at the end."""
    from rich.console import Console

    from promptopt.render.imagefolder import render_job

    console = Console(stderr=True)
    progress = _bar(console)
    task = progress.add_task("render", total=None, rate="-")

    def on_start(total: int, done: int) -> None:
        progress.update(task, total=total, completed=done)
        progress.start()  # after the loading spinner: one live display at a time

    def on_batch(n: int) -> None:
        progress.advance(task, n)
        speed = progress.tasks[task].speed
        progress.update(task, rate=f"{speed:.2f}" if speed else "-")

    def loading(message: str) -> Any:
        return console.status(message, spinner="dots")

    try:
        summary = render_job(job, out, prompts_file=prompts_file, phase=loading, on_start=on_start, on_batch=on_batch)
    finally:
        progress.stop()
    console.print(
        f"rendered {summary['written']} new images ({summary['skipped']} already there) at "
        f"{summary['images_per_second']:.2f} images/s into {out}",
        highlight=False,
    )
    return summary
