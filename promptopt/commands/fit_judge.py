"""`promptopt fit judge`: train the judge on a dataset, in the generator's image domain, and save it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from promptopt.commands.fit import check_out
from promptopt.commands.options import device_flag, holdout_option, json_option
from promptopt.commands.output import print_json, task_progress
from promptopt.core.errors import InputError

NO_AUTOENCODER = "none"


def judge(
    data: str = typer.Option(
        ...,
        "--data",
        help="gi-sim (simulated in memory, complete labels), a GI-sim folder (labels.jsonl) or a "
        "dataset folder (challenge layout or imagefolder: labels from the prompts, unknowns masked).",
    ),
    out: Path = typer.Option(..., "--out", help="Judge file to write, ending in .safetensors (.json beside it)."),
    autoencoder: str = typer.Option(
        "gi-sim-tiny",
        "--autoencoder",
        help="Generator whose VAE round trip puts training images in its domain: "
        "gi-sim-tiny, a diffusers pipeline folder, or none.",
    ),
    backbone: str = typer.Option("cnn", "--backbone", help="Trunk: cnn (a small CNN trained from scratch)."),
    gi_sim_images: int = typer.Option(
        16000, "--gi-sim-images", min=1, help="Images simulated for --data gi-sim (the shipped judge's 16,000)."
    ),
    gi_sim_seed: int = typer.Option(0, "--gi-sim-seed", min=0, help="GI-sim run for --data gi-sim."),
    rare_share: float = typer.Option(
        0.5,
        "--rare-share",
        min=0.0,
        max=1.0,
        help="Share of --data gi-sim images drawn rare-enriched (every scene, instrument, Paris type, size and "
        "colour alike), so that the rare attributes have positives to learn from.",
    ),
    domain_share: float = typer.Option(0.7, "--domain-share", help="Share of training images round-tripped."),
    size: int = typer.Option(64, "--size", help="Input size of the judge (images are resized to it)."),
    epochs: int = typer.Option(14, "--epochs", help="Passes over the training images."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images a training step."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate of the one-cycle schedule."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the split, the initialisation and the batches."),
    holdout: float = holdout_option(0.15, "Share of images held out: half calibrate, half measure."),
    device: str = typer.Option("cpu", "--device", help="Device of the autoencoder round trip: cpu, cuda, auto."),
    as_json: bool = json_option("the metrics"),
) -> None:
    """Fit the judge: every attribute a prompt can ask for.

    Presence, counts, sizes, Paris types, colours, locations, text, box, procedure; trained on images passed
    through the generator's autoencoder."""
    from promptopt.judge.fit import fit_judge_on, judge_data
    from promptopt.scorers.judge import JudgeConfig

    check_out(out)
    if backbone != "cnn":
        raise InputError(f"--backbone {backbone!r} is not a judge trunk: use cnn")
    if not 0.0 <= domain_share <= 1.0:
        raise InputError(f"--domain-share must be between 0 and 1, got {domain_share}")
    config = JudgeConfig(size=size, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    ae = _autoencoder(autoencoder, device_flag(device))
    with task_progress(quiet=as_json, transient=True) as progress:
        data_set = judge_data(
            data, n=gi_sim_images, size=size, seed=gi_sim_seed, rare_share=rare_share, progress=progress
        )
        try:
            model, metrics = fit_judge_on(
                data_set,
                ae,
                config,
                holdout=holdout,
                share=domain_share,
                on_epoch=lambda epoch, loss: progress(f"training (loss {loss:.4f})", epoch, epochs),
            )
        except ValueError as err:
            raise InputError(f"--holdout: {err}") from None
    model.save(out)
    kept = ("data", "autoencoder", "n_train", "n_test", "certification")
    summary = {
        "out": str(out),
        **{k: model.meta[k] for k in kept},
        "thresholds": dict(zip(model.outputs, model.threshold_array().tolist())),
        "uncertifiable": list(model.uncertifiable),
        **metrics,
    }
    if as_json:
        print_json(summary)
    else:
        _print(summary)


def _autoencoder(model: str, device: str) -> Any:
    if model == NO_AUTOENCODER:
        return None
    from promptopt.core.paths import cache_dir
    from promptopt.generators.autoencoder import Autoencoder
    from promptopt.generators.errors import ModelNotFoundError

    try:
        return Autoencoder(model, cache_dir(), device)
    except ModelNotFoundError as err:
        raise InputError(f"--autoencoder: {err}") from None


def _print(s: dict[str, Any]) -> None:
    ae = s["autoencoder"]["model"] if s["autoencoder"] else "no autoencoder"
    typer.echo(f"judge fitted on {s['n_train']} images of {s['data']['source']} ({ae}); measured on {s['n_test']}")
    typer.echo(f"{'head':<24} {'macro AUROC':>11} {'weakest output':>34} {'accuracy':>8} {'ECE':>6}")
    for head, h in s["heads"].items():
        if h["macro_auroc"] is None:
            typer.echo(f"{head:<24} {'-':>11} {'(no output with both classes)':>34}")
            continue
        weakest = f"{h['weakest']} {h['weakest_auroc']:.3f}"
        typer.echo(f"{head:<24} {h['macro_auroc']:>11.3f} {weakest:>34} {h['accuracy']:>8.3f} {h['ece']:>6.4f}")
    typer.echo(f"expected calibration error {s['ece']:.4f} (development frequencies); saved {s['out']}")
    bar = s["certification"]["bar"]
    for name, m in s["certification"]["outputs"].items():
        if name in s["uncertifiable"]:
            typer.echo(f"uncertifiable: {name}: {_shortfall(m, bar)}; what this judge says of it is not evidence")


def _shortfall(m: dict[str, Any], bar: dict[str, float]) -> str:
    """Why an output misses the certification bar, on the held-out test images."""
    if m["n_present"] < bar["positives"]:
        return f"{m['n_present']} positive(s) held out, fewer than the {bar['positives']} needed to tell"
    precision, recall = m["precision"] or 0.0, m["recall"] or 0.0
    return (
        f"precision {precision:.2f}, recall {recall:.2f} at threshold {m['threshold']:.2f} "
        f"(the bar: {bar['precision']} and {bar['recall']})"
    )
